"""ORC and Parquet inventory reports through the submitter: the inventory trigger, the command line's dry
run, and the Lambda, which has no pyarrow and hands the report to the children."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from job.core import inventory
from lambda_submitter import cli, handler, triggers
from tests.inventory_files import IMAGES, ROWS, write_report
from tests.lambda_submitter.conftest import IMAGES as IMAGES_BUCKET
from tests.lambda_submitter.conftest import INVENTORY, job_details


def _event(uri: str) -> dict:
    return {"inventory": uri}


@pytest.mark.parametrize("fmt", ["CSV", "ORC", "Parquet"])
def test_the_dry_run_counts_the_same_images_in_every_format(stack, fmt):
    # given the same report written as CSV, ORC and Parquet
    uri = write_report(stack["s3"], fmt, IMAGES_BUCKET, INVENTORY, ROWS * 3, files=2)
    out = io.StringIO()
    # when `python -m lambda_submitter inventory URI --dry-run` runs
    assert cli.main(["inventory", uri, "--dry-run"], out) == 0
    # then it finds exactly the current, non-empty images, whatever the format
    assert f"images found:  {len(IMAGES) * 3}" in out.getvalue()


def test_where_pyarrow_is_installed_a_parquet_report_becomes_an_exact_manifest(stack):
    # given a Parquet report / when the inventory trigger handles it with pyarrow present
    uri = write_report(stack["s3"], "Parquet", IMAGES_BUCKET, INVENTORY, ROWS)
    summary = handler.handler(_event(uri), None)
    # then a bucketlens manifest of exactly the images was submitted
    assert summary["images"] == len(IMAGES) and summary["manifest"].endswith("/manifest.json")
    assert summary["manifest"].startswith("s3://bucketlens-manifests/")


def test_in_the_lambda_the_children_read_a_columnar_report_themselves_once(stack, monkeypatch):
    # given the Lambda, which has no pyarrow, and an ORC report of two data files
    monkeypatch.setattr(inventory, "columnar_available", lambda: False)
    uri = write_report(stack["s3"], "ORC", IMAGES_BUCKET, INVENTORY, ROWS, files=2)
    # when the inventory trigger handles it, twice (a redelivery)
    first = handler.handler(_event(uri), None)
    second = handler.handler(_event(uri), None)
    # then one array job reads the report itself: its source is the report, one child per data file at least
    assert first["images"] is None and first["manifest"] == uri and first["shards"] >= 2
    (job,) = job_details(stack["batch"], first["job_ids"])
    assert job["parameters"]["source"] == uri and job["parameters"]["shards"] == str(first["shards"])
    assert job["arrayProperties"]["size"] == first["shards"]
    # and the redelivery submitted nothing new
    assert second["job_ids"] == first["job_ids"]


def test_report_shards_follow_the_data_files_and_their_size(stack):
    # given a report of 3 files of 2 MB (about 100,000 rows each at 20 bytes a row) and shards of 1000
    report = inventory.InventoryManifest(
        "b", "i", "Parquet", ["key"], [{"key": f"{n}", "size": 2_000_000} for n in range(3)]
    )
    cfg = SimpleNamespace(shard_size=1000)
    # then there are about 300 children, and never fewer than the files
    assert triggers.report_shards(report, cfg) == 300
    tiny = inventory.InventoryManifest(
        "b", "i", "ORC", ["key"], [{"key": f"{n}", "size": 10} for n in range(4)]
    )
    assert triggers.report_shards(tiny, cfg) == 4
