"""S3 Inventory reports, in the three formats S3 writes, read so that a report of millions of rows never
sits in memory.

An inventory report is a `manifest.json` listing data files: gzip CSV (no header; the columns are named by
the manifest's `fileSchema`), ORC or Parquet (self-describing columns: bucket, key, version_id, is_latest,
is_delete_marker, size, last_modified_date, e_tag, ...). Keys are URL-encoded in CSV only (S3 User Guide,
"Amazon S3 Inventory list": "When you're using the CSV file format, the key name is URL-encoded and must be
decoded"), form-style: a space may appear as `+` and a literal `+` always as `%2B`, so `unquote_plus` once is
right for both; ORC and Parquet keys are used as they are. CSV needs the standard library only, which is
all the submitter Lambda has; ORC and Parquet need pyarrow (the container and the command line have it),
read in batches from a temporary file, since both formats are read from the end.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote_to_bytes

from job.core.manifest import ObjectRef

DEFAULT_EXTENSIONS = ("jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif", "avif")
FORMATS = {"CSV": "CSV", "ORC": "ORC", "PARQUET": "Parquet"}  # fileFormat, any case -> S3's spelling
# the ORC and Parquet columns bucketlens reads, in ObjectRef's order of use
COLUMNS = (
    "bucket",
    "key",
    "version_id",
    "is_latest",
    "is_delete_marker",
    "size",
    "last_modified_date",
    "e_tag",
)
BATCH_ROWS = 65_536  # rows per pyarrow batch: a few MB of Python objects at a time
COPY_BLOCK = 1 << 20


@dataclass(frozen=True)
class InventoryManifest:
    """What an inventory manifest.json says: which bucket was listed and where the data files are."""

    source_bucket: str
    destination_bucket: str
    file_format: str  # CSV | ORC | Parquet
    file_schema: list[str]
    files: list[dict]

    @property
    def columnar(self) -> bool:
        """ORC or Parquet: read with pyarrow, keys not URL-encoded."""
        return self.file_format != "CSV"


@dataclass(frozen=True)
class InventoryRow:
    """One CSV row with the fields the filter needs (delete marker and latest flags are not in ObjectRef)."""

    bucket: str
    key: str
    version_id: str | None
    is_latest: bool
    is_delete_marker: bool
    size: int | None
    last_modified: str | None
    etag: str | None

    def to_ref(self) -> ObjectRef:
        return ObjectRef(
            bucket=self.bucket,
            key=self.key,
            version_id=self.version_id,
            etag=self.etag,
            size=self.size,
            last_modified=self.last_modified,
        )


def _bucket_name(value: str) -> str:
    """`arn:aws:s3:::name` -> `name` (the manifest gives the destination as an ARN)."""
    return value.rsplit(":", 1)[-1] if value.startswith("arn:") else value


def is_inventory_manifest(data: bytes | str) -> bool:
    """True for an S3 Inventory manifest.json (as opposed to a bucketlens one)."""
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(parsed, dict)
        and "sourceBucket" in parsed
        and "fileSchema" in parsed
        and isinstance(parsed.get("files"), list)
    )


def schema_columns(file_format: str, file_schema: str) -> list[str]:
    """Column names from a manifest's fileSchema: `Bucket, Key, …` (CSV), `struct<bucket:string,…>` (ORC),
    `message s3.inventory { required binary bucket (UTF8); … }` (Parquet)."""
    if file_format == "CSV":
        return [name.strip() for name in file_schema.split(",") if name.strip()]
    if file_format == "ORC":
        inner = file_schema[file_schema.find("<") + 1 : file_schema.rfind(">")]
        return [field.split(":", 1)[0].strip() for field in inner.split(",") if field.strip()]
    return re.findall(r"(?:required|optional|repeated)\s+\w+\s+(\w+)", file_schema)


def parse_inventory_manifest(data: bytes | str) -> InventoryManifest:
    """Raises ValueError for anything that is not an S3 Inventory manifest of CSV, ORC or Parquet files."""
    if not is_inventory_manifest(data):
        raise ValueError("not an S3 Inventory manifest.json (needs sourceBucket, fileSchema and files)")
    parsed = json.loads(data)
    raw_format = str(parsed.get("fileFormat", "CSV"))
    file_format = FORMATS.get(raw_format.upper())
    if file_format is None:
        raise ValueError(f"inventory fileFormat {raw_format!r} is not one of CSV, ORC, Parquet")
    schema = schema_columns(file_format, str(parsed["fileSchema"]))
    if ("Key" if file_format == "CSV" else "key") not in schema:
        raise ValueError(f"inventory fileSchema has no key column: {parsed['fileSchema']!r}")
    files = [
        {"key": f["key"], "size": int(f.get("size", 0) or 0), "MD5checksum": f.get("MD5checksum", "")}
        for f in parsed["files"]
    ]
    return InventoryManifest(
        source_bucket=parsed["sourceBucket"],
        destination_bucket=_bucket_name(str(parsed.get("destinationBucket", ""))),
        file_format=file_format,
        file_schema=schema,
        files=files,
    )


def _iso(value: str) -> str | None:
    """Inventory dates are already `2026-01-31T12:00:00.000Z`; only other shapes pay for a parse."""
    if not value:
        return None
    if len(value) == 24 and value[-1] == "Z" and value[10] == "T":
        return value
    from job.core.ordering import iso_time

    return iso_time(value)


class _Raw(io.RawIOBase):
    """Any object with read(n) (a botocore StreamingBody) as a raw stream io can buffer."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _lines(stream: BinaryIO, gz: bool) -> io.TextIOWrapper:
    """Decoded text lines; io's C text layer is far faster than codecs.StreamReader."""
    raw: BinaryIO = gzip.GzipFile(fileobj=stream, mode="rb") if gz else stream
    if not isinstance(raw, io.BufferedIOBase):
        raw = io.BufferedReader(_Raw(raw), buffer_size=1 << 20)  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def _decode_key(raw: str) -> str:
    """`unquote_plus`, once; the bytes route is the same decoding at twice the speed for escaped keys."""
    if "+" in raw:
        raw = raw.replace("+", " ")
    if "%" in raw:
        return unquote_to_bytes(raw).decode("utf-8", "replace")
    return raw


