"""Where an image's preview lives: a small upright JPEG beside the results, named by the object's identity
(bucket, key, ETag), so the worker that writes it, a rerun and the report agree without a lookup, and a
changed image gets a new one."""

from __future__ import annotations

import hashlib

from job.core.manifest import split_s3_uri

PREFIX = "thumbnails"


def name(bucket: str, key: str, etag: str | None) -> str:
    """`thumbnails/<sha256 of bucket, key and ETag>.jpg`."""
    digest = hashlib.sha256(f"{bucket}\0{key}\0{etag or ''}".encode()).hexdigest()
    return f"{PREFIX}/{digest}.jpg"


def location(results_uri: str | None) -> str | None:
    """The bucket the previews go to: the results URI's (s3://bucket/runs -> bucket); None without one."""
    try:
        return split_s3_uri(results_uri)[0] if results_uri else None
    except ValueError:
        return None
