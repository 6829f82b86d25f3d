"""Search: pure filters, then the DynamoDB path end to end (by the label index, never a scan)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from job.commands import filters, search
from job.commands.filters import Filters
from job.core import clients, errors, label_index
from job.worker import run
from job.worker.config import from_args
from tests.job.worker_helpers import BUCKET, RESULTS, TABLE, image_bytes, world

ITEM = {
    "bucket": "b",
    "key": "k.jpg",
    "status": "done",
    "labels": [{"name": "Car", "confidence": 91.0}],
    "custom_labels": [{"name": "Logo", "confidence": 88.0}],
    "text": [{"text": "STOP here", "confidence": 99.0}],
    "exif": {
        "make": "Canon",
        "model": "Canon EOS 5D",
        "datetime_original": "2024-05-01T10:00:00",
        "gps": {"latitude": 48.8584, "longitude": 2.2945},
    },
}


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (Filters(label="car", min_confidence=90), True),
        (Filters(label="Car", min_confidence=95), False),
        (Filters(label="custom:Logo", min_confidence=80), True),
        (Filters(text="stop"), True),
        (Filters(text="sto"), False),
        (Filters(text="stop here"), True),
        (Filters(camera="canon/eos 5d"), True),
        (Filters(camera="Nikon"), False),
        (Filters(taken_from="2024-05-01", taken_to="2024-05-01"), True),
        (Filters(taken_from="2024-05-02"), False),
        (Filters(near=(48.8606, 2.3376, 5.0)), True),  # the Louvre, 3.2 km away
        (Filters(near=(48.8606, 2.3376, 2.0)), False),
    ],
)
def test_each_filter_holds_or_not(wanted, expected):
    assert filters.matches(ITEM, wanted) is expected


def test_distance_and_near_parsing():
    assert filters.distance_km(48.8584, 2.2945, 48.8606, 2.3376) == pytest.approx(3.16, abs=0.05)
    assert filters.parse_near("1,2,3") == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError):
        filters.parse_near("91,0,1")


def _indexed_world(monkeypatch):
    """Three images labelled by moto's canned answer, through the worker (so the index is real)."""
    world({f"in/s{i}.jpg": image_bytes("JPEG", color=(i * 50, 0, 0)) for i in range(3)})
    assert (
        run.run(
            from_args(
                {"source": f"s3://{BUCKET}/in/", "table": TABLE, "results_uri": f"s3://{RESULTS}/r"}, env={}
            )
        )
        == 0
    )


def _args(**kw):
    base = dict(
        table=TABLE,
        label_table=None,
        label=None,
        min_confidence=0.0,
        limit=100,
        text=None,
        camera=None,
        taken_from=None,
        taken_to=None,
        near=None,
        scan=False,
        format="jsonl",
    )
    return SimpleNamespace(**{**base, **kw})


def test_search_by_label_uses_the_index_and_never_scans(aws, monkeypatch):
    # given indexed images (moto answers every image with "Mobile Phone" at 99.9)
    _indexed_world(monkeypatch)
    ddb = clients.client("dynamodb")
    called = []
    ddb.meta.events.register("before-call.dynamodb.*", lambda model, **_: called.append(model.name))
    # when searched by label
    out = io.StringIO()
    assert search.command(_args(label="Mobile Phone", min_confidence=50), out) == errors.EXIT_OK
    # then every image comes back, and no Scan was made
    keys = sorted(json.loads(line)["uri"].rsplit("/", 1)[1] for line in out.getvalue().splitlines())
    assert keys == ["s0.jpg", "s1.jpg", "s2.jpg"]
    assert "Scan" not in called and "Query" in called and "BatchGetItem" in called


def test_stale_index_rows_are_not_shown(aws, monkeypatch):
    # given an image whose stored result changed after its index row was written
    _indexed_world(monkeypatch)
    ddb = clients.client("dynamodb")
    ddb.update_item(
        TableName=TABLE,
        Key={"bucket": {"S": BUCKET}, "key": {"S": "in/s1.jpg"}},
        UpdateExpression="SET etag = :e",
        ExpressionAttributeValues={":e": {"S": "changed"}},
    )
    # when searched / then the stale hit is dropped
    got = list(search.find(ddb, TABLE, label_index.table_name(TABLE), Filters(label="mobile phone"), 100))
    assert sorted(i["key"] for i in got) == ["in/s0.jpg", "in/s2.jpg"]


def test_filters_without_a_label_say_they_need_opensearch_or_scan(aws, caplog, monkeypatch):
    # given results / when searched by text alone
    _indexed_world(monkeypatch)
    assert search.command(_args(text="stop"), io.StringIO()) == errors.EXIT_USAGE
    assert any("--text need(s) OpenSearch" in getattr(r, "error", "") for r in caplog.records)
    # and with --scan it reads the table and answers as a table
    out = io.StringIO()
    assert search.command(_args(scan=True, format="table"), out) == errors.EXIT_OK
    assert out.getvalue().splitlines()[0].startswith("image") and len(out.getvalue().splitlines()) == 4


def test_opensearch_hits_are_checked_against_the_results_table(aws, monkeypatch):
    # given three indexed images, one deleted since and one changed since its document was written
    import openmock

    from job.core import opensearch, store
    from job.worker.opensearch_sink import OpenSearchSink

    _indexed_world(monkeypatch)
    ddb = clients.client("dynamodb")
    cluster = openmock.FakeOpenSearch()
    sink = OpenSearchSink(cluster, "bl")
    for raw in ddb.scan(TableName=TABLE)["Items"]:
        sink.add(store.deserialize(raw))
    sink.flush()
    ddb.update_item(
        TableName=TABLE,
        Key={"bucket": {"S": BUCKET}, "key": {"S": "in/s0.jpg"}},
        UpdateExpression="SET #s = :d",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "deleted"}},
    )
    ddb.update_item(
        TableName=TABLE,
        Key={"bucket": {"S": BUCKET}, "key": {"S": "in/s1.jpg"}},
        UpdateExpression="SET etag = :e",
        ExpressionAttributeValues={":e": {"S": "new"}},
    )
    monkeypatch.setattr(opensearch, "connect", lambda settings: cluster)
    # when searched through OpenSearch (by camera-free, label-free filters: every image)
    out = io.StringIO()
    args = _args(
        opensearch_endpoint="https://search.example.com",
        opensearch_index="bl",
        opensearch_auth="sigv4",
        opensearch_secret_arn=None,
    )
    assert search.command(args, out) == errors.EXIT_OK
    # then only the image still stored as that document is returned
    assert [json.loads(line)["uri"] for line in out.getvalue().splitlines()] == [f"s3://{BUCKET}/in/s2.jpg"]
