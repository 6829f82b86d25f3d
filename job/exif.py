"""EXIF extraction through a range reader, so S3 ranged GETs and local files share one code path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

RangeReader = Callable[[int, int], bytes]  # returns bytes [start, end); fewer at end of object
FIRST_READ = 64 * 1024
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


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

    def to_dict(self) -> dict:
        """JSON-ready, without absent fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def extract(read: RangeReader, size: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> ExifRecord:
    raise NotImplementedError


def extract_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ExifRecord:
    raise NotImplementedError
