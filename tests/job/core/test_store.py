from decimal import Decimal

import pytest

from job.core import clients, store
from job.core.manifest import ObjectRef
from job.core.ordering import iso_time, pad_sequencer
from job.core.store import build_error, build_result, cap_item, item_size, put_result, skip_reason
from tests.job.worker_helpers import BUCKET as BUCKET_NAME
from tests.job.worker_helpers import TABLE, world

T1, T2, T3 = "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z", "2026-01-01T00:00:03.000Z"

REF = ObjectRef("b", "a/photo.jpg", etag="abc", size=10, last_modified="2026-01-02T00:00:00.000Z")
T1 = "2026-01-02T00:00:00.000Z"


def _result(ref: ObjectRef = REF, order_time: str = T1, features: str = "labels") -> dict:
    return build_result(
        ref,
        features,
        order_time,
        {"format": "JPEG", "f_number": 2.8, "gps": {"latitude": 1.5, "longitude": -2.25}, "bytes_read": 9},
        labels=[{"name": "Car", "confidence": 98.5, "parents": ["Vehicle"], "categories": []}],
        label_model_version="3.0",
    )


def test_result_item_carries_the_contract_fields_with_decimal_floats():
    # given a processed image / when its item is built
    item = _result()
    # then every float is a Decimal and the contract fields are there
    assert item["status"] == "done"
    assert item["exif"]["f_number"] == Decimal("2.8")
    assert item["exif"]["gps"]["longitude"] == Decimal("-2.25")
    assert "bytes_read" not in item["exif"]
    assert item["labels"][0]["confidence"] == Decimal("98.5")
    assert item["features"] == "labels" and item["order_time"] == T1
    assert item["processed_at"].endswith("Z")
    assert "sequencer" not in item  # backfill work has none


def test_event_work_stores_the_padded_sequencer():
    # given a ref from an S3 event / when built
    item = _result(ObjectRef("b", "k.jpg", etag="e", sequencer="0055AED6DCD90281E5"))
    # then the sequencer is padded for string comparison
    assert item["sequencer"] == pad_sequencer("0055AED6DCD90281E5")


def test_oversized_items_are_capped_and_say_so():
    # given 20,000 long text lines (far over 400 KB)
    lines = [{"text": "x" * 100, "confidence": 99.0} for _ in range(20_000)]
    # when the item is built
    item = build_result(REF, "labels,text", T1, None, labels=[], text=lines)
    # then it fits and names what was cut
    assert item_size(item) <= store.MAX_ITEM_BYTES
    assert item["truncated"] == ["text"]
    assert 0 < len(item["text"]) < 20_000


def test_cap_leaves_small_items_alone():
    # given a small item / when capped / then unchanged and not marked
    item = {"bucket": "b", "key": "k", "labels": [{"name": "Car"}]}
    assert cap_item(dict(item)) == item


def test_error_item_is_terminal_and_clipped():
    # given a very long error message / when recorded
    item = build_error(REF, "labels", T1, "BadImage", "y" * 5000)
    # then it is an error item with a clipped message
    assert item["status"] == "error" and item["error_class"] == "BadImage"
    assert len(item["error_message"]) <= store.MAX_ERROR


@pytest.mark.parametrize(
    ("stored", "ref", "expected"),
    [
        (None, REF, None),
        ({"status": "done", "etag": "abc", "features": "labels", "order_time": T1}, REF, "already-done"),
        ({"status": "error", "etag": '"abc"', "features": "labels", "order_time": T1}, REF, "already-done"),
        ({"status": "done", "etag": "abc", "features": "labels,text", "order_time": T1}, REF, None),
        (
            {"status": "done", "etag": "old", "features": "labels", "order_time": "2025-01-01T00:00:00.000Z"},
            REF,
            None,
        ),
        ({"status": "deleted", "order_time": "2026-02-01T00:00:00.000Z"}, REF, "stale"),
        ({"status": "deleted", "order_time": "2025-02-01T00:00:00.000Z"}, REF, None),
        (
            {"status": "done", "etag": "abc", "version_id": "v1", "features": "labels", "order_time": T1},
            ObjectRef("b", "k.jpg", version_id="v2", etag="abc", last_modified=T1),
            None,
        ),
        (
            {"status": "deleted", "sequencer": pad_sequencer("00B0"), "order_time": T1},
            ObjectRef("b", "k.jpg", etag="e", sequencer="00A0"),
            "stale",
        ),
    ],
)
def test_skip_reason(stored, ref, expected):
    # given a stored item and a ref / when asked / then the documented rule answers
    assert skip_reason(stored, ref, "labels") == expected


def test_conditional_writes_keep_the_newest_state(aws):
    # given a table
    world({})
    ddb = clients.client("dynamodb")
    # when a result is written, then the same result again
    assert put_result(ddb, TABLE, _result()) is True
    assert put_result(ddb, TABLE, _result()) is False  # a second writer of the same version changes nothing
    # then an older version is refused and a newer one wins
    old = ObjectRef("b", REF.key, etag="old", last_modified="2025-01-01T00:00:00.000Z")
    assert put_result(ddb, TABLE, _result(old, old.last_modified)) is False
    new = ObjectRef("b", REF.key, etag="new", last_modified="2026-03-01T00:00:00.000Z")
    assert put_result(ddb, TABLE, _result(new, new.last_modified)) is True
    state = store.get_state(ddb, TABLE, "b", REF.key)
    assert state["etag"] == "new"


