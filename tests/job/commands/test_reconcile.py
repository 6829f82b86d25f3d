"""Reconcile: a hand-made inventory against a table with missing, stale and orphaned results."""

from __future__ import annotations

import gzip
import io
import json
from types import SimpleNamespace

import pytest

from job.commands import provision, reconcile
from job.core import clients, errors, label_index, store
from tests.batch_queue import job_queue

IMAGES, INVENTORY, MANIFESTS, TABLE = "rc-images", "rc-inventory", "rc-manifests", "rc-results"
SNAPSHOT_MS = 1767315600000  # 2026-01-02T01:00:00Z


@pytest.mark.parametrize(
    ("stored", "listed", "expected"),
    [
        (None, {"etag": "a"}, "missing"),
        ({"status": "deleted", "last_modified": "2026-01-01T00:00:00.000Z"}, {"etag": "a"}, "missing"),
        (
            {"status": "done", "etag": "old", "last_modified": "2026-01-01T00:00:00.000Z"},
            {"etag": "a"},
            "stale",
        ),
        ({"status": "done", "etag": "new", "last_modified": "2026-02-01T00:00:00.000Z"}, {"etag": "a"}, None),
        ({"status": "done", "etag": "a"}, {"etag": "a"}, None),
        ({"status": "error", "etag": "a", "last_modified": "2026-01-01T00:00:00.000Z"}, None, "orphaned"),
        ({"status": "done", "etag": "a", "last_modified": "2026-03-01T00:00:00.000Z"}, None, None),
        ({"status": "deleted", "order_time": "2026-01-01T00:00:00.000Z"}, None, None),
    ],
)
def test_classify(stored, listed, expected):
    assert reconcile.classify(stored, listed, "2026-01-02T01:00:00.000Z") == expected


def _inventory(s3, rows: list[tuple[str, str]]) -> str:
    """A CSV S3 Inventory report of (key, etag) rows, as S3 writes it."""
    lines = "".join(
        f'"{IMAGES}","{key}","","true","false","100","2026-01-01T10:00:00.000Z","{etag}"\n'
        for key, etag in rows
    )
    s3.put_object(Bucket=INVENTORY, Key="inv/data/1.csv.gz", Body=gzip.compress(lines.encode()))
    manifest = {
        "sourceBucket": IMAGES,
        "destinationBucket": f"arn:aws:s3:::{INVENTORY}",
        "version": "2016-11-30",
        "creationTimestamp": str(SNAPSHOT_MS),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1, "MD5checksum": "x"}],
    }
    s3.put_object(Bucket=INVENTORY, Key="inv/manifest.json", Body=json.dumps(manifest))
    return f"s3://{INVENTORY}/inv/manifest.json"


def _put(ddb, key: str, etag: str, status: str = "done", when: str = "2026-01-01T10:00:00.000Z") -> None:
    item = {
        "bucket": IMAGES,
        "key": key,
        "etag": etag,
        "status": status,
        "last_modified": when,
        "labels": [{"name": "Cat", "confidence": 90}],
    }
    ddb.put_item(TableName=TABLE, Item=store.serialize(store.to_dynamo(item)))
    label_index.update(ddb, label_index.table_name(TABLE), item)


