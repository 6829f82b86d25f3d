"""S3 Inventory reports in the three formats S3 writes (CSV, ORC, Parquet), for the tests of every reader.

The manifests are AWS's published samples (tests/events/SOURCES.md) with our buckets and data file; the
data files are written here with the column names and types those manifests' fileSchema gives, since S3
publishes no data file. CSV keys are URL-encoded as S3 encodes them; ORC and Parquet keys are not.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

EVENTS = Path(__file__).resolve().parent / "events"
CSV_SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"
SAMPLES = {
    "CSV": "inventory_manifest.json",
    "ORC": "inventory_manifest_orc.json",
    "Parquet": "inventory_manifest_parquet.json",
}
EXTENSION = {"CSV": ".csv.gz", "ORC": ".orc", "Parquet": ".parquet"}

# (key, version_id, is_latest, is_delete_marker, size, last_modified, etag)
Row = tuple[str, str | None, bool, bool, int | None, str, str | None]


def csv_bytes(bucket: str, rows: list[Row]) -> bytes:
    lines = []
    for key, version, latest, marker, size, modified, etag in rows:
        fields = [bucket, quote_plus(key, safe="/"), version or "", str(latest).lower(), str(marker).lower()]
        fields += ["" if size is None else str(size), modified, etag or "", "STANDARD"]
        lines.append(",".join(f'"{f}"' for f in fields) + "\n")
    return gzip.compress("".join(lines).encode())


def _table(bucket: str, rows: list[Row], zone: str | None):
    """Parquet's last_modified_date is TIMESTAMP(MILLIS) in UTC; ORC's `timestamp` has no zone."""
    import pyarrow as pa

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    return pa.table(
        {
            "bucket": pa.array([bucket] * len(rows), pa.string()),
            "key": pa.array([r[0] for r in rows], pa.string()),
            "version_id": pa.array([r[1] for r in rows], pa.string()),
            "is_latest": pa.array([r[2] for r in rows], pa.bool_()),
            "is_delete_marker": pa.array([r[3] for r in rows], pa.bool_()),
            "size": pa.array([r[4] for r in rows], pa.int64()),
            "last_modified_date": pa.array(
                [when(r[5]) if zone else when(r[5]).replace(tzinfo=None) for r in rows],
                pa.timestamp("ms", tz=zone),
            ),
            "e_tag": pa.array([r[6] for r in rows], pa.string()),
            "storage_class": pa.array(["STANDARD"] * len(rows), pa.string()),
        }
    )


def data_file(fmt: str, bucket: str, rows: list[Row], row_group: int = 64 * 1024) -> bytes:
    """One inventory data file of `rows` in the format S3 writes for `fmt`."""
    if fmt == "CSV":
        return csv_bytes(bucket, rows)
    out = io.BytesIO()
    if fmt == "ORC":
        from pyarrow import orc

        orc.write_table(_table(bucket, rows, None), out)
    else:
        import pyarrow.parquet as pq

        pq.write_table(_table(bucket, rows, "UTC"), out, row_group_size=row_group)
    return out.getvalue()


def write_report(
    s3, fmt: str, source_bucket: str, inventory_bucket: str, rows: list[Row], files: int = 1
) -> str:
    """Data files and a manifest.json shaped as AWS's sample for `fmt`; returns the manifest's s3:// URI."""
    manifest = json.loads((EVENTS / SAMPLES[fmt]).read_text())
    manifest.update(sourceBucket=source_bucket, destinationBucket=f"arn:aws:s3:::{inventory_bucket}")
    if fmt == "CSV":
        manifest["fileSchema"] = CSV_SCHEMA
    manifest["files"] = []
    for number in range(files):
        part = rows[number::files]
        key = f"{source_bucket}/{fmt.lower()}/data/part-{number}{EXTENSION[fmt]}"
        body = data_file(fmt, source_bucket, part)
        s3.put_object(Bucket=inventory_bucket, Key=key, Body=body)
        manifest["files"].append({"key": key, "size": len(body), "MD5checksum": "x"})
    key = f"{source_bucket}/{fmt.lower()}/2026-01-02T01-00Z/manifest.json"
    s3.put_object(Bucket=inventory_bucket, Key=key, Body=json.dumps(manifest).encode())
    return f"s3://{inventory_bucket}/{key}"


# A report as real buckets have them: images, a key with a space, a plus and a non-ASCII letter (which
# only CSV URL-encodes), an old version, a delete marker, an empty image (work: its result is a recorded
# EmptyFile error), files that are not images.
ROWS: list[Row] = [
    ("photos/IMG_0001.JPG", "v1", True, False, 2048, "2026-01-01T10:00:00.000Z", "e1"),
    ("photos/red flower+1 café.jpg", None, True, False, 4096, "2026-01-01T10:00:01.000Z", "e2"),
    ("photos/old.jpg", "v0", False, False, 1024, "2025-12-01T10:00:00.000Z", "e3"),
    ("photos/gone.png", "v9", True, True, None, "2026-01-01T09:00:00.000Z", None),
    (
        "photos/empty.heic",
        "v2",
        True,
        False,
        0,
        "2026-01-01T10:00:02.000Z",
        "d41d8cd98f00b204e9800998ecf8427e",
    ),
    ("photos/notes.txt", None, True, False, 12, "2026-01-01T10:00:03.000Z", "e4"),
    ("photos/2026/a b/IMG_0002.heic", "v3", True, False, 8192, "2026-01-01T10:00:04.000Z", "e5"),
]
IMAGES = [
    "photos/2026/a b/IMG_0002.heic",
    "photos/IMG_0001.JPG",
    "photos/empty.heic",
    "photos/red flower+1 café.jpg",
]
