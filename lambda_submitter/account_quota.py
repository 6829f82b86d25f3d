"""The Rekognition quota that the jobs and the fast path share: the account's own value from Service
Quotas where the role may read it (applied, else AWS's default for the region), else
BUCKETLENS_TPS_QUOTA (Terraform's rekognition_tps_quota). Which one is used is logged, and passed to
every job with it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from job.core import clients, quota
from lambda_submitter.config import SubmitterConfig

log = logging.getLogger(__name__)

CACHE_S = 900.0  # a warm Lambda reads it again after 15 minutes: a raised quota is used from then on
OPERATIONS = {"labels": "DetectLabels", "text": "DetectText", "custom-labels": "DetectCustomLabels"}
CONFIGURED = "BUCKETLENS_TPS_QUOTA"
_read: dict[tuple[str, ...], tuple[float, tuple[float, str] | None]] = {}


def quotas_client() -> Any:
    """One attempt, no retries: an answer that is not there at once (no permission, no route from a VPC
    without NAT or endpoint) costs one connect timeout, and the configured quota is used."""
    return clients.client("service-quotas", max_attempts=0)


def resolve(
    cfg: SubmitterConfig, client: Any, clock: Callable[[], float] = time.monotonic
) -> SubmitterConfig:
    """cfg with the quota to use (and its source) in place of the configured one, fast path included."""
    if cfg.tps_quota is None:
        return cfg
    cached = _read.get(cfg.features)
    if cached is None or clock() - cached[0] > CACHE_S:
        cached = (clock(), quota.service_quota(client, [OPERATIONS[f] for f in cfg.features]))
        _read[cfg.features] = cached
        found = cached[1]
        log.info(
            "rekognition quota",
            extra={
                "tps": found[0] if found else cfg.tps_quota,
                "source": found[1] if found else CONFIGURED,
                "configured": cfg.tps_quota,
            },
        )
    found = cached[1]
    if found is None:
        return cfg
    value, source = found
    labeller = cfg.labeller and replace(cfg.labeller, tps_quota=value, tps_quota_source=source)
    return replace(cfg, tps_quota=value, tps_quota_source=source, labeller=labeller)


def forget() -> None:
    """Drop what was read (tests switch accounts between cases)."""
    _read.clear()