def test_a_newer_tombstone_blocks_an_old_create_and_a_newer_create_replaces_it(aws):
    # given a tombstone for a delete at time T
    world({})
    ddb = clients.client("dynamodb")
    t = "2026-02-01T00:00:00.000Z"
    ddb.put_item(
        TableName=TABLE,
        Item=store.serialize({"bucket": "b", "key": REF.key, "status": "deleted", "order_time": t}),
    )
    # when a result for an object modified before T arrives, then it is refused
    assert put_result(ddb, TABLE, _result(REF, iso_time("2026-01-02T00:00:00Z"))) is False
    # when a result for an object re-created after T arrives, then it replaces the tombstone
    later = ObjectRef("b", REF.key, etag="v2", last_modified="2026-03-01T00:00:00.000Z")
    assert put_result(ddb, TABLE, _result(later, later.last_modified)) is True
    assert store.get_state(ddb, TABLE, "b", REF.key)["status"] == "done"


class _PartlyBusyDynamo:
    """BatchGetItem that leaves the last key unprocessed on the first round."""

    def __init__(self, inner):
        self.inner, self.rounds = inner, 0

    def batch_get_item(self, RequestItems):  # noqa: N803
        self.rounds += 1
        table, request = next(iter(RequestItems.items()))
        if self.rounds == 1:
            held, asked = request["Keys"][-1:], {**request, "Keys": request["Keys"][:-1]}
            response = self.inner.batch_get_item(RequestItems={table: asked})
            response["UnprocessedKeys"] = {table: {**request, "Keys": held}}
            return response
        return self.inner.batch_get_item(RequestItems=RequestItems)


def test_batch_states_follow_unprocessed_keys_and_mark_missing_items(aws):
    # given two stored results and one key never written
    world({})
    ddb = clients.client("dynamodb")
    a = ObjectRef("b", "a.jpg", etag="ea", last_modified=T1)
    c = ObjectRef("b", "c.jpg", etag="ec", last_modified=T1)
    assert put_result(ddb, TABLE, _result(a)) and put_result(ddb, TABLE, _result(c))
    busy = _PartlyBusyDynamo(ddb)
    # when the three states are read in one batch that DynamoDB answers in two rounds
    states = store.get_states(busy, TABLE, [("b", "a.jpg"), ("b", "missing.jpg"), ("b", "c.jpg")])
    # then both stored states come back, the missing one is None, and a second round was made
    assert busy.rounds == 2
    assert states[("b", "a.jpg")]["etag"] == "ea" and states[("b", "c.jpg")]["etag"] == "ec"
    assert states[("b", "missing.jpg")] is None


def test_keys_still_unprocessed_are_left_for_single_reads(aws):
    # given DynamoDB that never processes the last key
    world({})

    class NeverDone:
        def batch_get_item(self, RequestItems):  # noqa: N803
            table, request = next(iter(RequestItems.items()))
            return {
                "Responses": {table: []},
                "UnprocessedKeys": {table: {**request, "Keys": request["Keys"][-1:]}},
            }

    # when read / then the unprocessed key is absent (unknown), the others are known missing
    states = store.get_states(NeverDone(), TABLE, [("b", "x.jpg"), ("b", "y.jpg")])
    assert states == {("b", "x.jpg"): None}


def test_write_condition_names_only_what_its_expression_uses():
    # given results with and without a sequencer, etag and version
    for extra in (
        {},
        {"sequencer": "0A1B"},
        {"etag": "e1"},
        {"etag": "e1", "version_id": "v1", "sequencer": "FF"},
    ):
        item = {"order_time": "2026-01-01T00:00:00.000Z", "features": "labels", **extra}
        # when the condition is built
        expr, names, values = store.write_condition(item)
        # then every name and value appears in it (DynamoDB rejects unused ones)
        assert all(name in expr for name in names) and all(value in expr for value in values), extra


def test_same_bytes_reuploaded_after_a_delete_survive_the_late_delete(aws):
    # given a result written by event S1, then the same bytes re-uploaded (S3) after a delete (S2)
    from lambda_submitter import deletions, events

    world({})
    ddb = clients.client("dynamodb")
    first = ObjectRef(BUCKET_NAME, "k.jpg", etag="e1", sequencer="0000000000000001", last_modified=T1)
    put_result(ddb, TABLE, build_result(first, "labels", T1, {}, labels=[]))
    again = ObjectRef(BUCKET_NAME, "k.jpg", etag="e1", sequencer="0000000000000003", last_modified=T3)
    stored = store.get_state(ddb, TABLE, BUCKET_NAME, "k.jpg")
    # when the re-upload is seen as already done, its newer sequencer is recorded
    assert skip_reason(stored, again, "labels") == "already-done"
    assert store.order_moved(stored, again)
    assert store.advance_order(ddb, TABLE, again, T3)
    # then the delete between the two, arriving last, does not tombstone the existing image
    late = events.S3Event(
        kind="remove",
        bucket=BUCKET_NAME,
        key="k.jpg",
        event_name="ObjectRemoved:Delete",
        event_time=T2,
        sequencer="0000000000000002",
    )
    deletions.write_tombstone(ddb, TABLE, late)
    assert store.get_state(ddb, TABLE, BUCKET_NAME, "k.jpg")["status"] == "done"
    # and a redelivery of the same event moves nothing
    assert not store.order_moved(store.get_state(ddb, TABLE, BUCKET_NAME, "k.jpg"), again)
