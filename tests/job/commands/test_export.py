import csv
import io
import json
from decimal import Decimal

from job import cli
from job.commands import export
from job.core import clients, errors, store
from job.core.manifest import ObjectRef
from tests.job.worker_helpers import TABLE, world

REF = ObjectRef("bl-images", "a b/ü+.jpg", etag="e1", size=9, last_modified="2026-01-01T00:00:00.000Z")


def _seed() -> None:
    world({})
    ddb = clients.client("dynamodb")
    done = store.build_result(
        REF,
        "labels,text",
        REF.last_modified,
        {"format": "JPEG", "make": "Canon", "f_number": 2.8, "gps": {"latitude": 48.5, "longitude": 2.25}},
        labels=[{"name": "Car", "confidence": 97.5, "parents": ["Vehicle"], "categories": []}],
        text=[{"text": "STOP", "confidence": 99.0}],
    )
    bad = store.build_error(
        ObjectRef("bl-images", "x.png", etag="e2"), "labels", "2026-01-01T00:00:00.000Z", "BadImage", "broken"
    )
    for item in (done, bad):
        assert store.put_result(ddb, TABLE, item)


def test_row_flattens_an_item():
    # given a stored item with Decimals / when flattened
    flat = export.row(
        {"bucket": "b", "key": "k", "status": "done", "exif": {"iso": Decimal("100"), "gps": {"latitude": 1}}}
    )
    # then the URI and EXIF fields are top level
    assert flat["uri"] == "s3://b/k" and flat["iso"] == Decimal("100") and flat["gps_latitude"] == 1


def test_export_jsonl_writes_one_line_per_image(aws, capsys):
    # given two results
    _seed()
    # when exported as JSON Lines
    assert cli.main(["export", "--table", TABLE]) == errors.EXIT_OK
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # then each image has its URI, status, EXIF, labels and text
    by_uri = {line["uri"]: line for line in lines}
    good = by_uri["s3://bl-images/a b/ü+.jpg"]
    assert good["status"] == "done" and good["make"] == "Canon" and good["f_number"] == 2.8
    assert good["gps_latitude"] == 48.5 and good["labels"] == [{"name": "Car", "confidence": 97.5}]
    assert good["text"] == ["STOP"]
    bad = by_uri["s3://bl-images/x.png"]
    assert (bad["status"], bad["error_class"], bad["error_message"]) == ("error", "BadImage", "broken")


def test_export_csv_has_a_header_and_joined_lists(aws):
    # given two results
    _seed()
    out = io.StringIO()
    # when exported as CSV
    count = export.write(export.scan(clients.client("dynamodb"), TABLE), out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    # then there is one row per image and lists are joined
    assert count == 2 and len(rows) == 2
    good = next(r for r in rows if r["status"] == "done")
    assert good["labels"] == "Car:97.5" and good["text"] == "STOP" and good["uri"].endswith("ü+.jpg")


def test_export_of_a_missing_table_is_a_config_exit(aws):
    # given no table / when exported / then 78
    assert cli.main(["export", "--table", "missing"]) == errors.EXIT_CONFIG
