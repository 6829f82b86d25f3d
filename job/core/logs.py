"""Structured JSON log lines, one object per line, so CloudWatch Logs Insights can query them."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RESERVED and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the call (pytest and tools swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


_pinned: logging.Handler | None = None  # where every line goes, whatever configures later (the demo's file)


def pin_to_file(path: Any, level: str = "INFO") -> None:
    """Every log line, from here on, to this file as JSON at `level`, however often `configure` runs after
    (the demo runs the Lambda's handler in its own process, and importing it configures the Lambda's)."""
    global _pinned
    _pinned = None
    configure(level, open(path, "a", encoding="utf-8"))  # noqa: SIM115 - the process's log, open to the end
    _pinned = logging.getLogger().handlers[0]


def unpin(level: str = "WARNING") -> None:
    """Close the pinned file and log to stderr again."""
    global _pinned
    if _pinned is not None:
        _pinned.close()
    _pinned = None
    configure(level)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send every log line to stderr as JSON (stdout stays free for command output)."""
    if _pinned is not None:
        return
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # opensearch-py logs every failed request as a WARNING with its traceback; our own line says what failed
    logging.getLogger("opensearch").setLevel(logging.ERROR)
