"""Where a child's images come from: a prefix split by stable hash, a manifest shard, or S3 Inventory.

Every source yields `ObjectRef`s lazily, so a child with a million keys never holds them all.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from job import manifest as manifest_format
from job.errors import ConfigError
from job.manifest import ObjectRef, split_s3_uri
from job.ordering import iso_time
from job.s3 import strip_etag

log = logging.getLogger(__name__)

_CONFIG_CODES = {"NoSuchBucket", "NoSuchKey", "AccessDenied", "AllAccessDisabled", "InvalidBucketName", "404"}


def stable_shard(key: str, shards: int) -> int:
    """The child that owns `key`: the same in every process and Python version (never hash())."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(frozen=True)
class Plan:
    """What kind of source this child reads and how much of it; logged at start."""

    kind: str  # prefix | manifest | inventory
    bucket: str
    key: str
    detail: dict


def _config_error(exc: ClientError, what: str) -> ConfigError | None:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in _CONFIG_CODES:
        return ConfigError(f"{what}: {code}: {exc.response.get('Error', {}).get('Message', '')}")
    return None


def _get(s3: Any, bucket: str, key: str, what: str) -> bytes:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        with response["Body"] as body:
            return body.read()
    except ClientError as exc:
        mapped = _config_error(exc, f"{what} s3://{bucket}/{key}")
        if mapped:
            raise mapped from exc
        raise


def iter_prefix(s3: Any, bucket: str, prefix: str, index: int, shards: int) -> Iterator[ObjectRef]:
    """Every object under the prefix whose key hashes to this child."""
    paginator = s3.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", ()):
                key = obj["Key"]
                if key.endswith("/") or stable_shard(key, shards) != index:
                    continue
                yield ObjectRef(
                    bucket=bucket,
                    key=key,
                    etag=strip_etag(obj.get("ETag")),
                    size=obj.get("Size"),
                    last_modified=iso_time(obj["LastModified"]) if obj.get("LastModified") else None,
                )
    except ClientError as exc:
        mapped = _config_error(exc, f"listing s3://{bucket}/{prefix}")
        if mapped:
            raise mapped from exc
        raise


def iter_manifest(s3: Any, bucket: str, key: str, data: bytes, position: int) -> Iterator[ObjectRef]:
    """Shard `position` of a bucketlens manifest; nothing when the array is larger than the manifest."""
    manifest = manifest_format.Manifest.from_json(data)
    name = manifest_format.shard_key(key, manifest, position)
    if name is None:
        log.warning(
            "no shard for this child", extra={"position": position, "shard_count": len(manifest.shards)}
        )
        return
    yield from manifest_format.decode_shard(_get(s3, bucket, name, "manifest shard"))


def iter_inventory(s3: Any, data: bytes, index: int, shards: int) -> Iterator[ObjectRef]:
    """This child's part of an S3 Inventory report: whole data files when there are enough of them to go
    round, else every child reads every file and keeps the rows that hash to it."""
    from job import inventory

    report = inventory.parse_inventory_manifest(data)
    files = list(report.files)
    by_file = len(files) >= shards
    for number, entry in enumerate(files):
        if by_file and number % shards != index:
            continue
        raw = _get(s3, report.destination_bucket, entry["key"], "inventory data file")
        gz = entry["key"].endswith(".gz")
        for row in inventory.iter_inventory_rows(io.BytesIO(raw), list(report.file_schema), gz):
            ref = _as_ref(row, report.source_bucket)
            if ref is None or (not by_file and stable_shard(ref.key, shards) != index):
                continue
            yield ref


def _as_ref(row: Any, default_bucket: str) -> ObjectRef | None:
    """An inventory row as an ObjectRef; delete markers and old versions are not work."""
    get = row.get if isinstance(row, dict) else lambda name, default=None: getattr(row, name, default)
    if str(get("is_delete_marker", "") or "").lower() == "true" or get("is_delete_marker") is True:
        return None
    latest = get("is_latest", None)
    if latest is not None and str(latest).lower() == "false":
        return None
    if isinstance(row, ObjectRef):
        return ObjectRef(
            bucket=row.bucket or default_bucket,
            key=row.key,
            version_id=row.version_id,
            etag=strip_etag(row.etag),
            size=row.size,
            last_modified=iso_time(row.last_modified) if row.last_modified else None,
            sequencer=row.sequencer,
        )
    size = get("size")
    modified = get("last_modified") or get("last_modified_date")
    return ObjectRef(
        bucket=get("bucket") or default_bucket,
        key=get("key"),
        version_id=get("version_id") or None,
        etag=strip_etag(get("etag") or get("e_tag")),
        size=int(size) if size not in (None, "") else None,
        last_modified=iso_time(modified) if modified else None,
    )


def open_source(
    s3: Any, uri: str, index: int, shards: int, shard_offset: int
) -> tuple[Plan, Iterator[ObjectRef]]:
    """Decide what SOURCE is and return this child's refs; ConfigError for sources no retry can fix."""
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if index >= shards and not key.endswith(".json"):
        log.warning("index is not below --shards; this child has no work", extra={"index": index})
        return Plan("prefix", bucket, key, {"shards": shards, "empty": True}), iter(())
    if key.endswith(".json"):
        data = _get(s3, bucket, key, "source manifest")
        if manifest_format.is_manifest(data):
            position = shard_offset + index
            plan = Plan("manifest", bucket, key, {"shard": position})
            return plan, iter_manifest(s3, bucket, key, data, position)
        from job import inventory

        if inventory.is_inventory_manifest(data):
            if index >= shards:
                return Plan("inventory", bucket, key, {"shards": shards, "empty": True}), iter(())
            return Plan("inventory", bucket, key, {"shards": shards}), iter_inventory(s3, data, index, shards)
        raise ConfigError(f"{uri} is neither a bucketlens manifest nor an S3 Inventory manifest")
    return Plan("prefix", bucket, key, {"shards": shards}), iter_prefix(s3, bucket, key, index, shards)
