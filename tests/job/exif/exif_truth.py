"""Compare an ExifRecord with what exiftool read (shared/corpus/.../exiftool-truth-compact.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from job.exif import ExifRecord

FILE_TYPES = {"Extended WEBP": "WEBP", "WEBP": "WEBP"}
# exiftool's OffsetTimeOriginal of the corpus images that have one, by path
OFFSETS = json.loads((Path(__file__).with_name("offset_truth.json")).read_text())["OffsetTimeOriginal"]

# path -> {field: why we differ from exiftool}. Anything not listed must agree exactly.
KNOWN_DIFFERENCES = {
    "ianare-exif-py/tests/resources/jxl/test_0001.jxl": {
        "FileType": "JPEG XL is not read: Rekognition does not accept it, so bucketlens reports the format",
        "FocalLength": "not read (JPEG XL)",
        "DateTimeOriginal": "not read (JPEG XL)",
        "GPS": "not read (JPEG XL)",
    },
    "ianare-exif-py/tests/resources/raw/sony_alpha_a7iii_raw_image.ARW": {
        "FileType": "exiftool names Sony raw files ARW from the extension; the container is TIFF",
    },
    "pillow/Tests/images/flower2.webp": {
        "ImageWidth": "exiftool shows the stale IFD0 ImageWidth; we report the real frame size (300x225)",
        "ImageHeight": "as ImageWidth",
    },
    "pillow/Tests/images/ultrahdr.jpg": {
        "FileType": "exiftool names MPO from the .mpo extension; this file's MPF index declares 2 images",
    },
}


# truth field -> record attribute
NUMBERS = {
    "ExposureTime": "exposure_time",
    "FNumber": "f_number",
    "ISO": "iso",
    "FocalLength": "focal_length",
    "Orientation": "orientation",
    "ImageWidth": "width",
    "ImageHeight": "height",
}
STRINGS = {"Make": "make", "Model": "model", "Software": "software", "LensModel": "lens_model"}


def _truth_string(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value) if str(value).endswith(".0") else value
    return str(value).split("\0", 1)[0].rstrip(" ") or None


def _close(a: float | None, b: float | None, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


def differences(truth: dict, record: ExifRecord, offset: str | None = None) -> dict[str, tuple[Any, Any]]:
    """field -> (exiftool's value, ours) for every field that disagrees; offset is OffsetTimeOriginal."""
    diffs: dict[str, tuple[Any, Any]] = {}
    file_type = FILE_TYPES.get(truth["FileType"], truth["FileType"])
    if record.format != file_type:
        diffs["FileType"] = (file_type, record.format)
    for field, attr in STRINGS.items():
        want, got = _truth_string(truth.get(field)), getattr(record, attr)
        if want != got and not (want and got and _close_number_strings(want, got)):
            diffs[field] = (want, got)
    for field, attr in NUMBERS.items():
        want, got = truth.get(field), getattr(record, attr)
        if want == "":
            want = None
        if not _close(want, got):
            diffs[field] = (want, got)
    want = truth.get("DateTimeOriginal") or None
    got = record.datetime_original
    expected = None
    if want:
        date, _, time = str(want).partition(" ")
        expected = f"{date.replace(':', '-')}T{time}{offset or ''}"
    if got != expected:
        diffs["DateTimeOriginal"] = (want, got)
    lat, lon = truth.get("GPSLatitude"), truth.get("GPSLongitude")
    gps = record.gps
    if lat is None or lon is None:
        if gps is not None:
            diffs["GPS"] = (None, gps)
    elif gps is None or not (_close(lat, gps.latitude, 0, 1e-6) and _close(lon, gps.longitude, 0, 1e-6)):
        diffs["GPS"] = ((lat, lon), gps)
    return diffs


def _close_number_strings(a: str, b: str) -> bool:
    """exiftool -n prints a numeric-looking string as a number ("8.30" as 8.3)."""
    try:
        return float(a) == float(b)
    except ValueError:
        return False