def _split(line: str, width: int) -> list[str]:
    """One CSV line's fields. S3 quotes every field and URL-encodes keys, so a line without a doubled quote
    splits on `","` exactly, giving the schema's width; anything else (hand-made reports, unquoted empty
    fields as in `"b","k",,"true"`, which split into fewer) goes through the csv module."""
    if line[:1] == '"' and '""' not in line and line.endswith('"\n'):
        values = line[1:-2].split('","')
        if len(values) == width:
            return values
    return next(csv.reader([line]), [])


def iter_rows(stream: BinaryIO, schema: list[str], gz: bool) -> Iterator[InventoryRow]:
    """Every row of one data file, keys decoded once; nothing is filtered here."""
    column = {name: number for number, name in enumerate(schema)}
    i_key = column["Key"]
    i_bucket = column.get("Bucket")
    i_version = column.get("VersionId")
    i_latest = column.get("IsLatest")
    i_marker = column.get("IsDeleteMarker")
    i_size = column.get("Size")
    i_modified = column.get("LastModifiedDate")
    i_etag = column.get("ETag")
    width = len(schema)
    for values in (_split(line, width) for line in _lines(stream, gz)):
        if len(values) < width:
            if not values:
                continue
            values = values + [""] * (width - len(values))
        key = _decode_key(values[i_key])
        size = values[i_size] if i_size is not None else ""
        yield InventoryRow(
            bucket=values[i_bucket] if i_bucket is not None else "",
            key=key,
            version_id=(values[i_version] or None) if i_version is not None else None,
            is_latest=i_latest is None or values[i_latest].lower() != "false",
            is_delete_marker=i_marker is not None and values[i_marker].lower() == "true",
            size=int(size) if size else None,
            last_modified=_iso(values[i_modified]) if i_modified is not None else None,
            etag=(values[i_etag].strip('"') or None) if i_etag is not None else None,
        )


def normalize_extensions(extensions: Iterable[str] | str | None) -> tuple[str, ...]:
    """`"JPG, .png"` -> `(".jpg", ".png")`: one form so the filter is a plain endswith."""
    if extensions is None:
        extensions = DEFAULT_EXTENSIONS
    if isinstance(extensions, str):
        extensions = extensions.split(",")
    return tuple("." + e.strip().lower().lstrip(".") for e in extensions if e.strip())


def is_image_key(key: str, suffixes: tuple[str, ...]) -> bool:
    """Case-insensitive extension match (cameras write `IMG_0001.JPG`); folder markers never match."""
    return not key.endswith("/") and key.lower().endswith(suffixes)


def is_work(row: InventoryRow, suffixes: tuple[str, ...] | None = None) -> bool:
    """Only the current version of an image is work: delete markers and old versions are not (a zero-byte
    image is: its result is a recorded EmptyFile error). `suffixes=None` keeps every extension."""
    if row.is_delete_marker or not row.is_latest:
        return False
    return suffixes is None or is_image_key(row.key, suffixes)


