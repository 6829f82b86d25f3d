"""Removals (deletes, delete markers, lifecycle expirations) become tombstones in the results table, guarded so an old event never wins.

A tombstone replaces the result item (one item per object), so an old create arriving later cannot
resurrect the image: the worker's write uses the same ordering condition and loses to the newer tombstone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from job.core.ordering import conditional, iso_time, newer_condition, pad_sequencer
from lambda_submitter.events import S3Event

log = logging.getLogger(__name__)


def tombstone_item(event: S3Event, now: datetime | None = None) -> dict:
    """The item the shared contract defines for a deletion."""
    item = {
        "bucket": {"S": event.bucket},
        "key": {"S": event.key},
        "status": {"S": "deleted"},
        "order_time": {"S": event.event_time},
        "deleted_at": {"S": iso_time(now or datetime.now(UTC))},
    }
    if event.sequencer:
        item["sequencer"] = {"S": pad_sequencer(event.sequencer)}
    return item


def tombstone_condition(event: S3Event) -> tuple[str, dict, dict]:
    """Newer than what is stored and, when one version is deleted, only if it is the version we hold
    (deleting an old version of a versioned object leaves the current image in place)."""
    expr, names, values = newer_condition(event.sequencer, event.event_time)
    if event.version_id and event.permanent:
        expr = f"({expr}) AND (attribute_not_exists(#vid) OR #vid = :vid)"
        names = {**names, "#vid": "version_id"}
        values = {**values, ":vid": event.version_id}
    return expr, names, values


def write_tombstone(dynamodb: Any, table: str, event: S3Event) -> bool:
    """True when the tombstone was written, False when the table already holds a newer state."""
    expr, names, values = tombstone_condition(event)
    written = conditional(
        dynamodb.put_item,
        TableName=table,
        Item=tombstone_item(event),
        ConditionExpression=expr,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={k: {"S": v} for k, v in values.items()},
    )
    if not written:
        log.info("stale delete ignored", extra={"bucket": event.bucket, "key": event.key})
        return False
    log.info("tombstone written", extra={"bucket": event.bucket, "key": event.key, "seq": event.sequencer})
    return True


def index_names(s3vectors: Any, bucket: str) -> list[str]:
    """Every model's index in the vector bucket (one a model: job/core/vectors.py)."""
    return [
        index["indexName"]
        for page in s3vectors.get_paginator("list_indexes").paginate(vectorBucketName=bucket)
        for index in page.get("indexes", [])
    ]


def remove_vectors(s3vectors: Any, bucket: str, key: str) -> int:
    """Remove a deleted object's vector from every model's index in the vector bucket; returns how many
    indexes were asked (a key an index does not hold is no error)."""
    names = index_names(s3vectors, bucket)
    for name in names:
        s3vectors.delete_vectors(vectorBucketName=bucket, indexName=name, keys=[key])
    return len(names)
