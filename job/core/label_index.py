"""The label index: "images with label L at confidence >= C" as a few DynamoDB Queries, no scan, for a
bucket of any size.

A second table `<results table>-label-index` holds one row per (label, image). Its partition key is the
label and a shard, `car#07` (the shard is a hash of the image's `bucket/key`, SHARDS of them); its sort key
is the confidence, zero-padded, then the image, `099.1234#bucket/key`, so each shard's rows are already in
confidence order and "at >= C" is a key condition. There is no local secondary index, so no partition key
is capped at 10 GB (an LSI's item-collection limit stopped a label at about 15 M images), and a label's
writes spread over SHARDS partitions. Labels are keyed in lower case (a search for "car" finds "Car");
custom labels as `custom:<name>`. The global secondary index `by_ref` finds an image's rows (with their
ETag) when its labels change or it is deleted.

The results table stays the truth: rows are written after a result write won, and a search checks every
hit against the results table, so a row left behind by two racing writers is never shown. Boto3 only:
the submitter's zip carries this module (tombstones remove an image's rows).
"""

from __future__ import annotations

import heapq
import logging
import time
import zlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

SUFFIX = "-label-index"
BY_REF = "by_ref"
CUSTOM_PREFIX = "custom:"
WRITE_ROUNDS = 5
# A label's rows spread over this many partition keys: the commonest label of a 64-child backfill at a
# 1,000 TPS quota writes 1,000 rows/s, 63 per shard, far under DynamoDB's 1,000 WCU/s per partition; a
# search reads SHARDS Queries and merges them. Part of the stored format: changing it needs a reindex.
SHARDS = 16

TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "ref", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": BY_REF,
            "KeySchema": [{"AttributeName": "ref", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["etag"]},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def table_name(results_table: str, override: str | None = None) -> str:
    return override or results_table + SUFFIX


def ref_of(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def partition(label: str, ref: str) -> str:
    """`label#nn`: the label's shard for this image, the same on every machine (CRC-32 of the ref)."""
    return f"{label}#{zlib.crc32(ref.encode()) % SHARDS:02d}"


def sort_key(confidence: Decimal | float, ref: str) -> str:
    """`099.1234#ref`: string order is confidence order (0 to 100, four decimals), then the image."""
    return f"{float(confidence):08.4f}#{ref}"


def rows(item: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """label -> row for a `done` result (the highest confidence when a name repeats); none otherwise."""
    if item.get("status") != "done":
        return {}
    ref = ref_of(item["bucket"], item["key"])
    best: dict[str, Decimal] = {}
    named = [(lb.get("name"), lb.get("confidence")) for lb in item.get("labels") or ()]
    named += [
        (CUSTOM_PREFIX + str(c.get("name")), c.get("confidence")) for c in item.get("custom_labels") or ()
    ]
    for name, confidence in named:
        if not name or confidence is None:
            continue
        name, value = name.lower(), Decimal(str(confidence))
        if name not in best or value > best[name]:
            best[name] = value
    found = {}
    for name, value in best.items():
        row = {"pk": partition(name, ref), "sk": sort_key(value, ref), "ref": ref, "etag": item.get("etag")}
        found[name] = {k: v for k, v in row.items() if v is not None}
    return found


def _serialize(row: Mapping[str, Any]) -> dict:
    return {k: {"S": str(v)} for k, v in row.items()}


def indexed_rows(ddb: Any, table: str, ref: str) -> list[dict[str, str]]:
    """The rows an image has now (pk, sk, ref, etag; the by_ref index)."""
    found = []
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        IndexName=BY_REF,
        KeyConditionExpression="#r = :r",
        ExpressionAttributeNames={"#r": "ref"},
        ExpressionAttributeValues={":r": {"S": ref}},
    ):
        found += [{k: v["S"] for k, v in row.items() if "S" in v} for row in page.get("Items", ())]
    return found


def indexed_labels(ddb: Any, table: str, ref: str) -> set[str]:
    """The labels an image has rows for now."""
    return {row["pk"].rsplit("#", 1)[0] for row in indexed_rows(ddb, table, ref)}


def _write(ddb: Any, table: str, requests: list[dict], sleep: Any = time.sleep) -> None:
    """BatchWriteItem in 25s; unprocessed items are retried with backoff, then raised."""
    for start in range(0, len(requests), 25):
        pending = {table: requests[start : start + 25]}
        for attempt in range(WRITE_ROUNDS):
            left = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not left.get(table):
                break
            pending = left
            sleep(min(2.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"label index: {len(pending[table])} writes left unprocessed")


def _delete(row: Mapping[str, str]) -> dict:
    return {"DeleteRequest": {"Key": {"pk": {"S": row["pk"]}, "sk": {"S": row["sk"]}}}}


def update(ddb: Any, table: str, item: Mapping[str, Any]) -> tuple[int, int]:
    """Make the image's rows match the stored result; (rows put, rows deleted). A row already there with
    the same key and ETag is not written again, so a reindex of an indexed table costs reads only."""
    ref = ref_of(item["bucket"], item["key"])
    wanted = {(r["pk"], r["sk"]): r for r in rows(item).values()}
    present = {(r["pk"], r["sk"]): r for r in indexed_rows(ddb, table, ref)}
    puts = [r for k, r in wanted.items() if present.get(k) != r]  # a row is its four attributes
    stale = [r for k, r in present.items() if k not in wanted]
    _write(ddb, table, [{"PutRequest": {"Item": _serialize(r)}} for r in puts] + [_delete(r) for r in stale])
    return len(puts), len(stale)


def remove(ddb: Any, table: str, bucket: str, key: str) -> int:
    """Delete every row of a deleted image; the number removed."""
    present = indexed_rows(ddb, table, ref_of(bucket, key))
    _write(ddb, table, [_delete(r) for r in present])
    return len(present)


def _shard(ddb: Any, table: str, pk: str, floor: str) -> Iterator[dict[str, str]]:
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#p = :p AND #s >= :s",
        ExpressionAttributeNames={"#p": "pk", "#s": "sk"},
        ExpressionAttributeValues={":p": {"S": pk}, ":s": {"S": floor}},
        ScanIndexForward=False,
    ):
        for raw in page.get("Items", ()):
            yield {k: v["S"] for k, v in raw.items() if "S" in v}


def query(ddb: Any, table: str, label: str, min_confidence: float = 0.0) -> Iterator[dict[str, Any]]:
    """Rows of one label at >= min_confidence, highest first: one Query per shard, read as it is merged
    (a search that stops after N images reads about N rows, plus a page per shard)."""
    name = label.lower()
    floor = f"{float(min_confidence):08.4f}"
    shards = [_shard(ddb, table, f"{name}#{n:02d}", floor) for n in range(SHARDS)]
    for row in heapq.merge(*shards, key=lambda r: r["sk"], reverse=True):
        confidence, _, ref = row["sk"].partition("#")
        bucket, _, key = ref.partition("/")
        yield {
            "label": name,
            "ref": ref,
            "bucket": bucket,
            "key": key,
            "confidence": Decimal(confidence),
            "etag": row.get("etag"),
        }


def rebuild(ddb: Any, table: str, items: Iterator[Mapping[str, Any]]) -> dict[str, int]:
    """`python -m job reindex`: every stored result's rows, written where missing or stale."""
    counts = {"images": 0, "rows_put": 0, "rows_deleted": 0}
    for item in items:
        put, deleted = update(ddb, table, item)
        counts["images"] += 1
        counts["rows_put"] += put
        counts["rows_deleted"] += deleted
    return counts


class LabelIndexSink:
    """The worker's sink (job.sinks.Sink): keeps the index in step after each winning write."""

    name = "label-index"

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb, self.table = ddb, table
        self.errors = 0
        self._missing = False

    def add(self, item: dict[str, Any], previous: dict[str, Any] | None = None, vector: Any = None) -> None:
        if self._missing:
            return
        try:
            update(self.ddb, self.table, item)
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            self._failed(item, exc)

    def remove(self, previous: dict[str, Any]) -> None:
        try:
            remove(self.ddb, self.table, previous["bucket"], previous["key"])
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            self._failed(previous, exc)

    def flush(self) -> None:
        """Writes are synchronous: nothing is buffered."""

    def _failed(self, item: Mapping[str, Any], exc: Exception) -> None:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else ""
        if code == "ResourceNotFoundException":
            self._missing = True  # a deployment without the label table: say it once, then stop trying
            log.warning("label index table missing: search by label is off", extra={"table": self.table})
            return
        self.errors += 1
        log.warning(
            "label index not updated (the result is stored; the next write of the image updates it)",
            extra={
                "bucket": item.get("bucket"),
                "key": item.get("key"),
                "error": f"{type(exc).__name__}: {exc}",
            },
        )