def iter_inventory_rows(
    stream: BinaryIO,
    schema: list[str],
    gz: bool,
    extensions: Iterable[str] | str | None = None,
    default_bucket: str = "",
) -> Iterator[ObjectRef]:
    """The rows of one data file that are work, as ObjectRefs; `extensions=None` keeps all extensions.

    The same rule as `is_work` over `iter_rows`, applied to the raw CSV fields so rows that are not work
    cost no objects (this loop is the 1,000,000-rows-per-report hot path; see bench/inventory_bench.py).
    """
    suffixes = normalize_extensions(extensions) if extensions is not None else None
    column = {name: number for number, name in enumerate(schema)}
    i_key = column["Key"]
    i_bucket, i_version, i_latest = column.get("Bucket"), column.get("VersionId"), column.get("IsLatest")
    i_marker, i_size = column.get("IsDeleteMarker"), column.get("Size")
    i_modified, i_etag = column.get("LastModifiedDate"), column.get("ETag")
    width = len(schema)
    padding = [""] * width
    for line in _lines(stream, gz):
        if line[:1] == '"' and '""' not in line and line.endswith('"\n'):  # _split, inlined: hot loop
            values = line[1:-2].split('","')
            if len(values) != width:  # an unquoted empty field merged two: let the csv module split it
                values = next(csv.reader([line]), [])
        else:
            values = next(csv.reader([line]), [])
        if len(values) < width:
            if not values:
                continue
            values = values + padding[: width - len(values)]
        if i_marker is not None:
            flag = values[i_marker]
            if flag == "true" or (flag != "false" and flag.lower() == "true"):
                continue
        if i_latest is not None:
            flag = values[i_latest]
            if flag == "false" or (flag != "true" and flag.lower() == "false"):
                continue
        size = values[i_size] if i_size is not None else ""
        number = int(size) if size else None
        key = values[i_key]
        if "%" in key or "+" in key:
            key = _decode_key(key)
        if suffixes is not None and (key[-1:] == "/" or not key.lower().endswith(suffixes)):
            continue
        etag = values[i_etag].strip('"') if i_etag is not None else ""
        modified = values[i_modified] if i_modified is not None else ""
        if not (len(modified) == 24 and modified[-1] == "Z" and modified[10] == "T"):
            modified = _iso(modified)  # type: ignore[assignment]
        yield ObjectRef(
            (values[i_bucket] if i_bucket is not None else "") or default_bucket,
            key,
            (values[i_version] or None) if i_version is not None else None,
            etag or None,
            number,
            modified,
        )


@functools.cache
def columnar_available() -> bool:
    """Whether ORC and Parquet reports can be read here (pyarrow; the submitter Lambda has none)."""
    try:
        import pyarrow.orc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _batches(path: str, file_format: str) -> Iterator:
    """pyarrow record batches of the columns bucketlens reads, at most BATCH_ROWS rows each."""
    if file_format == "Parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        wanted = [c for c in COLUMNS if c in parquet.schema_arrow.names]
        yield from parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted)
        return
    from pyarrow import orc

    reader = orc.ORCFile(path)
    wanted = [c for c in COLUMNS if c in reader.schema.names]
    for stripe in range(reader.nstripes):
        batch = reader.read_stripe(stripe, columns=wanted)
        for start in range(0, batch.num_rows, BATCH_ROWS):
            yield batch.slice(start, BATCH_ROWS)


def iter_columnar_rows(
    path: str,
    file_format: str,
    extensions: Iterable[str] | str | None = None,
    default_bucket: str = "",
) -> Iterator[ObjectRef]:
    """The rows of one ORC or Parquet data file that are work, by the same rule as the CSV reader."""
    from job.core.ordering import iso_time

    suffixes = normalize_extensions(extensions) if extensions is not None else None
    for batch in _batches(path, file_format):
        names = batch.schema.names
        blank = [None] * batch.num_rows
        columns = [batch.column(names.index(c)).to_pylist() if c in names else blank for c in COLUMNS]
        for bucket, key, version, latest, marker, size, modified, etag in zip(*columns, strict=True):
            if marker or latest is False or not key:
                continue
            if suffixes is not None and (key[-1:] == "/" or not key.lower().endswith(suffixes)):
                continue
            yield ObjectRef(
                bucket or default_bucket,
                key,
                version or None,
                (etag or "").strip('"') or None,
                size,
                iso_time(modified) if modified is not None else None,
            )


def iter_data_file(
    body: BinaryIO, report: InventoryManifest, key: str, extensions: Iterable[str] | str | None = None
) -> Iterator[ObjectRef]:
    """The work rows of one data file of `report`, whatever its format; `body` is the file's stream."""
    if not report.columnar:
        return iter_inventory_rows(
            body, report.file_schema, key.endswith(".gz"), extensions, report.source_bucket
        )
    if not columnar_available():
        raise ValueError(f"{report.file_format} inventory reports need pyarrow (pip install pyarrow)")
    return _columnar_from(body, report, extensions)


def _columnar_from(
    body: BinaryIO, report: InventoryManifest, extensions: Iterable[str] | str | None
) -> Iterator[ObjectRef]:
    with tempfile.NamedTemporaryFile(
        prefix="bucketlens-inventory-", suffix="." + report.file_format.lower()
    ) as tmp:
        shutil.copyfileobj(body, tmp, COPY_BLOCK)
        tmp.flush()
        yield from iter_columnar_rows(tmp.name, report.file_format, extensions, report.source_bucket)
