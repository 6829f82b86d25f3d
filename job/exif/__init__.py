"""EXIF extraction through a range reader, so S3 ranged GETs and local files share one code path.

`extract(read, size)` sniffs the container, walks it for the EXIF block and the pixel size, reading
64 KiB blocks on demand under a byte budget, and never raises on bad data: what could not be read is
named in `error`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass, field

from job.exif import containers, tiff
from job.exif.source import BLOCK, BudgetExceeded, RangeReader, Source

TYPE_CHECKING = False  # typing costs 3 ms at start-up; `python -m job exif` does without it
if TYPE_CHECKING:
    from typing import Any

FIRST_READ = BLOCK
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

__all__ = ["DEFAULT_MAX_BYTES", "FIRST_READ", "ExifRecord", "Gps", "RangeReader", "extract", "extract_file"]


@dataclass(frozen=True)
class Gps:
    latitude: float
    longitude: float
    altitude: float | None = None


@dataclass(frozen=True)
class ExifRecord:
    """Normalized EXIF fields of one image; `error` names what could not be read."""

    format: str | None = None
    make: str | None = None
    model: str | None = None
    lens_model: str | None = None
    software: str | None = None
    datetime_original: str | None = None
    orientation: int | None = None
    gps: Gps | None = None
    exposure_time: float | None = None
    f_number: float | None = None
    iso: int | None = None
    focal_length: float | None = None
    width: int | None = None
    height: int | None = None
    bytes_read: int = 0
    error: str | None = None
    thumbnail: bytes | None = field(default=None, repr=False)  # the IFD1 JPEG preview, as stored

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without absent fields (the preview's bytes are not metadata)."""
        data = {k: v for k, v in asdict(self).items() if v is not None and k != "thumbnail"}
        if self.gps is not None:
            data["gps"] = {k: v for k, v in data["gps"].items() if v is not None}
        return data


_RECORD_FIELDS = {
    "make",
    "model",
    "lens_model",
    "software",
    "datetime_original",
    "orientation",
    "exposure_time",
    "f_number",
    "iso",
    "focal_length",
}


def _record(found: containers.Found | None, fields: dict[str, Any], src: Source, error: str | None):
    values = {k: fields.get(k) for k in _RECORD_FIELDS}
    gps = fields.get("gps")
    fmt = found.format if found else None
    width, height = (found.width, found.height) if found else (None, None)
    if fmt == "TIFF":
        width, height = fields.get("tiff_width"), fields.get("tiff_height")
        if fields.get("is_dng"):
            fmt = "DNG"
    return ExifRecord(
        format=fmt,
        gps=Gps(**gps) if gps else None,
        width=width,
        height=height,
        bytes_read=src.bytes_read,
        error=error,
        thumbnail=fields.get("thumbnail"),
        **values,
    )


def extract(read: RangeReader, size: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> ExifRecord:
    """The EXIF record of one object; never raises on bad data."""
    src = Source(read, size, max_bytes)
    found: containers.Found | None = None
    kind: str | None = None
    fields: dict[str, Any] = {}
    error = None
    try:
        head = src.get(0, 32)
        kind = containers.sniff(head)
        if kind is None:
            name = containers.describe_unknown(head)
            error = "empty file" if name == "empty file" else f"unsupported image format: {name}"
            return _record(None, fields, src, error)
        found = containers.READERS[kind](src)
        if found.exif_offset is not None:
            base = found.exif_offset
            fields = tiff.read_exif(lambda off, n: src.get(base + off, n))
        elif found.exif:
            data = found.exif
            fields = tiff.read_exif(lambda off, n: data[off : off + n], with_thumbnail=True)
    except BudgetExceeded as exc:
        error = str(exc)
    except (containers.FormatError, tiff.TiffError) as exc:
        error = str(exc)
    except (struct.error, ValueError, IndexError, OverflowError, KeyError) as exc:
        error = f"malformed {found.format if found else 'image'} metadata: {type(exc).__name__}: {exc}"
    if found is None and kind is not None:  # the container walk failed: still say what it was
        found = containers.Found("HEIF" if kind == "ISOBMFF" else kind)
    return _record(found, fields, src, error)


def extract_file(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> ExifRecord:
    """extract() over a local file; an unreadable path is an error record, not an exception."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size

            def read(start: int, end: int) -> bytes:
                fh.seek(start)
                return fh.read(end - start)

            return extract(read, size, max_bytes)
    except OSError as exc:
        return ExifRecord(error=f"cannot read file: {exc.strerror or exc}")
