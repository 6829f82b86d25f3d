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
