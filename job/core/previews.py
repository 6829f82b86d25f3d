"""Where an image's preview lives: a small upright JPEG beside the results, named by the object's identity
(bucket, key, ETag), so the worker that writes it, a rerun and the report agree without a lookup, and a
changed image gets a new one."""

from __future__ import annotations

import hashlib

PREFIX = "thumbnails"


def name(bucket: str, key: str, etag: str | None) -> str:
    """`thumbnails/<sha256 of bucket, key and ETag>.jpg`."""
    digest = hashlib.sha256(f"{bucket}\0{key}\0{etag or ''}".encode()).hexdigest()
    return f"{PREFIX}/{digest}.jpg"


def location(results_uri: str | None) -> str | None:
    """The bucket the previews go to: the results URI's (s3://bucket/runs -> bucket); None without one."""
    if not results_uri or not results_uri.startswith("s3://"):
        return None
    return results_uri[len("s3://") :].split("/", 1)[0] or None


def split(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key
