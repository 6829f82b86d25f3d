"""A prefix listed page by page into ObjectRefs, so a backfill of millions of keys streams."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from job.core.inventory import is_image_key, normalize_extensions
from job.core.manifest import ObjectRef
from job.core.ordering import iso_time


def iter_listing(
    s3: Any, bucket: str, prefix: str, extensions: Iterable[str], page_size: int = 1000
) -> Iterator[ObjectRef]:
    """Images under the prefix, a zero-byte one too (its result is a recorded EmptyFile error);
    ListObjectsV2 returns only current versions."""
    suffixes = normalize_extensions(extensions)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        for obj in page.get("Contents", ()):
            if not is_image_key(obj["Key"], suffixes):
                continue
            etag = obj.get("ETag")
            yield ObjectRef(
                bucket=bucket,
                key=obj["Key"],
                etag=etag.strip('"') if etag else None,
                size=obj.get("Size"),
                last_modified=iso_time(obj["LastModified"]) if obj.get("LastModified") else None,
            )
