"""Inventory reports of any size: what the Lambda cannot read in the time it has, the children read, split
by data file, and no data file is read by the Lambda; what it can, it still reads for exact counts."""

from __future__ import annotations

import json
import time

import pytest

from job.core import clients, inventory
from job.demo.pipeline import LambdaContext
from job.worker.sources import open_source
from lambda_submitter import handler, triggers
from tests.inventory_files import CSV_SCHEMA, EVENTS, ROWS, write_report
from tests.lambda_submitter.conftest import IMAGES, INVENTORY, job_details

DEPLOYED_TIMEOUT_S = 300  # submitter_timeout_seconds
DEPLOYED_MEMORY_MB = "2048"  # submitter_memory_mb, as Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE


def _gets() -> list[str]:
    """Every S3 GetObject any client of bucketlens sends from now on, by key (the Lambda's and the children's)."""
    got: list[str] = []
    clients.reset()  # every client made from here on carries the hook
    clients._session().events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: got.append(params["Key"])
    )
    return got


def _claimed_report(s3, files: int, bytes_each: int) -> str:
    """AWS's published CSV manifest whose data files claim `bytes_each` bytes each; none of them exists."""
    manifest = json.loads((EVENTS / "inventory_manifest.json").read_text())
    manifest.update(sourceBucket=IMAGES, destinationBucket=f"arn:aws:s3:::{INVENTORY}", fileSchema=CSV_SCHEMA)
    manifest["files"] = [
        {"key": f"{IMAGES}/big/data/part-{n:05d}.csv.gz", "size": bytes_each, "MD5checksum": "x"}
        for n in range(files)
    ]
    key = f"{IMAGES}/big/2026-12-06T01-00Z/manifest.json"
    s3.put_object(Bucket=INVENTORY, Key=key, Body=json.dumps(manifest).encode())
    return f"s3://{INVENTORY}/{key}"


def test_a_billion_row_report_is_submitted_in_seconds_without_reading_a_data_file(stack, monkeypatch):
    # given the deployed Lambda (2048 MB, 300 s) and a report whose 2,000 data files claim 10 MB each:
    # some 10^9 rows, hours of reading on one vCPU
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEPLOYED_MEMORY_MB)
    uri = _claimed_report(stack["s3"], files=2000, bytes_each=10_000_000)
    gets = _gets()
    report = inventory.parse_inventory_manifest(
        stack["s3"].get_object(Bucket=INVENTORY, Key=uri.split("/", 3)[3])["Body"].read()
    )
    assert triggers.estimated_rows(report) == 10**9
    gets.clear()
    # when the inventory trigger handles it
    began = time.monotonic()
    summary = handler.handler({"inventory": uri}, LambdaContext(DEPLOYED_TIMEOUT_S))
    took = time.monotonic() - began
    # then it is submitted in seconds, having read the report's manifest once and no data file
    assert took < 30, took
    assert [k for k in gets if k.startswith(f"{IMAGES}/")] == [uri.split("/", 3)[3]]
    # and the children read the report themselves: one per data file, in array jobs of at most 10,000
    assert summary["manifest"] == uri and summary["images"] is None and summary["shards"] == 2000
    (job,) = job_details(stack["batch"], summary["job_ids"])
    assert job["parameters"] == {**job["parameters"], "source": uri, "shards": "2000", "shard_offset": "0"}
    assert job["arrayProperties"]["size"] == 2000


@pytest.mark.parametrize("large", [True, False])
def test_the_children_read_a_report_too_big_for_the_lambda_each_row_exactly_once(stack, monkeypatch, large):
    # given a real CSV report of three data files, and a Lambda with a second left to read it in; the
    # report stands for a large one (over HASH_SPLIT_MAX_BYTES) or is the small one it is
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEPLOYED_MEMORY_MB)
    monkeypatch.setattr(triggers, "READ_ROWS_PER_VCPU_S", 1)  # so that even these rows take too long
    if large:
        monkeypatch.setattr(triggers, "HASH_SPLIT_MAX_BYTES", 0)
    rows = [(f"set{n}/{key}", *rest) for n in range(3) for key, *rest in ROWS]  # every key once
    uri = write_report(stack["s3"], "CSV", IMAGES, INVENTORY, rows, files=3)
    gets = _gets()
    # when the inventory trigger handles it
    summary = handler.handler({"inventory": uri}, LambdaContext(1))
    # then no data file was read by the Lambda: the children will read the report
    assert [k for k in gets if "/data/" in k] == [] and summary["images"] is None
    gets.clear()
    # when each child reads its part of the source it is given
    seen = []
    for index in range(summary["shards"]):
        _, refs = open_source(clients.client("s3"), uri, index, summary["shards"], 0)
        seen += [r.key for r in refs]
    # then every image row is read by exactly one child
    expected = list(triggers.iter_inventory_refs(stack["s3"], _report(stack["s3"], uri), None))
    assert sorted(seen) == sorted(r.key for r in expected) and len(seen) == len(set(seen))
    # and a large report is split by data file: one child each, every file fetched exactly once; a small
    # one is read whole by each of its children, which keep the rows that hash to them
    data_gets = [k for k in gets if "/data/" in k and "part-" in k]
    if large:
        assert summary["shards"] == 3 and sorted(data_gets) == sorted(set(data_gets)) and len(data_gets) == 3
    else:
        assert summary["shards"] > 3 and len(data_gets) == 3 * summary["shards"]


def test_a_report_the_lambda_can_read_in_time_becomes_an_exact_manifest(stack, monkeypatch):
    # given the deployed Lambda and a small real CSV report
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEPLOYED_MEMORY_MB)
    uri = write_report(stack["s3"], "CSV", IMAGES, INVENTORY, ROWS, files=2)
    # when the inventory trigger handles it with the function's whole timeout ahead
    summary = handler.handler({"inventory": uri}, LambdaContext(DEPLOYED_TIMEOUT_S))
    # then the Lambda read it and wrote a manifest with the exact count
    assert summary["images"] is not None and summary["manifest"].endswith("/manifest.json")


def _report(s3, uri: str) -> inventory.InventoryManifest:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return triggers.read_inventory(s3, bucket, key)[0]
