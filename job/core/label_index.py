"""The label index: "images with label L at confidence >= C" as a DynamoDB Query, no scan.

A second table `<results table>-labels` holds one row per (label, image): partition key `label`, sort key
`ref` (`bucket/key`; bucket names have no '/'), with `confidence`; labels are keyed in lower case (a
search for "car" finds "Car"); its local secondary index
`by_confidence` sorts a label's rows by confidence, and the global secondary index `by_ref` finds an
image's rows when its labels change or it is deleted. Custom labels are indexed as `custom:<name>`.

The results table stays the truth: rows are written after a result write won, and a search checks every
hit against the results table, so a row left behind by two racing writers is never shown. Boto3 only:
the submitter's zip carries this module (tombstones remove an image's rows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

SUFFIX = "-labels"
BY_CONFIDENCE = "by_confidence"
BY_REF = "by_ref"
CUSTOM_PREFIX = "custom:"
WRITE_ROUNDS = 5

TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "label", "AttributeType": "S"},
        {"AttributeName": "ref", "AttributeType": "S"},
        {"AttributeName": "confidence", "AttributeType": "N"},
    ],
    "KeySchema": [
        {"AttributeName": "label", "KeyType": "HASH"},
        {"AttributeName": "ref", "KeyType": "RANGE"},
    ],
    "LocalSecondaryIndexes": [
        {
            "IndexName": BY_CONFIDENCE,
            "KeySchema": [
                {"AttributeName": "label", "KeyType": "HASH"},
                {"AttributeName": "confidence", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": BY_REF,
            "KeySchema": [{"AttributeName": "ref", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def table_name(results_table: str, override: str | None = None) -> str:
    return override or results_table + SUFFIX


def ref_of(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def rows(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """label -> row for a `done` result (the highest confidence when a name repeats); none otherwise."""
    if item.get("status") != "done":
        return {}
    ref = ref_of(item["bucket"], item["key"])
    found: dict[str, dict[str, Any]] = {}
    named = [(lb.get("name"), lb.get("confidence")) for lb in item.get("labels") or ()]
    named += [
        (CUSTOM_PREFIX + str(c.get("name")), c.get("confidence")) for c in item.get("custom_labels") or ()
    ]
    for name, confidence in named:
        if not name or confidence is None:
            continue
        name = name.lower()
        value = Decimal(str(confidence))
        if name in found and found[name]["confidence"] >= value:
            continue
        found[name] = {
            "label": name,
            "ref": ref,
            "confidence": value,
            "bucket": item["bucket"],
            "key": item["key"],
            "etag": item.get("etag"),
            "version_id": item.get("version_id"),
        }
    return {name: {k: v for k, v in row.items() if v is not None} for name, row in found.items()}


def _serialize(row: Mapping[str, Any]) -> dict:
    return {k: ({"N": str(v)} if isinstance(v, Decimal) else {"S": str(v)}) for k, v in row.items()}


def indexed_labels(ddb: Any, table: str, ref: str) -> set[str]:
    """The labels an image has rows for now (the by_ref index)."""
    names: set[str] = set()
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        IndexName=BY_REF,
        KeyConditionExpression="#r = :r",
        ExpressionAttributeNames={"#r": "ref"},
        ExpressionAttributeValues={":r": {"S": ref}},
    ):
        names.update(row["label"]["S"] for row in page.get("Items", ()))
    return names


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


def update(ddb: Any, table: str, item: Mapping[str, Any]) -> tuple[int, int]:
    """Make the image's rows match the stored result; (rows put, rows deleted)."""
    ref = ref_of(item["bucket"], item["key"])
    wanted = rows(item)
    stale = indexed_labels(ddb, table, ref) - set(wanted)
    requests = [{"PutRequest": {"Item": _serialize(row)}} for row in wanted.values()]
    requests += [
        {"DeleteRequest": {"Key": {"label": {"S": name}, "ref": {"S": ref}}}} for name in sorted(stale)
    ]
    _write(ddb, table, requests)
    return len(wanted), len(stale)


def remove(ddb: Any, table: str, bucket: str, key: str) -> int:
    """Delete every row of a deleted image; the number removed."""
    ref = ref_of(bucket, key)
    names = indexed_labels(ddb, table, ref)
    _write(
        ddb,
        table,
        [{"DeleteRequest": {"Key": {"label": {"S": n}, "ref": {"S": ref}}}} for n in sorted(names)],
    )
    return len(names)


def query(ddb: Any, table: str, label: str, min_confidence: float = 0.0) -> Iterator[dict[str, Any]]:
    """Rows of one label at >= min_confidence, highest first."""
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        IndexName=BY_CONFIDENCE,
        KeyConditionExpression="#l = :l AND #c >= :c",
        ExpressionAttributeNames={"#l": "label", "#c": "confidence"},
        ExpressionAttributeValues={":l": {"S": label.lower()}, ":c": {"N": str(min_confidence)}},
        ScanIndexForward=False,
    ):
        for raw in page.get("Items", ()):
            yield {k: (Decimal(v["N"]) if "N" in v else v.get("S")) for k, v in raw.items()}


class LabelIndexSink:
    """The worker's sink (job.sinks.Sink): keeps the index in step after each winning write."""

    name = "label-index"

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb, self.table = ddb, table
        self.errors = 0
        self._missing = False

    def add(self, item: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
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
