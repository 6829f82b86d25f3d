"""`python -m job search`: find images by label, text, camera, time and place.

OpenSearch answers every filter; without it the DynamoDB label index answers `--label` queries and the
other filters are applied to those rows.
"""

from __future__ import annotations

from dataclasses import dataclass


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
