"""S3 events, as S3 notifications or as EventBridge events inside SQS messages, turned into plain records;
no AWS calls here.

Notification keys arrive URL-encoded form-style (`red+flower.jpg` is `red flower.jpg`, a real `+` is `%2B`),
so they are decoded exactly once, here and nowhere else; EventBridge keys arrive as they are (S3 User Guide,
"EventBridge event message structure") and are never decoded. Sequencers order the events of one key (S3 User Guide,
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
    permanent: bool = False  # remove: the object or one version is gone for good (not a delete marker)

    @property
    def order(self) -> tuple[str, str]:
        """Sort key among events of the same object: padded sequencer, then event time."""
        return (pad_sequencer(self.sequencer) or "", self.event_time)


def decode_key(raw: str) -> str:
    return unquote_plus(raw)


def is_test_event(body: dict) -> bool:
    """S3 sends `s3:TestEvent` once when a notification is configured; it carries no object."""
    return body.get("Event") == "s3:TestEvent"


# Removals, by notification event name: True where the object (or one version) is permanently deleted,
# False where a delete marker was created. Lifecycle expirations are removals too (S3 User Guide,
# "Configuring S3 Lifecycle event notifications").
REMOVALS = {
    "ObjectRemoved:Delete": True,
    "ObjectRemoved:DeleteMarkerCreated": False,
    "LifecycleExpiration:Delete": True,
    "LifecycleExpiration:DeleteMarkerCreated": False,
}
EVENTBRIDGE_SOURCE = "aws.s3"
EVENTBRIDGE_KINDS = {
    "Object Created": "create",
    "Object Deleted": "remove",
}  # the detail-types bucketlens reads


def parse_s3_record(record: dict, message_id: str = "") -> S3Event | None:
    """None for event kinds that are not object creates or removals (restore, replication, ...)."""
    name = record.get("eventName", "")
    if name.startswith("ObjectCreated:"):
        kind = "create"
    elif name in REMOVALS:
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
        permanent=REMOVALS.get(name, False),
    )


def is_eventbridge_event(body: dict) -> bool:
    return body.get("source") == EVENTBRIDGE_SOURCE and "detail-type" in body and "detail" in body


def parse_eventbridge_event(body: dict, message_id: str = "") -> list[S3Event]:
    """An S3 event delivered by EventBridge: "Object Created" or "Object Deleted" (any other type: none).

    The same record as the notification's: the key as sent (never URL-encoded), the same sequencer to
    order by; "deletion-type" tells a permanent deletion from a delete marker, and "reason" is kept in
    the event name ("Object Deleted:Lifecycle Expiration")."""
    kind = EVENTBRIDGE_KINDS.get(body["detail-type"])
    if kind is None:
        return []
    detail = body["detail"]
    obj = detail["object"]
    size, etag = obj.get("size"), obj.get("etag")
    return [
        S3Event(
            kind=kind,
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            event_name=f"{body['detail-type']}:{detail.get('reason', '')}",
            event_time=iso_time(body["time"]),
            sequencer=obj.get("sequencer") or None,
            version_id=obj.get("version-id") or None,
            etag=etag.strip('"') if etag else None,
            size=int(size) if size is not None else None,
            message_id=message_id,
            permanent=kind == "remove" and detail.get("deletion-type") == "Permanently Deleted",
        )
    ]


def parse_notification(body: dict, message_id: str = "") -> list[S3Event]:
    """An S3 notification body (possibly wrapped by SNS) as events; a TestEvent is no events."""
    if "Message" in body and isinstance(body.get("Message"), str) and body.get("Type") == "Notification":
        body = json.loads(body["Message"])
    if is_test_event(body):
        return []
    if is_eventbridge_event(body):
        return parse_eventbridge_event(body, message_id)
    if "Records" not in body:
        raise ValueError("not an S3 event (no Records, not s3:TestEvent, not an aws.s3 EventBridge event)")
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