@pytest.fixture
def world(aws, monkeypatch):
    s3, ddb = clients.client("s3"), clients.client("dynamodb")
    provision.setup(ddb, s3, TABLE, [IMAGES, INVENTORY, MANIFESTS], "us-east-1")
    job_queue("rc-q", "rc")
    batch = clients.client("batch")
    batch.register_job_definition(
        jobDefinitionName="rc-d",
        type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 128, "command": ["true"]},
    )
    for name, value in {
        "BUCKETLENS_JOB_QUEUE": "rc-q",
        "BUCKETLENS_JOB_DEFINITION": "rc-d",
        "BUCKETLENS_MANIFESTS_BUCKET": MANIFESTS,
        "BUCKETLENS_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    # the bucket lists ok.jpg, changed.jpg (new ETag), new.jpg (never indexed), gone-deleted.jpg (tombstoned)
    uri = _inventory(s3, [("ok.jpg", "e1"), ("changed.jpg", "e2-new"), ("new.jpg", "e3"), ("back.jpg", "e4")])
    _put(ddb, "ok.jpg", "e1")
    _put(ddb, "changed.jpg", "e2-old")
    _put(ddb, "back.jpg", None, status="deleted")
    _put(ddb, "orphan.jpg", "e5")  # its object is gone
    _put(ddb, "late.jpg", "e6", when="2026-03-01T00:00:00.000Z")  # uploaded after the report
    return SimpleNamespace(s3=s3, ddb=ddb, batch=batch, uri=uri)


def _run(uri: str, fix: bool) -> tuple[int, list[dict]]:
    out = io.StringIO()
    args = SimpleNamespace(
        inventory=uri, table=TABLE, label_table=None, fix=fix, format="jsonl", vectors=False
    )
    code = reconcile.command(args, out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_reconcile_finds_missing_stale_and_orphaned(world):
    # when reconciled without --fix
    code, found = _run(world.uri, fix=False)
    # then each kind is named, and nothing changed
    assert code == errors.EXIT_OK
    assert sorted((f["kind"], f["uri"].rsplit("/", 1)[1]) for f in found) == [
        ("missing", "back.jpg"),
        ("missing", "new.jpg"),
        ("orphaned", "orphan.jpg"),
        ("stale", "changed.jpg"),
    ]
    assert "Contents" not in world.s3.list_objects_v2(Bucket=MANIFESTS)


def test_fix_submits_the_missing_and_stale_once_and_deletes_the_orphans(world):
    # when reconciled with --fix, twice
    assert _run(world.uri, fix=True)[0] == errors.EXIT_OK
    second_code, second = _run(world.uri, fix=True)
    # then one job was submitted, over exactly the missing and stale images
    listed = world.batch.list_jobs(jobQueue="rc-q", filters=[{"name": "JOB_NAME", "values": ["*"]}])[
        "jobSummaryList"
    ]
    assert len({j["jobId"] for j in listed}) == 1
    (manifest_key,) = [
        o["Key"]
        for o in world.s3.list_objects_v2(Bucket=MANIFESTS)["Contents"]
        if o["Key"].endswith("/manifest.json")
    ]
    from job.core.manifest import Manifest, decode_shard, shard_key

    manifest = Manifest.from_json(world.s3.get_object(Bucket=MANIFESTS, Key=manifest_key)["Body"].read())
    keys = sorted(
        r.key
        for i in range(len(manifest.shards))
        for r in decode_shard(
            world.s3.get_object(Bucket=MANIFESTS, Key=shard_key(manifest_key, manifest, i))["Body"].read()
        )
    )
    assert keys == ["back.jpg", "changed.jpg", "new.jpg"]
    # and the orphan's result and label rows are gone; the second run found no orphan
    assert (
        world.ddb.get_item(TableName=TABLE, Key={"bucket": {"S": IMAGES}, "key": {"S": "orphan.jpg"}}).get(
            "Item"
        )
        is None
    )
    assert [
        r["key"] for r in label_index.query(world.ddb, label_index.table_name(TABLE), "cat")
    ] != [] and all(
        r["key"] != "orphan.jpg" for r in label_index.query(world.ddb, label_index.table_name(TABLE), "cat")
    )
    assert second_code == errors.EXIT_OK and "orphaned" not in {f["kind"] for f in second}


def _orphan_is_there(world) -> bool:
    key = {"bucket": {"S": IMAGES}, "key": {"S": "orphan.jpg"}}
    return "Item" in world.ddb.get_item(TableName=TABLE, Key=key)


def test_files_that_are_not_images_are_never_missing(world):
    # given a report that also lists a text file and a sidecar, as real buckets do
    uri = _inventory(world.s3, [("ok.jpg", "e1"), ("notes.txt", "t1"), ("IMG_1.XMP", "x1")])
    # when reconciled / then neither is reported: the submitter's extensions decide what is an image
    code, found = _run(uri, fix=False)
    assert code == errors.EXIT_OK
    assert not [f for f in found if f["uri"].endswith(("notes.txt", "IMG_1.XMP"))]


@pytest.mark.parametrize("broken", ["no submitter environment", "a queue that is not there"])
def test_fix_checks_what_it_needs_before_it_deletes_anything(world, monkeypatch, broken):
    # given --fix without the submitter's settings, or with a queue that does not exist
    if broken == "no submitter environment":
        monkeypatch.delenv("BUCKETLENS_JOB_QUEUE")
    else:
        monkeypatch.setenv("BUCKETLENS_JOB_QUEUE", "no-such-queue")
    # when reconciled with --fix / then it stops with a configuration error, and the orphan is still there
    says = (
        "missing environment variable.*BUCKETLENS_JOB_QUEUE"
        if "environment" in broken
        else "'no-such-queue' is missing"
    )
    with pytest.raises(errors.ConfigError, match=says):
        _run(world.uri, fix=True)
    assert _orphan_is_there(world)
    assert "Contents" not in world.s3.list_objects_v2(Bucket=MANIFESTS)


@pytest.mark.parametrize("fmt", ["ORC", "Parquet"])
def test_reconcile_reads_orc_and_parquet_reports(world, fmt):
    # given the world's report written as ORC or Parquet (S3's column names; keys not URL-encoded)
    from tests.inventory_files import write_report

    rows = [
        (key, None, True, False, 100, "2026-01-01T10:00:00.000Z", etag)
        for key, etag in [("ok.jpg", "e1"), ("changed.jpg", "e2-new"), ("new.jpg", "e3"), ("back.jpg", "e4")]
    ]
    uri = write_report(world.s3, fmt, IMAGES, INVENTORY, rows)
    body = json.loads(world.s3.get_object(Bucket=INVENTORY, Key=uri.split("/", 3)[3])["Body"].read())
    body["creationTimestamp"] = str(SNAPSHOT_MS)
    world.s3.put_object(Bucket=INVENTORY, Key=uri.split("/", 3)[3], Body=json.dumps(body))
    # when reconciled / then the findings are those of the CSV report
    code, found = _run(uri, fix=False)
    assert code == errors.EXIT_OK
    assert sorted((f["kind"], f["uri"].rsplit("/", 1)[1]) for f in found) == [
        ("missing", "back.jpg"),
        ("missing", "new.jpg"),
        ("orphaned", "orphan.jpg"),
        ("stale", "changed.jpg"),
    ]
