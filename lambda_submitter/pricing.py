"""The one Rekognition price table, so a dry run can say what a backfill will cost before it runs.

List prices for Amazon Rekognition Image, US East (N. Virginia), per image, by monthly volume tier, as
published on https://aws.amazon.com/rekognition/pricing/ (PRICES_AS_OF). Other regions and the free tier
differ; Custom Labels is billed per inference hour of a running model, not per image, so it is reported
separately and not added to the per-image total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PRICES_AS_OF = "2024-06-01"
REGION = "us-east-1"
# (images in tier, USD per image); the last tier has no upper bound.
GROUP_2 = ((1_000_000, 0.001), (4_000_000, 0.0008), (30_000_000, 0.0006), (None, 0.00025))
PER_IMAGE = {"labels": GROUP_2, "text": GROUP_2}  # DetectLabels and DetectText are "Group 2" APIs
CUSTOM_LABELS_PER_HOUR = 4.00  # USD per inference unit hour


@dataclass(frozen=True)
class Estimate:
    """Per-feature USD for a number of images, and whether Custom Labels hours come on top."""

    images: int
    by_feature: dict
    total_usd: float
    custom_labels_hourly_usd: float | None
    prices_as_of: str = PRICES_AS_OF
    region: str = REGION


def tiered_cost(images: int, tiers: Iterable[tuple[int | None, float]]) -> float:
    """Cost of `images` calls in one month, filling the cheaper tiers only after the dearer ones."""
    remaining, cost = max(images, 0), 0.0
    for size, price in tiers:
        used = remaining if size is None else min(remaining, size)
        cost += used * price
        remaining -= used
        if remaining == 0:
            break
    return round(cost, 4)


def estimate(images: int, features: Iterable[str]) -> Estimate:
    """Worst case: every image is new (the worker skips those already done, so reruns cost less)."""
    features = tuple(features)
    by_feature = {name: tiered_cost(images, PER_IMAGE[name]) for name in features if name in PER_IMAGE}
    hourly = CUSTOM_LABELS_PER_HOUR if "custom-labels" in features else None
    return Estimate(images, by_feature, round(sum(by_feature.values()), 4), hourly)
