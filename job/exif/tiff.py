"""A small TIFF/EXIF IFD reader: only the tags bucketlens stores, bounded against hostile offsets."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable

TYPE_CHECKING = False  # typing costs 3 ms at start-up; `python -m job exif` does without it
if TYPE_CHECKING:
    from typing import Any

Getter = Callable[[int, int], bytes]  # bytes [offset, offset+length) relative to the TIFF header

MAX_ENTRIES = 1024  # real IFDs hold a few hundred tags at most
MAX_VALUE_BYTES = 64 * 1024  # no tag we read is larger
MAX_THUMBNAIL_BYTES = 64 * 1024  # a JPEG's whole EXIF segment is at most this; cameras keep ~5-20 KB

# type id -> (struct code, size in bytes)
_TYPES: dict[int, tuple[str, int]] = {
    1: ("B", 1),  # BYTE
    2: ("s", 1),  # ASCII
    3: ("H", 2),  # SHORT
    4: ("I", 4),  # LONG
    5: ("II", 8),  # RATIONAL
    6: ("b", 1),  # SBYTE
    7: ("s", 1),  # UNDEFINED
    8: ("h", 2),  # SSHORT
    9: ("i", 4),  # SLONG
    10: ("ii", 8),  # SRATIONAL
    11: ("f", 4),  # FLOAT
    12: ("d", 8),  # DOUBLE
    13: ("I", 4),  # IFD
}

IFD0_TAGS = {
    0x0100: "image_width",
    0x0101: "image_height",
    0x010F: "make",
    0x0110: "model",
    0x0112: "orientation",
    0x0131: "software",
    0x8769: "exif_ifd",
    0x8825: "gps_ifd",
    0xC612: "dng_version",
}
EXIF_TAGS = {
    0x829A: "exposure_time",
    0x829D: "f_number",
    0x8827: "iso",
    0x9003: "datetime_original",
    0x9011: "offset_time_original",
    0x920A: "focal_length",
    0xA002: "exif_width",
    0xA003: "exif_height",
    0xA434: "lens_model",
}
GPS_TAGS = {
    0x0001: "lat_ref",
    0x0002: "lat",
    0x0003: "lon_ref",
    0x0004: "lon",
    0x0005: "alt_ref",
    0x0006: "alt",
}
STRING_FIELDS = {"make", "model", "software", "lens_model", "datetime_original", "offset_time_original"}
STRING_FIELDS |= {"lat_ref", "lon_ref"}


class TiffError(Exception):
    """The EXIF block is not a TIFF structure we can read."""


def exif_string(raw: bytes) -> str | None:
    """As exiftool shows strings: cut at the first NUL, trailing spaces gone, bad UTF-8 bytes as "?"."""
    raw = raw.split(b"\0", 1)[0]
    text = raw.decode("utf-8", errors="replace").replace("\ufffd", "?").rstrip(" ")
    return text or None


def _ratio(pair: tuple[int, int]) -> float | None:
    num, den = pair
    if den == 0:
        return None
    value = num / den
    return value if math.isfinite(value) else None


class _Reader:
    def __init__(self, get: Getter) -> None:
        self.get = get
        head = get(0, 8)
        if len(head) < 8:
            raise TiffError("EXIF block truncated before its TIFF header")
        if head[:2] == b"II":
            self.bo = "<"
        elif head[:2] == b"MM":
            self.bo = ">"
        else:
            raise TiffError("EXIF block has no TIFF byte-order mark")
        magic, self.ifd0 = struct.unpack(self.bo + "HI", head[2:8])
        if magic != 42:
            raise TiffError(f"EXIF block has TIFF magic {magic}, expected 42")
        self.visited: set[int] = set()

    def _value(self, type_id: int, count: int, inline: bytes) -> Any:
        code, size = _TYPES[type_id]
        total = size * count
        if total > MAX_VALUE_BYTES:
            return None
        raw = inline[:total] if total <= 4 else self.get(struct.unpack(self.bo + "I", inline)[0], total)
        if len(raw) < total:
            return None
        if code == "s":
            return raw
        values = struct.unpack(f"{self.bo}{count * len(code)}{code[0]}", raw)
        if len(code) == 2:  # rationals come as (numerator, denominator) pairs
            return [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
        return list(values)

    def next_ifd(self, offset: int) -> int:
        """The offset of the IFD that follows the one at `offset` (IFD0 -> IFD1, the thumbnail's); 0: none."""
        head = self.get(offset, 2)
        if len(head) < 2:
            return 0
        count = struct.unpack(self.bo + "H", head)[0]
        link = self.get(offset + 2 + 12 * count, 4)
        return struct.unpack(self.bo + "I", link)[0] if len(link) == 4 else 0

    def ifd(self, offset: int, wanted: dict[int, str]) -> dict[str, Any]:
        """The wanted tags of the IFD at `offset`; an IFD seen before (a loop) reads as empty."""
        if offset in self.visited or offset < 8:
            return {}
        self.visited.add(offset)
        head = self.get(offset, 2)
        if len(head) < 2:
            return {}
        count = struct.unpack(self.bo + "H", head)[0]
        table = self.get(offset + 2, 12 * count)
        if count > MAX_ENTRIES or len(table) < 12 * count:
            return {}  # a directory that runs past its data is corrupt as a whole (exiftool agrees)
        found: dict[str, Any] = {}
        for i in range(len(table) // 12):
            tag, type_id, n = struct.unpack(self.bo + "HHI", table[i * 12 : i * 12 + 8])
            name = wanted.get(tag)
            if name is None or name in found or type_id not in _TYPES or n == 0:
                continue
            value = self._value(type_id, n, table[i * 12 + 8 : i * 12 + 12])
            if value is None:
                continue
            if name in STRING_FIELDS:
                value = exif_string(value) if isinstance(value, bytes) else None
            elif isinstance(value, bytes):
                continue  # a numeric tag stored as bytes: not usable
            if value is not None:
                found[name] = value
        return found


def _first_number(value: Any) -> float | None:
    if not value:
        return None
    first = value[0]
    return _ratio(first) if isinstance(first, tuple) else float(first)


def _first_int(value: Any) -> int | None:
    number = _first_number(value)
    return int(number) if number is not None else None


_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


def iso_datetime(value: str | None, offset: str | None) -> str | None:
    """EXIF `YYYY:MM:DD HH:MM:SS` -> ISO 8601, with the UTC offset when known; absurd dates -> None."""
    match = _DATE.match(value or "")
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    if not (
        year >= 1 and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60
    ):
        return None
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if offset and _OFFSET.match(offset):
        text += offset
    return text


def _degrees(value: Any) -> float | None:
    if not value or len(value) < 1 or not isinstance(value[0], tuple):
        return None
    parts = [_ratio(p) for p in value[:3]]
    if any(p is None for p in parts):
        return None
    degrees = sum(p / (60**i) for i, p in enumerate(parts))
    return degrees if 0 <= degrees <= 180 else None


def _gps(tags: dict[str, Any]) -> dict[str, float] | None:
    lat, lon = _degrees(tags.get("lat")), _degrees(tags.get("lon"))
    if lat is None or lon is None or lat > 90:
        return None
    if (tags.get("lat_ref") or "").upper().startswith("S"):
        lat = -lat
    if (tags.get("lon_ref") or "").upper().startswith("W"):
        lon = -lon
    gps = {"latitude": lat, "longitude": lon}
    alt = _first_number(tags.get("alt"))
    if alt is not None:
        below = tags.get("alt_ref")
        gps["altitude"] = -alt if isinstance(below, list) and below and below[0] == 1 else alt
    return gps


def mpf_images(data: bytes) -> int:
    """How many images an MPF (multi-picture) index declares; 0 when it cannot be read."""
    try:
        reader = _Reader(lambda off, n: data[off : off + n])
        return _first_int(reader.ifd(reader.ifd0, {0xB001: "count"}).get("count")) or 0
    except TiffError:
        return 0


def thumbnail(reader: _Reader) -> bytes | None:
    """The JPEG preview a camera keeps in IFD1 (JPEGInterchangeFormat/-Length), when whole and small."""
    at = reader.ifd(reader.next_ifd(reader.ifd0), {0x0201: "offset", 0x0202: "length"})
    offset, length = _first_int(at.get("offset")), _first_int(at.get("length"))
    if not offset or not length or length > MAX_THUMBNAIL_BYTES:
        return None
    data = reader.get(offset, length)
    return data if len(data) == length and data[:2] == b"\xff\xd8" else None


def read_exif(get: Getter, with_thumbnail: bool = False) -> dict[str, Any]:
    """Normalized fields from a TIFF-structured EXIF block (raises TiffError when there is none); with
    `with_thumbnail` (an EXIF block already in memory: no further read), the IFD1 preview's bytes too."""
    reader = _Reader(get)
    ifd0 = reader.ifd(reader.ifd0, IFD0_TAGS)
    exif = reader.ifd(_first_int(ifd0.get("exif_ifd")) or 0, EXIF_TAGS)
    gps_tags = reader.ifd(_first_int(ifd0.get("gps_ifd")) or 0, GPS_TAGS)
    fields: dict[str, Any] = {
        "make": ifd0.get("make"),
        "model": ifd0.get("model"),
        "software": ifd0.get("software"),
        "orientation": _first_int(ifd0.get("orientation")),
        "lens_model": exif.get("lens_model"),
        "datetime_original": iso_datetime(exif.get("datetime_original"), exif.get("offset_time_original")),
        "exposure_time": _first_number(exif.get("exposure_time")),
        "f_number": _first_number(exif.get("f_number")),
        "iso": _first_int(exif.get("iso")),
        "focal_length": _first_number(exif.get("focal_length")),
        "gps": _gps(gps_tags),
        # Pixel size recorded in the tags; containers override it with the real frame size.
        "tiff_width": _first_int(ifd0.get("image_width")),
        "tiff_height": _first_int(ifd0.get("image_height")),
        "exif_width": _first_int(exif.get("exif_width")),
        "exif_height": _first_int(exif.get("exif_height")),
        "is_dng": "dng_version" in ifd0,
    }
    if with_thumbnail:
        fields["thumbnail"] = thumbnail(reader)
    return fields
