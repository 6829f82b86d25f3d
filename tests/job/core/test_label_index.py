"""The label index: rows from a result, kept in step when labels change, removed with the image."""

from __future__ import annotations

from decimal import Decimal

from job.commands import provision
from job.core import clients, label_index

TABLE = "li-results"
LABELS = TABLE + "-labels"


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
    assert got["car"]["confidence"] == Decimal("95.5") and got["car"]["ref"] == "b/a.jpg"
    # and an error or a tombstone has no rows
    assert label_index.rows(_item("x.jpg", [("Car", 99)], status="error")) == {}


def test_update_replaces_changed_labels_and_remove_deletes_them(aws):
    # given the label table as `job setup` makes it
    ddb = clients.client("dynamodb")
    provision.ensure_table(ddb, LABELS, definition=label_index.TABLE_DEFINITION)
    # when an image is indexed with Car and Tree, then re-labelled with Car and Dog
    assert label_index.update(ddb, LABELS, _item("a.jpg", [("Car", 90), ("Tree", 80)])) == (2, 0)
    assert label_index.update(ddb, LABELS, _item("a.jpg", [("Car", 60), ("Dog", 85)], etag="e2")) == (2, 1)
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
