"""S3 Inventory parsing: the report shape S3 writes, keys decoded once, and the work filter."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from job.core import inventory
from job.core.manifest import ObjectRef

EVENTS = Path(__file__).resolve().parents[2] / "events"
SCHEMA = ["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag"]


def _refs(name: str, extensions=None) -> list[ObjectRef]:
    report = inventory.parse_inventory_manifest((EVENTS / "inventory_manifest.json").read_bytes())
    with open(EVENTS / name, "rb") as stream:
        return list(inventory.iter_inventory_rows(stream, report.file_schema, True, extensions))


def test_manifest_fields_come_from_the_s3_shape() -> None:
    # given the manifest.json S3 Inventory writes
    data = (EVENTS / "inventory_manifest.json").read_bytes()
    # when it is parsed
    report = inventory.parse_inventory_manifest(data)
    # then buckets, schema and data files are plain values
    assert inventory.is_inventory_manifest(data)
    assert report.source_bucket == "bucketlens-images"
    assert report.destination_bucket == "bucketlens-inventory"
    assert report.file_format == "CSV"
    assert report.file_schema[:3] == ["Bucket", "Key", "VersionId"]
    assert [f["key"].rsplit("/", 1)[-1] for f in report.files] == [
        "inventory-data-1.csv.gz",
        "inventory-data-2.csv.gz",
    ]
    assert all(len(f["MD5checksum"]) == 32 for f in report.files)


def test_bucketlens_manifests_and_unknown_formats_are_refused() -> None:
    # given a bucketlens manifest, a format S3 does not write, and an ORC schema without a key column
    ours = json.dumps({"format": "bucketlens-manifest/1", "shards": []})
    avro = json.dumps({"sourceBucket": "b", "fileFormat": "Avro", "fileSchema": "x", "files": []})
    keyless = json.dumps(
        {"sourceBucket": "b", "fileFormat": "ORC", "fileSchema": "struct<size:bigint>", "files": []}
    )
    # then none parses as an inventory report
    assert not inventory.is_inventory_manifest(ours)
    with pytest.raises(ValueError, match="not an S3 Inventory"):
        inventory.parse_inventory_manifest(ours)
    with pytest.raises(ValueError, match="CSV, ORC, Parquet"):
        inventory.parse_inventory_manifest(avro)
    with pytest.raises(ValueError, match="no key column"):
        inventory.parse_inventory_manifest(keyless)


def test_keys_are_url_decoded_exactly_once() -> None:
    # given data file 1 with `+` for space, `%2B` for plus and UTF-8 percent escapes
    refs = _refs("inventory-data-1.csv.gz")
    # when read, then each key is the real S3 key
    keys = [r.key for r in refs]
    assert "photos/red flower.jpg" in keys
    assert "photos/a+b.jpg" in keys
    assert "photos/café 写真.JPG" in keys


def test_delete_markers_old_versions_and_other_files_are_not_work() -> None:
    # given two data files with a delete marker, an old version, a zero-byte png and a text file
    refs = _refs("inventory-data-1.csv.gz", "jpg,png,heic") + _refs("inventory-data-2.csv.gz", "jpg,png,heic")
    # then only current images remain, the empty one too (its result is a recorded EmptyFile error;
    # extension match is case-insensitive)
    assert sorted(r.key for r in refs) == [
        "photos/2026/deep/nested/IMG_0001.HEIC",
        "photos/a+b.jpg",
        "photos/café 写真.JPG",
        "photos/empty.png",
        "photos/red flower.jpg",
        "photos/with,comma.png",
    ]
    first = next(r for r in refs if r.key == "photos/red flower.jpg")
    assert first == ObjectRef(
        "bucketlens-images",
        "photos/red flower.jpg",
        "v1",
        "5d41402abc4b2a76b9719d911017c592",
        2048,
        "2026-01-01T10:00:00.000Z",
    )


def test_without_extensions_every_current_object_is_kept() -> None:
    # given data file 2 read with no extension filter
    keys = [r.key for r in _refs("inventory-data-2.csv.gz")]
    # then the text file and the zero-byte object stay
    assert "photos/readme.txt" in keys and "photos/empty.png" in keys


@pytest.mark.parametrize(
    ("latest", "marker", "size", "key", "expected"),
    [
        (True, False, 10, "a.jpg", True),
        (False, False, 10, "a.jpg", False),
        (True, True, None, "a.jpg", False),
        (True, False, 0, "a.jpg", True),  # a zero-byte image: its result is a recorded EmptyFile error
        (True, False, 10, "a.gif", False),
        (True, False, 10, "dir.jpg/", False),
        (True, False, None, "A.JPEG", True),
    ],
)
def test_is_work(latest: bool, marker: bool, size: int | None, key: str, expected: bool) -> None:
    # given one row
    row = inventory.InventoryRow("b", key, None, latest, marker, size, None, None)
    # then the filter decides as the rules say
    assert inventory.is_work(row, inventory.normalize_extensions("jpg, .JPEG")) is expected


def test_plain_csv_without_optional_columns_uses_the_default_bucket() -> None:
    # given an uncompressed report with only Key and Size columns
    stream = io.BytesIO(b'"x%2Fy.png","5"\n\n"z.png","7"\n')
    # when read
    refs = list(inventory.iter_inventory_rows(stream, ["Key", "Size"], False, default_bucket="src"))
    # then the bucket comes from the manifest and blank lines are ignored
    assert [(r.bucket, r.key, r.size) for r in refs] == [("src", "x/y.png", 5), ("src", "z.png", 7)]


def test_rows_stream_from_a_gzip_file_object() -> None:
    # given a gzip stream larger than one read buffer
    lines = "".join(
        f'"b","k{i}.jpg","","true","false","1","2026-01-01T00:00:00.000Z","e"\n' for i in range(20000)
    )
    stream = io.BytesIO(gzip.compress(lines.encode()))
    # when iterated lazily
    rows = inventory.iter_inventory_rows(stream, SCHEMA, True)
    first = next(rows)
    # then the first row is available before the rest is read and all arrive in order
    assert first.key == "k0.jpg"
    assert sum(1 for _ in rows) == 19999


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
def test_key_decoding_is_unquote_plus(key: str) -> None:
    # given any key encoded form-style (and the raw text itself, which may hold stray % or +)
    for raw in (quote_plus(key, safe="/"), key):
        # then the fast decoder agrees with unquote_plus
        assert inventory._decode_key(raw) == unquote_plus(raw)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
            st.sampled_from([".jpg", ".PNG", ".txt", "/", ".heic"]),
            st.booleans(),
            st.booleans(),
            st.sampled_from(["", "0", "7", "123456"]),
            st.sampled_from(['"q"', "", "abc"]),
        ),
        max_size=20,
    )
)
def test_fast_path_equals_rows_and_filter(rows: list) -> None:
    # given quoted CSV rows like S3 writes, with some fields holding quotes or commas
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for stem, ext, latest, marker, size, etag in rows:
        writer.writerow(["b", quote_plus(stem + ext, safe="/"), "", str(latest), str(marker), size, "", etag])
    data = buf.getvalue().encode()
    suffixes = inventory.normalize_extensions("jpg,png,heic")
    # when read through the streaming path and through iter_rows + is_work
    fast = list(inventory.iter_inventory_rows(io.BytesIO(data), SCHEMA, False, "jpg,png,heic"))
    slow = [
        r.to_ref()
        for r in inventory.iter_rows(io.BytesIO(data), SCHEMA, False)
        if inventory.is_work(r, suffixes)
    ]
    # then both give the same refs
    assert fast == slow


def test_rows_with_unquoted_empty_fields_parse_on_both_paths() -> None:
    # given an S3 Inventory CSV whose empty fields are unquoted (`,,`), as some writers and hand-made
    # reports have them, next to S3's all-quoted form (schema: Bucket, Key, VersionId, IsLatest,
    # IsDeleteMarker, Size, LastModifiedDate, ETag)
    schema = ["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag"]
    data = (
        b'"b","photos/a+b.jpg",,"true","false","10","2026-01-01T00:00:00.000Z","e1"\n'
        b'"b","photos/c.jpg","","true","false","20","2026-01-01T00:00:00.000Z","e2"\n'
        b'"b","photos/old.jpg",,"false",,"30","2026-01-01T00:00:00.000Z","e3"\n'
    )
    # when read by the fast path and by the row reader
    refs = list(inventory.iter_inventory_rows(io.BytesIO(data), schema, False, None))
    rows = list(inventory.iter_rows(io.BytesIO(data), schema, False))
    # then both read every field in its column: keys decoded, no version, the old version left out
    assert [(r.key, r.version_id, r.size, r.etag) for r in refs] == [
        ("photos/a b.jpg", None, 10, "e1"),
        ("photos/c.jpg", None, 20, "e2"),
    ]
    assert [(r.key, r.is_latest, r.size) for r in rows] == [
        ("photos/a b.jpg", True, 10),
        ("photos/c.jpg", True, 20),
        ("photos/old.jpg", False, 30),
    ]
