"""S3 Inventory in ORC and Parquet, read like CSV: the same images, versions and delete markers handled,
keys URL-decoded only where the format encodes them (CSV). Manifests: AWS's samples (tests/events)."""

from __future__ import annotations

import io
import json

import pytest

from job.core import inventory
from tests.inventory_files import CSV_SCHEMA, EVENTS, EXTENSION, IMAGES, ROWS, SAMPLES, data_file


def _report(fmt: str) -> inventory.InventoryManifest:
    manifest = json.loads((EVENTS / SAMPLES[fmt]).read_text())
    if fmt == "CSV":
        manifest["fileSchema"] = CSV_SCHEMA
    return inventory.parse_inventory_manifest(json.dumps(manifest))


def test_the_published_orc_and_parquet_manifests_parse():
    # given AWS's sample manifests / when parsed / then the format and the columns come out
    orc, parquet = _report("ORC"), _report("Parquet")
    assert (orc.file_format, parquet.file_format) == ("ORC", "Parquet") and orc.columnar and parquet.columnar
    assert orc.file_schema[:6] == ["bucket", "key", "version_id", "is_latest", "is_delete_marker", "size"]
    assert parquet.file_schema[:8] == list(inventory.COLUMNS)
    assert orc.destination_bucket == parquet.destination_bucket == "example-destination-bucket"


@pytest.mark.parametrize("fmt", ["CSV", "ORC", "Parquet"])
def test_every_format_gives_the_same_images(fmt):
    # given the same rows written as S3 writes each format: an old version, a delete marker, an empty
    # object, a text file, and a key with a space, a plus and a non-ASCII letter
    body = io.BytesIO(data_file(fmt, "my-images", ROWS))
    # when the work is read
    refs = list(
        inventory.iter_data_file(body, _report(fmt), "part" + EXTENSION[fmt], inventory.DEFAULT_EXTENSIONS)
    )
    # then exactly the current, non-empty images come out, each key as it is in the bucket
    assert sorted(r.key for r in refs) == IMAGES
    first = next(r for r in refs if r.key == "photos/IMG_0001.JPG")
    assert (first.bucket, first.version_id, first.size, first.etag) == ("my-images", "v1", 2048, "e1")
    assert first.last_modified == "2026-01-01T10:00:00.000Z"
    assert next(r for r in refs if r.key.startswith("photos/red")).version_id is None


def test_a_parquet_report_of_many_batches_is_read_whole():
    # given a Parquet file larger than one read batch, in several row groups
    rows = [
        (f"p/{i:06d}.jpg", None, True, False, 10 + i, "2026-01-01T10:00:00.000Z", f"e{i}")
        for i in range(70_000)
    ]
    body = io.BytesIO(data_file("Parquet", "b", rows, row_group=30_000))
    # when read / then every row comes out once, in order
    refs = list(inventory.iter_data_file(body, _report("Parquet"), "x.parquet"))
    assert len(refs) == 70_000 and refs[0].key == "p/000000.jpg" and refs[-1].size == 10 + 69_999


def test_without_pyarrow_a_columnar_report_says_what_to_install(monkeypatch):
    # given a machine without pyarrow (the submitter Lambda) / when a Parquet data file is read
    monkeypatch.setattr(inventory, "columnar_available", lambda: False)
    # then it is refused with the fix, and a CSV report still reads
    with pytest.raises(ValueError, match="need pyarrow"):
        inventory.iter_data_file(io.BytesIO(b""), _report("Parquet"), "x.parquet")
    csv = io.BytesIO(data_file("CSV", "b", ROWS))
    csv_refs = inventory.iter_data_file(csv, _report("CSV"), "x.csv.gz", inventory.DEFAULT_EXTENSIONS)
    assert len(list(csv_refs)) == len(IMAGES)
