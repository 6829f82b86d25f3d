"""SQS-wrapped S3 events: creates, removals, TestEvent, keys decoded once, newest event per key."""

from __future__ import annotations

import json

import pytest

from lambda_submitter import events
from tests.lambda_submitter.conftest import load_event


def test_created_events_decode_keys_exactly_once() -> None:
    # given an SQS batch of ObjectCreated:Put events with encoded keys
    records = load_event("sqs_object_created.json")["Records"]
    # when parsed
    parsed = [e for r in records for e in events.parse_sqs_record(r)]
    # then `+` is a space, `%2B` a plus, unicode and deep prefixes survive
    assert [e.key for e in parsed] == [
        "photos/red flower.jpg",
        "photos/a+b.jpg",
        "photos/2026/01/01/deep/nested/café 写真.JPG",
        "photos/notes.txt",
    ]
    first = parsed[0]
    assert (first.kind, first.bucket, first.size, first.sequencer) == (
        "create",
        "bucketlens-images",
        1024,
        "0055AED6DCD90281E5",
    )
    assert first.message_id == records[0]["messageId"]
    assert first.event_time == "2026-01-01T10:00:00.000Z"


def test_removed_event_is_a_remove() -> None:
    # given an ObjectRemoved:Delete event
    record = load_event("sqs_object_removed.json")["Records"][0]
    # when parsed
    (event,) = events.parse_sqs_record(record)
    # then it is a removal of the decoded key
    assert (event.kind, event.key, event.event_name) == (
        "remove",
        "photos/red flower.jpg",
        "ObjectRemoved:Delete",
    )


def test_test_event_is_acknowledged_with_no_work() -> None:
    # given the s3:TestEvent S3 sends when notifications are configured
    record = load_event("sqs_test_event.json")["Records"][0]
    # then it yields nothing and raises nothing
    assert events.parse_sqs_record(record) == []


@pytest.mark.parametrize("body", ["not json", json.dumps([1]), json.dumps({"hello": 1})])
def test_malformed_bodies_raise_value_error(body: str) -> None:
    # given an SQS message that is not an S3 notification
    record = {"messageId": "m1", "body": body}
    # then parsing says so
    with pytest.raises(ValueError, match="m1|S3 event"):
        events.parse_sqs_record(record)


def test_other_event_kinds_are_ignored() -> None:
    # given a restore event next to a create
    body = load_event("sqs_object_created.json")["Records"][0]["body"]
    notification = json.loads(body)
    restore = json.loads(json.dumps(notification["Records"][0]))
    restore["eventName"] = "ObjectRestore:Completed"
    notification["Records"].append(restore)
    # then only the create is returned
    assert [e.kind for e in events.parse_notification(notification)] == ["create"]


def _event(kind: str, seq: str, key: str = "k.jpg") -> events.S3Event:
    return events.S3Event(kind, "b", key, f"Object{kind}", "2026-01-01T00:00:00.000Z", seq)


def test_latest_per_key_compares_padded_sequencers() -> None:
    # given a create with a longer sequencer and a later delete with a shorter one that is greater once padded
    create = _event("create", "0055AED6DCD90281E5")
    delete = _event("remove", "0055AED6DCD9029")
    other = _event("create", "01", key="other.jpg")
    # when the batch is reduced to the newest event per key
    latest = events.latest_per_key([delete, create, other])
    # then the delete wins for its key, and other keys are untouched
    assert latest[("b", "k.jpg")] is delete
    assert latest[("b", "other.jpg")] is other


def test_inventory_manifest_keys_are_recognised() -> None:
    # given the notification of a new inventory report
    (record,) = load_event("s3_inventory_manifest_created.json")["Records"]
    event = events.parse_s3_record(record)
    # then its key is an inventory manifest key and an image key is not
    assert events.is_inventory_manifest_key(event.key)
    assert not events.is_inventory_manifest_key("photos/manifest.json.jpg")


# --- EventBridge and lifecycle expirations (samples: tests/events/SOURCES.md) ---------------------------


def test_eventbridge_object_created_is_a_create_with_the_key_as_sent() -> None:
    # given S3's published "Object Created" EventBridge event, as the SQS target receives it (the event is
    # the body), with a key that a notification would have URL-encoded
    body = load_event("eventbridge_object_created.json")
    body["detail"]["object"]["key"] = "photos/red flower+1 %41.jpg"
    # when parsed
    (event,) = events.parse_sqs_record({"messageId": "m1", "body": json.dumps(body)})
    # then it is the same record a notification gives: the key untouched, the sequencer to order by
    assert (event.kind, event.bucket, event.key) == (
        "create",
        "DOC-EXAMPLE-BUCKET1",
        "photos/red flower+1 %41.jpg",
    )
    assert (event.size, event.etag, event.sequencer) == (
        5,
        "b1946ac92492d2347c6235b4d2611184",
        "617f08299329d189",
    )
    assert event.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e" and event.message_id == "m1"
    assert event.event_time == "2021-11-12T00:00:00.000Z"


def test_eventbridge_object_deleted_is_a_remove_and_says_whether_a_marker_was_created() -> None:
    # given S3's published "Object Deleted" events: by DeleteObject and by lifecycle expiration (both
    # "Delete Marker Created"), and the same with deletion-type "Permanently Deleted"
    marker = load_event("eventbridge_object_deleted.json")
    lifecycle = load_event("eventbridge_object_deleted_lifecycle.json")
    permanent = json.loads(json.dumps(marker))
    permanent["detail"]["deletion-type"] = "Permanently Deleted"
    # when parsed
    (m,) = events.parse_notification(marker)
    (lc,) = events.parse_notification(lifecycle)
    (p,) = events.parse_notification(permanent)
    # then each is a removal ordered by its sequencer; only the permanent one is permanent
    assert (m.kind, m.permanent, m.sequencer, m.event_name) == (
        "remove",
        False,
        "617f0837b476e463",
        "Object Deleted:DeleteObject",
    )
    assert (lc.kind, lc.permanent, lc.event_name) == ("remove", False, "Object Deleted:Lifecycle Expiration")
    assert (p.kind, p.permanent) == ("remove", True)


def test_other_eventbridge_types_are_no_events() -> None:
    # given an EventBridge event of another S3 type (restore completed)
    body = load_event("eventbridge_object_created.json")
    body["detail-type"] = "Object Restore Completed"
    # then it yields nothing
    assert events.parse_notification(body) == []


@pytest.mark.parametrize(
    ("name", "permanent"),
    [("LifecycleExpiration:Delete", True), ("LifecycleExpiration:DeleteMarkerCreated", False)],
)
def test_lifecycle_expiration_notifications_are_removals(name: str, permanent: bool) -> None:
    # given S3's published LifecycleExpiration:Delete notification (event version 2.3), and the same
    # with the DeleteMarkerCreated name (S3 publishes no sample of that one)
    body = load_event("s3_lifecycle_expiration_delete.json")
    body["Records"][0]["eventName"] = name
    # when parsed
    (event,) = events.parse_notification(body)
    # then it is a removal of the object, ordered by its sequencer
    assert (event.kind, event.key, event.sequencer, event.permanent) == (
        "remove",
        "expiration/delete",
        "0055AED6DCD90281E5",
        permanent,
    )
