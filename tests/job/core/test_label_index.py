"""The label index: rows from a result, kept in step when labels change, removed with the image."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from job.commands import provision
from job.core import clients, label_index

TABLE = "li-results"
LABELS = label_index.table_name(TABLE)


def _item(
    key: str, labels: list[tuple[str, float]], status: str = "done", etag: str = "e1", custom=()
) -> dict:
    return {
        "bucket": "b",
        "key": key,
        "etag": etag,
        "status": status,
        "labels": [{"name": n, "confidence": Decimal(str(c))} for n, c in labels],
        "custom_labels": [{"name": n, "confidence": Decimal(str(c))} for n, c in custom],
    }


def test_rows_keep_the_best_confidence_per_name_and_index_custom_labels_apart():
    # given a result naming Car twice and a custom label / when its rows are built
    got = label_index.rows(_item("a.jpg", [("Car", 80), ("Car", 95.5), ("Tree", 70)], custom=[("Logo", 99)]))
    # then one row per name, the highest confidence, custom labels prefixed
    assert sorted(got) == ["car", "custom:logo", "tree"]
    assert got["car"]["sk"] == "095.5000#b/a.jpg" and got["car"]["ref"] == "b/a.jpg"
    # under the label's shard for this image, the same wherever it is computed
    assert got["car"]["pk"] == label_index.partition("car", "b/a.jpg") and got["car"]["pk"].startswith("car#")
    # and an error or a tombstone has no rows
    assert label_index.rows(_item("x.jpg", [("Car", 99)], status="error")) == {}


def test_update_replaces_changed_labels_and_remove_deletes_them(aws):
    # given the label table as `job setup` makes it
    ddb = clients.client("dynamodb")
    provision.ensure_table(ddb, LABELS, definition=label_index.TABLE_DEFINITION)
    # when an image is indexed with Car and Tree, then re-labelled with Car and Dog
    assert label_index.update(ddb, LABELS, _item("a.jpg", [("Car", 90), ("Tree", 80)])) == (2, 0)
    # (Car's row moves: its confidence is in the sort key; Tree's goes)
    assert label_index.update(ddb, LABELS, _item("a.jpg", [("Car", 60), ("Dog", 85)], etag="e2")) == (2, 2)
    # and writing the same result again writes nothing (a reindex of an indexed table costs reads only)
    assert label_index.update(ddb, LABELS, _item("a.jpg", [("Car", 60), ("Dog", 85)], etag="e2")) == (0, 0)
    # then the index holds exactly the new labels, queryable by confidence, highest first
    assert label_index.indexed_labels(ddb, LABELS, "b/a.jpg") == {"car", "dog"}
    label_index.update(ddb, LABELS, _item("b.jpg", [("Car", 99)]))
    assert [r["key"] for r in label_index.query(ddb, LABELS, "Car", 50)] == ["b.jpg", "a.jpg"]
    assert [r["key"] for r in label_index.query(ddb, LABELS, "Car", 70)] == ["b.jpg"]
    assert list(label_index.query(ddb, LABELS, "Tree")) == []
    # when the image is deleted / then its rows are gone
    assert label_index.remove(ddb, LABELS, "b", "a.jpg") == 2
    assert [r["key"] for r in label_index.query(ddb, LABELS, "Car")] == ["b.jpg"]


def test_unprocessed_writes_are_retried_then_raised():
    # given a DynamoDB that leaves the writes unprocessed twice, then takes them
    calls = []

    class Partial:
        def batch_write_item(self, RequestItems):
            calls.append(RequestItems)
            return {"UnprocessedItems": RequestItems if len(calls) < 3 else {}}

    # when written / then the same requests were sent three times
    label_index._write(Partial(), "t", [{"PutRequest": {"Item": {}}}], sleep=lambda s: None)
    assert len(calls) == 3 and calls[0] == calls[2]

    class Never:
        def batch_write_item(self, RequestItems):
            return {"UnprocessedItems": RequestItems}

    try:
        label_index._write(Never(), "t", [{"PutRequest": {"Item": {}}}], sleep=lambda s: None)
    except RuntimeError as exc:
        assert "left unprocessed" in str(exc)
    else:
        raise AssertionError("unprocessed writes must not pass silently")


def test_the_sink_turns_off_quietly_without_the_table(aws, caplog):
    # given no label table (an older deployment) / when the sink is fed twice
    sink = label_index.LabelIndexSink(clients.client("dynamodb"), "missing-labels")
    sink.add(_item("a.jpg", [("Car", 90)]))
    sink.add(_item("b.jpg", [("Car", 90)]))
    # then it warned once and counts no errors
    assert sink.errors == 0
    assert sum("label index table missing" in r.getMessage() for r in caplog.records) == 1


def test_no_label_is_capped_and_its_writes_spread_over_the_shards():
    # given the table definition / then it has no local secondary index: DynamoDB caps every partition
    # key of a table with an LSI at 10 GB of items (the old design stopped "person" near 15 M images)
    assert "LocalSecondaryIndexes" not in label_index.TABLE_DEFINITION
    # and 16,000 images with one label land evenly on its 16 partition keys (within 15 % of the mean),
    # so a backfill's writes to the commonest label divide by 16
    per_shard: dict[str, int] = {}
    for i in range(16_000):
        pk = label_index.partition("person", f"bucket/photos/{i:06d}.jpg")
        per_shard[pk] = per_shard.get(pk, 0) + 1
    assert len(per_shard) == label_index.SHARDS
    assert all(850 <= n <= 1150 for n in per_shard.values())


def test_a_search_merges_the_shards_in_confidence_order_with_one_query_each(aws):
    # given 40 images with "Car" at confidences 50..89 spread over the shards
    ddb = clients.client("dynamodb")
    provision.ensure_table(ddb, LABELS, definition=label_index.TABLE_DEFINITION)
    for i in range(40):
        label_index.update(ddb, LABELS, _item(f"c{i:02d}.jpg", [("Car", 50 + i)]))
    calls = []
    ddb.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append(1))
    # when the cars at >= 70 are read
    got = list(label_index.query(ddb, LABELS, "car", 70))
    # then they come highest first, across shards, and the search made one Query per shard, no Scan
    assert [float(r["confidence"]) for r in got] == [float(c) for c in range(89, 69, -1)]
    assert [r["key"] for r in got][:2] == ["c39.jpg", "c38.jpg"] and got[0]["bucket"] == "b"
    assert len(calls) == label_index.SHARDS


def test_reindex_rebuilds_the_index_from_the_results_table(aws):
    # given results stored before the label index existed (an upgrade from the LSI design), and one error
    from types import SimpleNamespace

    from job.commands import reindex
    from job.core import store

    ddb = clients.client("dynamodb")
    provision.setup(ddb, clients.client("s3"), TABLE, [], "us-east-1")
    for key, labels, status in (
        ("a.jpg", [("Car", 90)], "done"),
        ("b.jpg", [("Car", 80), ("Dog", 70)], "done"),
        ("c.jpg", [], "error"),
    ):
        ddb.put_item(TableName=TABLE, Item=store.serialize(_item(key, labels, status=status)))
    args = SimpleNamespace(table=TABLE, label_table=None, segment=0, segments=1)
    out = io.StringIO()
    # when `python -m job reindex` runs, then again
    assert reindex.command(args, out) == 0
    assert reindex.command(SimpleNamespace(**{**vars(args), "segments": 2}), out) == 0
    assert reindex.command(SimpleNamespace(**{**vars(args), "segment": 1, "segments": 2}), out) == 0
    first, *again = [json.loads(line) for line in out.getvalue().splitlines()]
    # then every done image is searchable by each of its labels
    assert first == {"label_table": LABELS, "images": 3, "rows_put": 3, "rows_deleted": 0}
    assert [r["key"] for r in label_index.query(ddb, LABELS, "car")] == ["a.jpg", "b.jpg"]
    assert [r["key"] for r in label_index.query(ddb, LABELS, "dog")] == ["b.jpg"]
    # and the rerun, split in two segments of a parallel scan, covered every image and wrote nothing
    assert sum(r["images"] for r in again) == 3 and sum(r["rows_put"] for r in again) == 0
