"""Exit codes and the two failure kinds that decide them (the Batch retry strategy keys on these)."""

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: Batch retries the child; the retry skips what is done
EXIT_CONFIG = 78  # EX_CONFIG: retrying cannot help (missing table, bad source)


class ConfigError(Exception):
    """A setting or resource is wrong; retrying will not fix it."""


class TransientError(Exception):
    """Work remains that a later attempt can finish."""
