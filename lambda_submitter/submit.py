"""Manifests written once and Batch jobs submitted once per piece of work, however often a trigger fires.

Idempotency: the manifest id is a hash of what the work is (see ids below), manifest.json is created with
S3 `If-None-Match: *`, a `claim.json` (also conditional) elects one submitter, and `submitted.json`
records the job ids so a redelivery returns them instead of submitting again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from job.core import manifest as manifest_format
from job.core.manifest import Manifest, ObjectRef
from lambda_submitter.config import SubmitterConfig

log = logging.getLogger(__name__)

MAX_ARRAY_SIZE = 10_000  # AWS Batch array jobs hold 2..10,000 children
CLAIM_NAME = "claim.json"
SUBMITTED_NAME = "submitted.json"
CLAIM_STALE_SECONDS = 15 * 60  # the Lambda timeout ceiling: an older claim belongs to a crashed submitter
SUBMIT_ATTEMPTS = 8
UPLOAD_THREADS = 8  # shard PUTs in flight; the s3 client's pool holds 10 connections
_ABSENT = {"NoSuchKey", "404", "NotFound", "AccessDenied", "403"}  # 403: no s3:ListBucket on the bucket


class SubmissionInProgress(Exception):
    """Another invocation claimed this manifest moments ago; retry later (SQS redelivers)."""


@dataclass(frozen=True)
class JobSpec:
    """One SubmitJob call: children [shard_offset, shard_offset + size) of the manifest."""

    name: str
    shard_offset: int
    size: int


@dataclass(frozen=True)
class Submission:
    """What happened to one piece of work."""

    manifest_id: str
    manifest_uri: str
    images: int | None  # None: the children count them (an ORC/Parquet report read by the workers)
    shards: int
    job_ids: tuple[str, ...]
    already_submitted: bool


def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def events_manifest_id(refs: Iterable[ObjectRef], features: Iterable[str]) -> str:
    """The same set of object versions (order-free) for the same features is the same work."""
    lines = sorted(
        "\x1f".join((r.bucket, r.key, r.version_id or "", r.etag or "", r.sequencer or "")) for r in refs
    )
    return "ev-" + _digest([",".join(sorted(features)), *lines])


def inventory_manifest_id(bucket: str, key: str, etag: str, features: Iterable[str]) -> str:
    """One inventory report (its manifest.json, pinned by ETag) for the same features is the same work."""
    return "inv-" + _digest([",".join(sorted(features)), bucket, key, etag])


def backfill_manifest_id(bucket: str, prefix: str, features: Iterable[str], request_id: str) -> str:
    """A backfill is one request: retries of it (same request id) match, a later request does not."""
    return "bf-" + _digest([",".join(sorted(features)), bucket, prefix, request_id])


def plan_jobs(manifest_id: str, shard_count: int, max_array: int = MAX_ARRAY_SIZE) -> list[JobSpec]:
    """Array jobs of at most `max_array` children each; a single shard is a plain job (size 1)."""
    return [
        JobSpec(f"bucketlens-{manifest_id}-{part}", offset, min(max_array, shard_count - offset))
        for part, offset in enumerate(range(0, shard_count, max_array))
    ]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in _ABSENT:
            return None
        raise
    with response["Body"] as body:
        return body.read()


def _create(s3: Any, bucket: str, key: str, body: bytes) -> bool:
    """Conditional create; False when the key already exists."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/json")
    except ClientError as exc:
        if _code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
            return False
        raise
    return True


class _Exists(Exception):
    pass


def write_once(
    s3: Any, cfg: SubmitterConfig, manifest_id: str, refs: Iterable[ObjectRef], source: dict
) -> tuple[str, Manifest]:
    """Write shards then manifest.json unless it exists; returns (manifest key, the manifest that is there)."""
    folder = f"{cfg.manifests_prefix}/{manifest_id}"
    key = f"{folder}/{manifest_format.MANIFEST_NAME}"
    existing = _read(s3, cfg.manifests_bucket, key)
    if existing is not None:
        return key, Manifest.from_json(existing)

    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="shard-put") as pool:
        pending: set[Future] = set()

        def settle(futures: set[Future]) -> None:
            for future in futures:
                future.result()  # re-raise an upload error here, before manifest.json is written
            pending.difference_update(futures)

        def put(name: str, body: bytes) -> None:
            if name == key:
                settle(set(pending))  # every shard is stored before the manifest that lists it
                if not _create(s3, cfg.manifests_bucket, name, body):
                    raise _Exists
                return
            if len(pending) >= 2 * UPLOAD_THREADS:  # bounded: a million-row report never queues up
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                settle(done)
            pending.add(
                pool.submit(
                    s3.put_object,
                    Bucket=cfg.manifests_bucket,
                    Key=name,
                    Body=body,
                    ContentType="application/gzip",
                )
            )

        try:
            written = manifest_format.write_manifest(
                put, folder, manifest_id, refs, cfg.shard_size, source, cfg.features
            )
        except _Exists:
            data = _read(s3, cfg.manifests_bucket, key)
            if data is None:
                raise
            return key, Manifest.from_json(data)
    log.info(
        "manifest written", extra={"manifest": key, "images": written.total, "shards": len(written.shards)}
    )
    return key, written


