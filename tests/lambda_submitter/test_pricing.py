"""The price table and its tiered estimate."""

from __future__ import annotations

import pytest

from lambda_submitter import pricing


def test_first_tier() -> None:
    # given 1,000 images with labels, then the first-tier price applies
    assert pricing.estimate(1000, ["labels"]).total_usd == pytest.approx(1.0)


def test_tiers_fill_in_order() -> None:
    # given 6 million images: 1M at $0.001, 4M at $0.0008, 1M at $0.0006
    cost = pricing.tiered_cost(6_000_000, pricing.GROUP_2)
    # then the sum follows the tiers
    assert cost == pytest.approx(1000 + 3200 + 600)


def test_features_add_up_and_custom_labels_is_hourly() -> None:
    # given labels, text and custom labels for 10 images
    est = pricing.estimate(10, ["labels", "text", "custom-labels"])
    # then per-image features are summed and custom labels reported per hour, with the price date
    assert est.by_feature == {"labels": pytest.approx(0.01), "text": pytest.approx(0.01)}
    assert est.total_usd == pytest.approx(0.02)
    # (AWS's published price: $4.00 per inference unit hour, us-east-1, as of the date the table names)
    assert est.custom_labels_hourly_usd == 4.00
    assert est.prices_as_of == "2024-06-01"
