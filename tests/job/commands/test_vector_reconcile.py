"""`reconcile --vectors`: a deleted image's vector left behind is found and removed after the grace, a vector
with no result is reported and kept, and a done image whose vector is gone is reported."""

from __future__ import annotations

import json

import pytest

from job import cli
from job.commands import vector_reconcile
from job.core import clients, errors, store, vectors
from tests.job.worker.test_embedding_run import IMAGES, VECTORS, _encoders
from tests.job.worker_helpers import BUCKET, TABLE


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (None, "unknown"),
        ({"status": "deleted", "deleted_at": "2026-01-01T00:00:00.000Z"}, "orphaned"),
        ({"status": "deleted", "deleted_at": "2026-03-01T00:00:00.000Z"}, None),  # younger than the grace
        ({"status": "done"}, None),
        ({"status": "error"}, None),
    ],
)
def test_classify(item, expected):
    assert vector_reconcile.classify(item, "2026-02-01T00:00:00.000Z") == expected


def _tombstone(key: str, deleted_at: str) -> None:
    clients.client("dynamodb").put_item(
        TableName=TABLE,
        Item=store.serialize(
            {
                "bucket": BUCKET,
                "key": key,
                "status": "deleted",
                "order_time": deleted_at,
                "deleted_at": deleted_at,
            }
        ),
    )


def _reconcile(*args: str, capsys) -> tuple[int, list[dict]]:
    code = cli.main(["reconcile", "--vectors", "--table", TABLE, "--vector-bucket", VECTORS, *args])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines if line.startswith("{")]


def test_orphaned_unknown_and_missing_vectors_are_found_and_only_orphans_are_deleted(embedded, capsys):
    # given embedded images where red.jpg was deleted an hour and more ago and blue.png a moment ago, both
    # vectors left behind by a delete that raced the embedding; red.heic's result is gone (a result still
    # waiting to be written looks the same); and blue.webp's vector was lost
    _tombstone("in/red.jpg", "2026-01-01T00:00:00.000Z")
    _tombstone("in/blue.png", "2999-01-01T00:00:00.000Z")
    ddb = clients.client("dynamodb")
    ddb.delete_item(TableName=TABLE, Key=store.serialize({"bucket": BUCKET, "key": "in/red.heic"}))
    index = vectors.index_name(_encoders().digest)
    store_client = clients.client("s3vectors")
    store_client.delete_vectors(
        vectorBucketName=VECTORS, indexName=index, keys=[vectors.vector_key(BUCKET, "in/blue.webp")]
    )
    # when the vectors are reconciled
    code, found = _reconcile(capsys=capsys)
    # then each is reported as what it is, the fresh tombstone's vector left alone
    assert code == errors.EXIT_OK
    kinds = {(f["kind"], f["uri"]) for f in found}
    assert kinds == {
        ("orphaned", f"s3://{BUCKET}/in/red.jpg"),
        ("unknown", f"s3://{BUCKET}/in/red.heic"),
        ("missing", f"s3://{BUCKET}/in/blue.webp"),
    }
    assert len(IMAGES) == 4
    # when they are reconciled with --fix / then only the orphan's vector is deleted
    assert _reconcile("--fix", capsys=capsys)[0] == errors.EXIT_OK
    remaining = store_client.get_vectors(
        vectorBucketName=VECTORS,
        indexName=index,
        keys=[vectors.vector_key(BUCKET, k) for k in ("in/red.jpg", "in/red.heic", "in/blue.png")],
    )["vectors"]
    assert {v["key"] for v in remaining} == {f"{BUCKET}/in/red.heic", f"{BUCKET}/in/blue.png"}
    code, found = _reconcile(capsys=capsys)
    assert "orphaned" not in {f["kind"] for f in found}


def test_without_a_vector_bucket_or_an_inventory_reconcile_says_what_it_needs(aws, capsys):
    assert cli.main(["reconcile", "--vectors", "--table", TABLE]) == errors.EXIT_CONFIG
    assert "--vector-bucket" in capsys.readouterr().err
    assert cli.main(["reconcile", "--table", TABLE]) == errors.EXIT_CONFIG
    assert "needs --inventory" in capsys.readouterr().err