def submit_with_backoff(
    batch: Any, request: dict, attempts: int = SUBMIT_ATTEMPTS, sleep: Callable[[float], None] = time.sleep
) -> str:
    """SubmitJob, backing off (full jitter) on TooManyRequestsException beyond botocore's own retries."""
    for attempt in range(attempts):
        try:
            return batch.submit_job(**request)["jobId"]
        except ClientError as exc:
            if (
                _code(exc) not in {"TooManyRequestsException", "ThrottlingException"}
                or attempt == attempts - 1
            ):
                raise
            delay = random.uniform(0, min(20.0, 0.5 * 2**attempt))
            log.warning("SubmitJob throttled; backing off", extra={"attempt": attempt + 1, "delay_s": delay})
            sleep(delay)
    raise AssertionError("unreachable")


def _claim(s3: Any, cfg: SubmitterConfig, folder: str, now: datetime) -> bool:
    """True when this invocation may submit: it created the claim, or the claim is stale."""
    key = f"{folder}/{CLAIM_NAME}"
    if _create(s3, cfg.manifests_bucket, key, json.dumps({"claimed_at": now.isoformat()}).encode()):
        return True
    data = _read(s3, cfg.manifests_bucket, key)
    claimed = datetime.fromisoformat(json.loads(data)["claimed_at"]) if data else now
    if (now - claimed).total_seconds() < CLAIM_STALE_SECONDS:
        raise SubmissionInProgress(f"s3://{cfg.manifests_bucket}/{key} claimed at {claimed.isoformat()}")
    log.warning("stale claim taken over", extra={"claim": key, "claimed_at": claimed.isoformat()})
    return True


def submit_manifest(
    s3: Any,
    batch: Any,
    cfg: SubmitterConfig,
    manifest_key: str,
    manifest: Manifest,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[tuple[str, ...], bool]:
    """(job ids, already submitted) for a written manifest; submits at most once per manifest."""
    return submit_shards(
        s3,
        batch,
        cfg,
        manifest_key.rsplit("/", 1)[0],
        f"s3://{cfg.manifests_bucket}/{manifest_key}",
        manifest.manifest_id,
        len(manifest.shards),
        tuple(manifest.features or cfg.features),
        now=now,
        sleep=sleep,
    )


def submit_shards(
    s3: Any,
    batch: Any,
    cfg: SubmitterConfig,
    folder: str,
    source_uri: str,
    manifest_id: str,
    shards: int,
    features: tuple[str, ...],
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[tuple[str, ...], bool]:
    """Array jobs over `shards` shards of `source_uri`, at most once per folder (claim, then submitted.json):
    a bucketlens manifest, or an S3 Inventory report whose rows only the children read."""
    recorded = _read(s3, cfg.manifests_bucket, f"{folder}/{SUBMITTED_NAME}")
    if recorded is not None:
        return tuple(json.loads(recorded)["job_ids"]), True
    if not shards:
        return (), False
    _claim(s3, cfg, folder, now or datetime.now(UTC))
    uri = source_uri
    job_ids = []
    queue, definition = cfg.target
    for spec in plan_jobs(manifest_id, shards):
        request: dict = {
            "jobName": spec.name,
            "jobQueue": queue,
            "jobDefinition": definition,
            "parameters": {
                "source": uri,
                "shards": str(shards),  # an inventory source splits by it; a manifest knows its own
                "shard_offset": str(spec.shard_offset),
                "features": ",".join(features),
            },
        }
        if spec.size > 1:
            request["arrayProperties"] = {"size": spec.size}
        # the Rekognition quota as the submitter found it (account_quota), over the definition's
        if cfg.tps_quota and cfg.labeler == "rekognition":
            quota_env = {
                "BUCKETLENS_TPS_QUOTA": f"{cfg.tps_quota:g}",
                "BUCKETLENS_TPS_QUOTA_SOURCE": cfg.tps_quota_source,
            }
            request["containerOverrides"] = {
                "environment": [{"name": k, "value": v} for k, v in quota_env.items()]
            }
        job_ids.append(submit_with_backoff(batch, request, sleep=sleep))
        log.info("job submitted", extra={"job_id": job_ids[-1], "job_name": spec.name, "size": spec.size})
    body = json.dumps({"manifest": uri, "job_ids": job_ids}).encode()
    s3.put_object(Bucket=cfg.manifests_bucket, Key=f"{folder}/{SUBMITTED_NAME}", Body=body)
    return tuple(job_ids), False


def submit_work(
    s3: Any,
    batch: Any,
    cfg: SubmitterConfig,
    manifest_id: str,
    refs: Iterable[ObjectRef],
    source: dict,
    sleep: Callable[[float], None] = time.sleep,
) -> Submission:
    """Manifest then jobs, each at most once."""
    key, manifest = write_once(s3, cfg, manifest_id, refs, source)
    job_ids, already = submit_manifest(s3, batch, cfg, key, manifest, sleep=sleep)
    return Submission(
        manifest_id,
        f"s3://{cfg.manifests_bucket}/{key}",
        manifest.total,
        len(manifest.shards),
        job_ids,
        already,
    )


def submit_report(
    s3: Any, batch: Any, cfg: SubmitterConfig, manifest_id: str, report_uri: str, shards: int, source: dict
) -> Submission:
    """Jobs that read an S3 Inventory report themselves (`--source` is its manifest.json), at most once."""
    folder = f"{cfg.manifests_prefix}/{manifest_id}"
    job_ids, already = submit_shards(s3, batch, cfg, folder, report_uri, manifest_id, shards, cfg.features)
    log.info("report submitted to the children", extra={"report": report_uri, "shards": shards, **source})
    return Submission(manifest_id, report_uri, None, shards, job_ids, already)
