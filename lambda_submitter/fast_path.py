"""The fast path: a small SQS batch of uploads is labelled inside the Lambda within seconds, instead of
waiting minutes for a Batch job on a compute environment scaled to zero.

It runs the worker's own code (job.worker.immediate), so writes, skips and the shared Rekognition quota
are the same as a Batch child's. The worker is imported only when a batch takes this path: a Lambda
that only submits jobs starts without Pillow.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from job.core import clients
from job.core.manifest import ObjectRef
from lambda_submitter.config import SubmitterConfig

MIN_SECONDS = 60.0  # Lambda time left that a fast path needs; with less, the batch goes to Batch
RESERVE_SECONDS = 20.0  # kept back: in-flight images finish and the batch is acknowledged in time


def why_not(cfg: SubmitterConfig, images: int, seconds_left: float | None) -> str | None:
    """None when this batch is labelled here, else the reason it goes to Batch (logged)."""
    if cfg.labeller is None:
        return "fast path off (BUCKETLENS_FAST_PATH_IMAGES=0)"
    if cfg.opensearch_endpoint:
        return "search documents are written by Batch jobs (the domain is in the VPC; the Lambda is not)"
    if images > cfg.fast_path_images:
        return f"{images} images: more than BUCKETLENS_FAST_PATH_IMAGES={cfg.fast_path_images}"
    if seconds_left is None or seconds_left < MIN_SECONDS:
        return f"{seconds_left} s left in this invocation: fewer than {MIN_SECONDS:g}"
    return None


def label(
    s3: Any,
    dynamodb: Any,
    cfg: SubmitterConfig,
    refs: list[ObjectRef],
    states: dict[tuple[str, str], dict | None],
    seconds_left: float,
) -> Any:
    """job.worker.immediate.Labelled for `refs` (`states`: what the table held, as already read)."""
    from job.worker.image import Backends
    from job.worker.immediate import label_now

    assert cfg.labeller is not None
    run_config = replace(cfg.labeller, source=f"s3://{refs[0].bucket}/")
    # one cached client whatever the batch's size
    rekognition = clients.client("rekognition", pool=cfg.client_pool, max_attempts=0)
    backends = Backends(s3=s3, ddb=dynamodb, rekognition=rekognition)
    return label_now(run_config, refs, backends, seconds_left - RESERVE_SECONDS, states)
