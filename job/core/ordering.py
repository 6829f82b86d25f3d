"""Which of two writes about the same S3 key is newer, so an old event never undoes a newer one.

S3 event `sequencer` values order the events of one key: right-pad the shorter with zeros, then compare
as strings (S3 User Guide, "Event message structure"). We store them padded to a fixed width so
DynamoDB can compare them in a condition expression. Writes without a sequencer (backfills) order by
time: the object's LastModified, or the delete event's eventTime.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

SEQUENCER_WIDTH = 64


def iso_time(value: datetime | str) -> str:
    """One sortable UTC form, `2026-01-31T12:00:00.000Z`, for LastModified and eventTime alike."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def pad_sequencer(sequencer: str | None) -> str | None:
    """Normalize a sequencer for string comparison; None stays None."""
    if not sequencer:
        return None
    value = sequencer.strip().upper()
    if len(value) > SEQUENCER_WIDTH or any(c not in "0123456789ABCDEF" for c in value):
        raise ValueError(f"not an S3 sequencer: {sequencer!r}")
    return value.ljust(SEQUENCER_WIDTH, "0")


def newer_condition(sequencer: str | None, order_time: str) -> tuple[str, dict, dict]:
    """A DynamoDB ConditionExpression that holds when a write of (sequencer, order_time) is not older
    than what the item holds. Returns (expression, names, values) to merge into a request.

    `order_time` is an ISO-8601 UTC string (they sort as strings).
    """
    names = {"#pk": "bucket", "#ot": "order_time"}
    values = {":ot": order_time}
    if sequencer is None:
        expr = "attribute_not_exists(#pk) OR attribute_not_exists(#ot) OR #ot <= :ot"
    else:
        names["#seq"] = "sequencer"
        values[":seq"] = pad_sequencer(sequencer)
        expr = (
            "attribute_not_exists(#pk) OR attribute_not_exists(#ot)"
            " OR (attribute_exists(#seq) AND #seq <= :seq)"
            " OR (attribute_not_exists(#seq) AND #ot <= :ot)"
        )
    return expr, names, values


def is_newer(stored: dict | None, sequencer: str | None, order_time: str) -> bool:
    """The same rule as `newer_condition`, evaluated in Python on an item already read."""
    if not stored or "order_time" not in stored:
        return True
    seq = pad_sequencer(sequencer)
    if seq is not None and stored.get("sequencer"):
        return stored["sequencer"] <= seq
    return stored["order_time"] <= order_time


def conditional(write: Callable[..., Any], **request: Any) -> bool:
    """Run a DynamoDB write guarded by a condition; False when the condition refused it (something newer
    or the same is stored), any other error raised."""
    try:
        write(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
