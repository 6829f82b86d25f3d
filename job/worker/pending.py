"""Results Rekognition was already paid for but the table would not take: kept in S3 for the rerun.

When DynamoDB fails longer than a child's retry budget, the child exits 75 and Batch retries it. The
retry (same job id and index) replays these items with the usual conditional write before it reads its
shard, so the images they cover are skipped instead of being labelled, and billed, a second time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from job.core import store
from job.core.manifest import split_s3_uri


def pending_uri(results_uri: str, job_id: str, index: int) -> str:
    return f"{results_uri.rstrip('/')}/{job_id}/{index}.pending.json"


def encode(items: Iterable[Mapping[str, Any]]) -> bytes:
    """DynamoDB's typed JSON keeps Decimals exact (plain JSON would turn them into floats or strings)."""
    return json.dumps([store.serialize(item) for item in items], ensure_ascii=False).encode()


def decode(body: bytes) -> list[dict]:
    return [store.deserialize(raw) for raw in json.loads(body)]


def save(s3: Any, uri: str, items: list[Mapping[str, Any]]) -> None:
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=encode(items), ContentType="application/json")


def load(s3: Any, uri: str) -> list[dict]:
    """The items an earlier attempt left; empty when there are none."""
    bucket, key = split_s3_uri(uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return []
        raise
    with response["Body"] as body:
        return decode(body.read())


def clear(s3: Any, uri: str) -> None:
    bucket, key = split_s3_uri(uri)
    s3.delete_object(Bucket=bucket, Key=key)
