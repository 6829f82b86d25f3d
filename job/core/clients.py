"""The one place that makes boto3 clients: timeouts, retry mode and pool size are set here."""

from __future__ import annotations

import functools
import os

import boto3
from botocore.config import Config

from job.core import errors

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60


@functools.cache
def _session() -> boto3.session.Session:
    """AWS_REGION first (what Lambda, Batch and the other SDKs set), then botocore's own chain."""
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    if not session.region_name:  # S3 would silently go to the global endpoint, Batch would fail later
        raise errors.ConfigError(errors.NO_REGION)
    return session


@functools.cache
def client(service: str, pool: int = 10, max_attempts: int = 8):
    """A cached client; endpoint and credentials come from the standard AWS variables (AWS_ENDPOINT_URL)."""
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        max_pool_connections=pool,
        retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard"), "max_attempts": max_attempts},
        s3={"addressing_style": "path"} if service == "s3" and os.environ.get("AWS_ENDPOINT_URL") else None,
        # presigned URLs (report --html) must be SigV4: v2 is refused in newer regions and for KMS objects
        signature_version="s3v4" if service == "s3" else None,
    )
    return _session().client(service, config=config)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    _session.cache_clear()
