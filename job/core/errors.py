"""Exit codes, the two failure kinds that decide them (the Batch retry strategy keys on these), and the one
rule every command applies to a failure it did not handle: 78 with the fix when no retry can help, 75 when
a retry can, never a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SOFTWARE = 70  # EX_SOFTWARE: a bug of ours; the log line says what, --log-level DEBUG shows where
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: Batch retries the child; the retry skips what is done
EXIT_CONFIG = 78  # EX_CONFIG: retrying cannot help (missing table, bad source)

# AWS error codes no retry can cure, with what to do about each
CONFIG_CODES: dict[str, str] = {
    "NoSuchBucket": "the bucket does not exist (or not in this account and region)",
    "InvalidBucketName": "give the bucket's name (my-images), not an s3:// URI",
    "NoSuchKey": "the object does not exist: check the URI",
    "ResourceNotFoundException": "the table, queue or job does not exist here: check the region and "
    "the name, or deploy first (make deploy, or python -m job setup locally)",
    "AccessDenied": "these credentials may not do this: see docs/deployment.md, Least privilege",
    "AccessDeniedException": "these credentials may not do this: see docs/deployment.md, Least privilege",
    "UnrecognizedClientException": "the credentials are not valid for this account: check AWS_PROFILE",
    "InvalidClientTokenId": "the credentials are not valid: check AWS_PROFILE or AWS_ACCESS_KEY_ID",
    "InvalidAccessKeyId": "the credentials are not valid: check AWS_PROFILE or AWS_ACCESS_KEY_ID",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check the credentials",
    "ExpiredToken": "the session expired: sign in again (aws sso login)",
    "ExpiredTokenException": "the session expired: sign in again (aws sso login)",
    "AuthorizationHeaderMalformed": "the region does not match the bucket's: set AWS_REGION to it",
    "PermanentRedirect": "the bucket is in another region: set AWS_REGION to the bucket's region",
    "ValidationException": "a name or value was refused: check the options",
    "ClientException": "Batch refused the request: check the job queue and definition names",
}
NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
NO_REGION = "no AWS region: set AWS_REGION and AWS_DEFAULT_REGION (or region in ~/.aws/config)"


class ConfigError(Exception):
    """A setting or resource is wrong; retrying will not fix it."""


class TransientError(Exception):
    """Work remains that a later attempt can finish."""


def failure(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line that says what happened and what to do) for a failure nothing else handled."""
    from botocore import exceptions as bx

    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, TransientError):
        return EXIT_TRANSIENT, str(exc)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.ProfileNotFound)):
        return EXIT_CONFIG, f"{NO_CREDENTIALS} ({exc})"
    if isinstance(exc, bx.NoRegionError):
        return EXIT_CONFIG, NO_REGION
    if isinstance(exc, bx.ParamValidationError):
        hint = "; give a bucket's name, not an s3:// URI" if "s3://" in str(exc) else ""
        return EXIT_CONFIG, f"invalid parameter: {exc}{hint}"
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), error.get("Message") or str(exc)
        what = f"{code} from {getattr(exc, 'operation_name', 'AWS')}: {message}"
        if code in CONFIG_CODES:
            return EXIT_CONFIG, f"{what} ({CONFIG_CODES[code]})"
        return EXIT_TRANSIENT, f"{what} (a retry may succeed)"
    if isinstance(exc, bx.BotoCoreError):  # connection failures, timeouts: the network, not the settings
        return EXIT_TRANSIENT, f"{type(exc).__name__}: {exc} (a retry may succeed)"
    return EXIT_SOFTWARE, f"internal error {type(exc).__name__}: {exc} (--log-level DEBUG shows where)"
