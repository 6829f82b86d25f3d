"""S3 reads and writes for the worker: ranged reads for the EXIF extractor, bounded downloads, JSON puts.

Reads pin the exact bytes that were listed (VersionId, else If-Match on the ETag), so EXIF, labels and
the stored ETag always describe one and the same object.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from job.core.manifest import ObjectRef, split_s3_uri
from job.core.ordering import iso_time


class ObjectChanged(Exception):
    """The object no longer has the listed ETag/version: a newer write owns this key now."""


class ObjectGone(Exception):
    """The object was deleted after it was listed."""


class TooLarge(Exception):
    """The object is larger than we are willing to download."""


def strip_etag(etag: str | None) -> str | None:
    """S3 quotes ETags in headers and listings; store and compare them bare."""
    return etag.strip().strip('"') if etag else None


def _pin(ref: ObjectRef) -> dict[str, str]:
    args = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id and ref.version_id != "null":
        args["VersionId"] = ref.version_id
    elif ref.etag:
        args["IfMatch"] = f'"{strip_etag(ref.etag)}"'
    return args


def _raise_mapped(exc: ClientError) -> None:
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("PreconditionFailed",) or status == 412:
        raise ObjectChanged(str(exc)) from exc
    if code in ("NoSuchKey", "NoSuchVersion", "404") or status == 404:
        raise ObjectGone(str(exc)) from exc
    raise exc


@dataclass
class ObjectFacts:
    """What a GET told us about the object, filled in by the first read."""

    etag: str | None = None
    size: int | None = None
    last_modified: str | None = None
    version_id: str | None = None
    content_type: str | None = None


@dataclass
class RangeReader:
    """`read(start, end)` for exif.extract over S3 ranged GETs; counts calls and bytes, records facts."""

    client: Any
    ref: ObjectRef
    facts: ObjectFacts = field(default_factory=ObjectFacts)
    calls: int = 0
    bytes_read: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        try:
            response = self.client.get_object(**_pin(self.ref), Range=f"bytes={start}-{end - 1}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "InvalidRange":  # start is past the end of the object
                return b""
            _raise_mapped(exc)
            raise
        with response["Body"] as body:
            data = body.read()
        with self._lock:
            self.calls += 1
            self.bytes_read += len(data)
            self._learn(response)
        return data

    def _learn(self, response: dict) -> None:
        self.facts.etag = strip_etag(response.get("ETag")) or self.facts.etag
        content_range = response.get("ContentRange") or ""
        if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
            self.facts.size = int(content_range.rsplit("/", 1)[1])
        elif self.facts.size is None and response.get("ContentLength") is not None and not content_range:
            self.facts.size = int(response["ContentLength"])
        if response.get("LastModified"):
            self.facts.last_modified = iso_time(response["LastModified"])
        if response.get("VersionId"):
            self.facts.version_id = response["VersionId"]
        self.facts.content_type = response.get("ContentType") or self.facts.content_type


def get_bytes(client: Any, ref: ObjectRef, max_bytes: int) -> bytes:
    """The whole object, pinned like the ranged reads; refuses objects over max_bytes."""
    if ref.size is not None and ref.size > max_bytes:
        raise TooLarge(f"object is {ref.size} bytes, over the {max_bytes}-byte download limit")
    try:
        response = client.get_object(**_pin(ref))
    except ClientError as exc:
        _raise_mapped(exc)
        raise
    if int(response.get("ContentLength") or 0) > max_bytes:
        response["Body"].close()
        raise TooLarge(
            f"object is {response['ContentLength']} bytes, over the {max_bytes}-byte download limit"
        )
    with response["Body"] as body:
        return body.read()


def head(client: Any, ref: ObjectRef) -> ObjectFacts:
    """ETag, size, LastModified and version of the object the ref names."""
    args = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id and ref.version_id != "null":
        args["VersionId"] = ref.version_id
    try:
        response = client.head_object(**args)
    except ClientError as exc:
        _raise_mapped(exc)
        raise
    return ObjectFacts(
        etag=strip_etag(response.get("ETag")),
        size=response.get("ContentLength"),
        last_modified=iso_time(response["LastModified"]) if response.get("LastModified") else None,
        version_id=response.get("VersionId"),
        content_type=response.get("ContentType"),
    )


def put_json(client: Any, uri: str, document: Any) -> str:
    """Write a JSON document to an s3:// URI; returns the URI."""
    bucket, key = split_s3_uri(uri)
    body = json.dumps(document, indent=1, default=str, ensure_ascii=False).encode()
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return uri
