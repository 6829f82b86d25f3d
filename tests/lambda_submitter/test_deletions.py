"""Tombstones: written when newer, refused when older, and never for an old version of a live object."""

from __future__ import annotations

from job.core import store
from job.core.ordering import pad_sequencer
from lambda_submitter import deletions
from lambda_submitter.events import REMOVALS, S3Event
from tests.lambda_submitter.conftest import TABLE


def _remove(seq: str | None, time: str = "2026-01-01T12:00:00.000Z", **kw) -> S3Event:
    name = kw.pop("name", "ObjectRemoved:Delete")
    return S3Event("remove", "b", "k.jpg", name, time, seq, permanent=REMOVALS.get(name, False), **kw)


def _result(ddb, seq: str | None, time: str, version: str | None = None) -> None:
    item = {"bucket": {"S": "b"}, "key": {"S": "k.jpg"}, "status": {"S": "done"}, "order_time": {"S": time}}
    if seq:
        item["sequencer"] = {"S": pad_sequencer(seq)}
    if version:
        item["version_id"] = {"S": version}
    ddb.put_item(TableName=TABLE, Item=item)


def _status(ddb) -> str:
    return ddb.get_item(TableName=TABLE, Key={"bucket": {"S": "b"}, "key": {"S": "k.jpg"}})["Item"]["status"][
        "S"
    ]


def test_tombstone_shape() -> None:
    # given a delete event
    item = deletions.tombstone_item(_remove("0A"))
    # then it carries the contract's fields
    assert set(item) == {"bucket", "key", "status", "sequencer", "order_time", "deleted_at"}
    assert item["sequencer"]["S"] == pad_sequencer("0A")


def test_newer_delete_replaces_the_result(stack: dict) -> None:
    # given a result written from an event with sequencer 0A
    ddb = stack["dynamodb"]
    _result(ddb, "0A", "2026-01-01T10:00:00.000Z")
    # when a delete with a greater sequencer arrives
    written = deletions.write_tombstone(ddb, TABLE, _remove("0B"))
    # then the item is a tombstone
    assert written and _status(ddb) == "deleted"


def test_older_delete_is_ignored(stack: dict) -> None:
    # given a result from a newer create
    ddb = stack["dynamodb"]
    _result(ddb, "0C", "2026-01-01T10:00:00.000Z")
    # when an older delete arrives late
    written = deletions.write_tombstone(ddb, TABLE, _remove("0B"))
    # then the result stays
    assert not written and _status(ddb) == "done"


def test_delete_of_an_old_version_keeps_the_current_image(stack: dict) -> None:
    # given the current version v2 indexed
    ddb = stack["dynamodb"]
    _result(ddb, "0A", "2026-01-01T10:00:00.000Z", version="v2")
    # when version v1 is permanently deleted (a newer event)
    written = deletions.write_tombstone(ddb, TABLE, _remove("0B", version_id="v1"))
    # then nothing changes; deleting v2 itself does tombstone
    assert not written and _status(ddb) == "done"
    assert deletions.write_tombstone(ddb, TABLE, _remove("0C", version_id="v2"))
    assert _status(ddb) == "deleted"


def test_delete_without_a_stored_item_leaves_a_tombstone(stack: dict) -> None:
    # given nothing stored, when a delete arrives, then a tombstone guards against a late create
    ddb = stack["dynamodb"]
    assert deletions.write_tombstone(ddb, TABLE, _remove("0B"))
    assert store.get_state(ddb, TABLE, "b", "k.jpg")["sequencer"] == pad_sequencer("0B")
