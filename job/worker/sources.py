"""Where a child's images come from: a prefix split by stable hash, a manifest shard, or S3 Inventory.

Every source yields `ObjectRef`s lazily, so a child with a million keys never holds them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from job.core import manifest as manifest_format
from job.core.errors import ConfigError
from job.core.manifest import ObjectRef, split_s3_uri
from job.core.ordering import iso_time
from job.worker.s3 import strip_etag

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


def identity_of(s3: Any, uri: str, what: str) -> str:
    """The object's ETag and version (one HEAD): what a process that loaded it compares before loading it
    again; a missing object or bucket, or no permission, is a ConfigError."""
    bucket, key = split_s3_uri(uri)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NotFound"):  # a HEAD's 404 has no body
            raise ConfigError(f"{what} {uri}: NoSuchKey: the object is not there") from exc
        mapped = _config_error(exc, f"{what} {uri}")
        if mapped:
            raise mapped from exc
        raise
    return f"{strip_etag(head.get('ETag'))}:{head.get('VersionId') or ''}"


def read_uri(s3: Any, uri: str, what: str) -> bytes:
    """The whole object at an s3:// URI; a missing object or bucket, or no permission, is a ConfigError."""
    bucket, key = split_s3_uri(uri)
    return _get(s3, bucket, key, what)


def _open(s3: Any, bucket: str, key: str, what: str) -> Any:
    """A streaming body (caller closes it)."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"]
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


def read_manifest_shard(
    s3: Any, bucket: str, key: str, data: bytes, position: int
) -> tuple[list[ObjectRef], dict]:
    """Shard `position` of a bucketlens manifest (a shard is small: submitters write ~1,000 refs), and
    what to log about it; nothing when the array is larger than the manifest."""
    try:
        manifest = manifest_format.Manifest.from_json(data)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"bucketlens manifest s3://{bucket}/{key}: {exc}") from exc
    detail = {"shard": position, "shard_count": len(manifest.shards), "manifest_total": manifest.total}
    name = manifest_format.shard_key(key, manifest, position)
    if name is None:
        log.warning("no shard for this child", extra=detail)
        return [], {**detail, "shard_size": 0}
    try:
        refs = list(manifest_format.decode_shard(_get(s3, bucket, name, "manifest shard")))
    except (ValueError, OSError, EOFError) as exc:  # gzip/JSON damage: a retry reads the same bytes
        raise ConfigError(f"manifest shard s3://{bucket}/{name}: {exc}") from exc
    return refs, {**detail, "shard_size": len(refs)}


def iter_inventory(
    s3: Any, data: bytes, index: int, shards: int, extensions: Any = None
) -> Iterator[ObjectRef]:
    """This child's part of an S3 Inventory report: whole data files when there are enough of them to go
    round, else every child reads every file and keeps the rows that hash to it. Data files are
    streamed, so a report of millions of rows never sits in memory. `extensions`: keep only those keys."""
    from job.core import inventory

    try:
        report = inventory.parse_inventory_manifest(data)
    except ValueError as exc:
        raise ConfigError(f"inventory manifest: {exc}") from exc
    by_file = len(report.files) >= shards
    for number, entry in enumerate(report.files):
        if by_file and number % shards != index:
            continue
        body = _open(s3, report.destination_bucket, entry["key"], "inventory data file")
        try:
            for ref in inventory.iter_data_file(body, report, entry["key"], extensions):
                if by_file or stable_shard(ref.key, shards) == index:
                    yield _normalized_ref(ref)
        except (ValueError, EOFError, OSError, UnicodeDecodeError) as exc:  # a corrupt report, not a blip
            raise ConfigError(
                f"inventory data file s3://{report.destination_bucket}/{entry['key']}: {exc}"
            ) from exc
        finally:
            body.close()


def _count_files(data: bytes) -> int | None:
    try:
        return len(json.loads(data).get("files", ()))
    except (ValueError, AttributeError):
        return None


def _normalized_ref(ref: ObjectRef) -> ObjectRef:
    return ObjectRef(
        bucket=ref.bucket,
        key=ref.key,
        version_id=ref.version_id or None,
        etag=strip_etag(ref.etag),
        size=ref.size,
        last_modified=iso_time(ref.last_modified) if ref.last_modified else None,
        sequencer=ref.sequencer,
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
            refs, detail = read_manifest_shard(s3, bucket, key, data, position)
            return Plan("manifest", bucket, key, detail), iter(refs)
        from job.core import inventory

        if inventory.is_inventory_manifest(data):
            position = shard_offset + index  # jobs of more than 10,000 children start at an offset
            if position >= shards:
                return Plan("inventory", bucket, key, {"shards": shards, "empty": True}), iter(())
            detail = {"shards": shards, "position": position, "data_files": _count_files(data)}
            return Plan("inventory", bucket, key, detail), iter_inventory(s3, data, position, shards)
        raise ConfigError(f"{uri} is neither a bucketlens manifest nor an S3 Inventory manifest")
    return Plan("prefix", bucket, key, {"shards": shards}), iter_prefix(s3, bucket, key, index, shards)
