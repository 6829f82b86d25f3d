"""S3 event notifications (direct or inside SQS messages) turned into plain records; no AWS calls here.

Keys arrive URL-encoded form-style (`red+flower.jpg` is `red flower.jpg`, a real `+` is `%2B`), so they are
decoded exactly once, here and nowhere else. Sequencers order the events of one key (S3 User Guide,
"Event message structure"); they are padded with job.core.ordering.pad_sequencer before any comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from job.core.ordering import iso_time, pad_sequencer

INVENTORY_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class S3Event:
    """One object event; `message_id` names the SQS message it came in (for partial batch failures)."""

    kind: str  # create | remove
    bucket: str
    key: str
    event_name: str
    event_time: str
    sequencer: str | None = None
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    message_id: str = ""

    @property
    def order(self) -> tuple[str, str]:
        """Sort key among events of the same object: padded sequencer, then event time."""
        return (pad_sequencer(self.sequencer) or "", self.event_time)


def decode_key(raw: str) -> str:
    return unquote_plus(raw)


def is_test_event(body: dict) -> bool:
    """S3 sends `s3:TestEvent` once when a notification is configured; it carries no object."""
    return body.get("Event") == "s3:TestEvent"


def parse_s3_record(record: dict, message_id: str = "") -> S3Event | None:
    """None for event kinds that are not object creates or removals (restore, replication, ...)."""
    name = record.get("eventName", "")
    if name.startswith("ObjectCreated:"):
        kind = "create"
    elif name.startswith("ObjectRemoved:"):
        kind = "remove"
    else:
        return None
    s3 = record["s3"]
    obj = s3["object"]
    size = obj.get("size")
    etag = obj.get("eTag") or obj.get("etag")
    return S3Event(
        kind=kind,
        bucket=s3["bucket"]["name"],
        key=decode_key(obj["key"]),
        event_name=name,
        event_time=iso_time(record["eventTime"]),
        sequencer=obj.get("sequencer") or None,
        version_id=obj.get("versionId") or None,
        etag=etag.strip('"') if etag else None,
        size=int(size) if size is not None else None,
        message_id=message_id,
    )


def parse_notification(body: dict, message_id: str = "") -> list[S3Event]:
    """An S3 notification body (possibly wrapped by SNS) as events; a TestEvent is no events."""
    if "Message" in body and isinstance(body.get("Message"), str) and body.get("Type") == "Notification":
        body = json.loads(body["Message"])
    if is_test_event(body):
        return []
    if "Records" not in body:
        raise ValueError("not an S3 event notification (no Records and not s3:TestEvent)")
    events = []
    for record in body["Records"]:
        event = parse_s3_record(record, message_id)
        if event is not None:
            events.append(event)
    return events


def parse_sqs_record(record: dict) -> list[S3Event]:
    """One SQS record's S3 events; ValueError when the body is not an S3 notification."""
    try:
        body = json.loads(record["body"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"SQS message {record.get('messageId')!r} has no JSON body") from exc
    if not isinstance(body, dict):
        raise ValueError(f"SQS message {record.get('messageId')!r} body is not an object")
    try:
        return parse_notification(body, record.get("messageId", ""))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"SQS message {record.get('messageId')!r}: malformed S3 record: {exc}") from exc


def is_inventory_manifest_key(key: str) -> bool:
    """Inventory reports end in `.../<date>/manifest.json`; images never do (not an image extension)."""
    return key == INVENTORY_MANIFEST or key.endswith("/" + INVENTORY_MANIFEST)


def latest_per_key(events: Iterable[S3Event]) -> dict[tuple[str, str], S3Event]:
    """The newest event of each (bucket, key) in a batch: a create followed by a delete is only a delete."""
    latest: dict[tuple[str, str], S3Event] = {}
    for event in events:
        slot = (event.bucket, event.key)
        if slot not in latest or latest[slot].order <= event.order:
            latest[slot] = event
    return latest
