"""Search filters and the pure checks that apply them to a stored result, whatever index found it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from job.core import label_index


@dataclass(frozen=True)
class Filters:
    """What the user asked for; None means "any"."""

    label: str | None = None
    min_confidence: float = 0.0
    text: str | None = None  # a word in the detected text (case-insensitive)
    camera: str | None = None  # "MAKE" or "MAKE/MODEL" (case-insensitive)
    taken_from: str | None = None  # ISO date or date-time, inclusive
    taken_to: str | None = None  # ISO date or date-time, inclusive
    near: tuple[float, float, float] | None = None  # (lat, lon, km)


# --- pure filters ----------------------------------------------------------------------------------------

NEEDS_INDEX = ("text", "camera", "taken_from", "taken_to", "near")
EARTH_KM = 6371.0088


def has_label(item: Mapping[str, Any], name: str, min_confidence: float) -> bool:
    """The stored result (not the index row) has the label, or custom:<label>, at >= min_confidence."""
    if name.startswith(label_index.CUSTOM_PREFIX):
        pool, name = item.get("custom_labels") or (), name[len(label_index.CUSTOM_PREFIX) :]
    else:
        pool = item.get("labels") or ()
    return any(
        str(lb.get("name", "")).lower() == name.lower() and float(lb.get("confidence") or 0) >= min_confidence
        for lb in pool
    )


def text_lines(item: Mapping[str, Any]) -> list[str]:
    return [str(t.get("text", "")) if isinstance(t, Mapping) else str(t) for t in item.get("text") or ()]


def has_word(item: Mapping[str, Any], word: str) -> bool:
    """A single word matches whole words; a phrase matches as a substring."""
    wanted = word.lower().strip()
    if " " in wanted:
        return any(wanted in line.lower() for line in text_lines(item))
    return any(wanted in re.findall(r"\w+", line.lower()) for line in text_lines(item))


def camera_matches(item: Mapping[str, Any], camera: str) -> bool:
    """`MAKE` or `MAKE/MODEL`, case-insensitive; a part matches when it is contained in the stored one."""
    exif = item.get("exif") or {}
    make, _, model = camera.partition("/")
    return make.strip().lower() in str(exif.get("make") or "").lower() and (
        not model.strip() or model.strip().lower() in str(exif.get("model") or "").lower()
    )


def _day_bound(text: str, end: bool) -> str:
    """A date alone covers its whole day; the stored form is `YYYY-MM-DDTHH:MM:SS`."""
    text = text.strip().replace(" ", "T")
    if len(text) == 10:
        return text + ("T23:59:59" if end else "T00:00:00")
    return text


def taken_within(item: Mapping[str, Any], start: str | None, stop: str | None) -> bool:
    taken = str((item.get("exif") or {}).get("datetime_original") or "")
    if not taken:
        return False
    return (start is None or taken >= _day_bound(start, False)) and (
        stop is None or taken <= _day_bound(stop, True)
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


def near(item: Mapping[str, Any], lat: float, lon: float, km: float) -> bool:
    gps = (item.get("exif") or {}).get("gps") or {}
    if gps.get("latitude") is None or gps.get("longitude") is None:
        return False
    return distance_km(lat, lon, float(gps["latitude"]), float(gps["longitude"])) <= km


def matches(item: Mapping[str, Any], f: Filters) -> bool:
    """Every filter the user gave holds for this stored result."""
    return (
        item.get("status") == "done"
        and (f.label is None or has_label(item, f.label, f.min_confidence))
        and (f.text is None or has_word(item, f.text))
        and (f.camera is None or camera_matches(item, f.camera))
        and (f.taken_from is None and f.taken_to is None or taken_within(item, f.taken_from, f.taken_to))
        and (f.near is None or near(item, *f.near))
    )


def parse_near(text: str) -> tuple[float, float, float]:
    try:
        lat, lon, km = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError(f"--near wants LAT,LON,KM, got {text!r}") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and km > 0):
        raise ValueError(f"--near out of range: {text!r}")
    return lat, lon, km
