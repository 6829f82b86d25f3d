"""The three triggers (S3 events, an inventory report, a backfill request) turned into submissions.

AWS clients come in as arguments so the handler and the command line share this code unchanged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.exceptions import ClientError

from job.core import clients, inventory, label_index, model_status, store, vectors
from job.core.manifest import ObjectRef
from job.core.opensearch import vectors_index
from job.core.ordering import is_newer
from lambda_submitter import backfill, deletions, events, fast_path, search_delete, submit
from lambda_submitter.config import SubmitterConfig

log = logging.getLogger(__name__)


@dataclass
class Clients:
    """The AWS clients the triggers use (made by job.clients in the handler and CLI)."""

    s3: Any
    batch: Any = None
    dynamodb: Any = None
    rekognition: Any = None
    sqs: Any = None


@dataclass
class BatchOutcome:
    """What an SQS batch did, and which messages failed (for the partial batch response)."""

    failed: list[str] = field(default_factory=list)
    tombstones: int = 0
    stale_deletes: int = 0
    skipped_creates: int = 0
    waiting_for_model: int = 0
    submissions: list[submit.Submission] = field(default_factory=list)
    labelled: dict | None = None  # the fast path's counts, when this batch took it


class ModelNotRunning(Exception):
    """Custom-label work must wait: the model is not RUNNING."""


class ModelGate:
    """Asks DescribeProjectVersions at most once per batch, and only when there is custom-label work."""

    def __init__(self, c: Clients, cfg: SubmitterConfig) -> None:
        self.c, self.cfg = c, cfg
        self._status: str | None = None

    def running(self) -> bool:
        if not self.cfg.needs_model:
            return True
        if self._status is None:
            assert self.cfg.project_version_arn
            self._status = model_status.status(self.c.rekognition, self.cfg.project_version_arn)
            if self._status != model_status.RUNNING:
                log.warning(
                    "custom labels model not running: its work stays on the queue",
                    extra={"status": self._status},
                )
        return self._status == model_status.RUNNING

    def running_or_unknown_is_no(self) -> bool:
        """A failed status check keeps the work on the queue, like a stopped model."""
        try:
            return self.running()
        except Exception:
            log.exception("custom labels model status unknown: its work stays on the queue")
            return False

    def require(self) -> None:
        if not self.running():
            raise ModelNotRunning(f"custom labels model is {self._status}")


# A message the fast path left undone (throttled) comes back after 15 s, 30 s, 60 s... (its receive count),
# not after the queue's visibility timeout: six times the function's timeout, 30 minutes by default.
RETRY_BASE_S = 15
RETRY_MAX_S = 900
# How long an upload is retried before the dead-letter queue takes it (terraform: event_patience_hours);
# the queue's maxReceiveCount is derived from it and the waits above (receives_for_patience).
DEFAULT_PATIENCE_S = 6 * 3600


def retry_delay(received: int) -> int:
    """Seconds an undone message waits after its `received`-th delivery."""
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** min(received - 1, 10))


def receives_for_patience(patience_s: float) -> int:
    """The fewest deliveries whose retry waits add up to patience_s: the events queue's maxReceiveCount
    (Terraform computes the same in terraform/main.tf, local.patience_receives)."""
    waited, receives = 0, 0
    while waited < patience_s and receives < 1000:
        receives += 1
        waited += retry_delay(receives)
    return max(receives, 1)


def retry_sooner(sqs: Any, records: list[dict], message_ids: set[str]) -> None:
    """ChangeMessageVisibility of those messages to a short, growing delay; a failure only logs (the
    message then comes back after the full visibility timeout, as without this)."""
    chosen = [r for r in records if r.get("messageId") in message_ids and r.get("receiptHandle")]
    if not chosen or sqs is None:
        return
    try:
        _, _, _, _, account, name = chosen[0]["eventSourceARN"].split(":")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        for record in chosen:
            received = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=retry_delay(received)
            )
    except Exception as exc:  # noqa: BLE001 - the message is not lost: it comes back later
        log.warning(
            "could not bring undone messages back sooner", extra={"error": f"{type(exc).__name__}: {exc}"}
        )


# ORC and Parquet reports compress a row to some 20-40 bytes: counting 20 errs towards more children
REPORT_BYTES_PER_ROW = 20


def iter_inventory_refs(s3: Any, report: inventory.InventoryManifest, extensions) -> Iterator[ObjectRef]:
    """Every data file of a report, streamed from S3 (CSV decompressed on the fly; ORC and Parquet through
    a temporary file)."""
    for entry in report.files:
        body = s3.get_object(Bucket=report.destination_bucket, Key=entry["key"])["Body"]
        with body:
            yield from inventory.iter_data_file(body, report, entry["key"], extensions)


# A report of few files but many rows may be read whole by every child, each keeping the rows that hash to
# it, up to this size (some 20 s of reading per child); a larger one is split by data file.
HASH_SPLIT_MAX_BYTES = 64 << 20
# Rows a second the submitter reads from a report on one vCPU: bench/inventory_bench.py measures 150-215 k
# on the 2-core build machine; half of that stands for a Lambda's slower cores. A Lambda function gets one
# vCPU per 1,769 MB of memory (AWS Lambda Developer Guide, "Configuring function memory").
READ_ROWS_PER_VCPU_S = 75_000
LAMBDA_MB_PER_VCPU = 1769
# Read in the Lambda only what takes at most this share of the time left: writing the manifest's shards
# and submitting the jobs come after the reading, and the estimate is an estimate.
READ_SHARE_OF_TIME_LEFT = 0.5


def estimated_rows(report: inventory.InventoryManifest) -> int:
    """Rows the report's data files hold at most, from their sizes alone (no file is read)."""
    return sum(int(f.get("size") or 0) for f in report.files) // REPORT_BYTES_PER_ROW


def read_seconds(report: inventory.InventoryManifest, memory_mb: int | None) -> float:
    """How long reading the whole report would take here (memory_mb: the Lambda's; None: one full vCPU)."""
    vcpus = min(1.0, memory_mb / LAMBDA_MB_PER_VCPU) if memory_mb else 1.0
    return estimated_rows(report) / (READ_ROWS_PER_VCPU_S * vcpus)


def report_shards(report: inventory.InventoryManifest, cfg: SubmitterConfig) -> int:
    """Children for a report only they will read. Each data file is read once, by one child, unless the
    report has fewer files than its rows need children and is small (HASH_SPLIT_MAX_BYTES): then every
    child reads it whole and keeps the rows that hash to it."""
    files = max(1, len(report.files))
    size = sum(int(f.get("size") or 0) for f in report.files)
    by_rows = -(-estimated_rows(report) // cfg.shard_size)
    if by_rows > files and size <= HASH_SPLIT_MAX_BYTES:
        return by_rows
    return files


def read_inventory(s3: Any, bucket: str, key: str) -> tuple[inventory.InventoryManifest, str]:
    """(the report, the manifest's ETag); the ETag pins which report this is."""
    response = s3.get_object(Bucket=bucket, Key=key)
    with response["Body"] as body:
        data = body.read()
    return inventory.parse_inventory_manifest(data), response.get("ETag", "").strip('"')


def inventory_work(
    s3: Any, cfg: SubmitterConfig, bucket: str, key: str
) -> tuple[str, Iterator[ObjectRef], dict]:
    return _report_work(s3, cfg, bucket, key, *read_inventory(s3, bucket, key))


def _report_work(
    s3: Any, cfg: SubmitterConfig, bucket: str, key: str, report: inventory.InventoryManifest, etag: str
) -> tuple[str, Iterator[ObjectRef], dict]:
    """(manifest id, the report's work rows, the source record) of a report already read."""
    manifest_id = submit.inventory_manifest_id(bucket, key, etag, cfg.features)
    source = {
        "kind": "inventory",
        "uri": f"s3://{bucket}/{key}",
        "source_bucket": report.source_bucket,
        "format": report.file_format,
    }
    return manifest_id, iter_inventory_refs(s3, report, cfg.extensions), source


def submit_inventory(
    s3: Any, batch: Any, cfg: SubmitterConfig, bucket: str, key: str, seconds_left: float | None = None
) -> submit.Submission:
    """An inventory report's images as array jobs. A report this process can read in the time it has
    (`seconds_left`, None: no limit) becomes a bucketlens manifest with exact counts. One it cannot (too
    many rows for the time left, as estimated from its files' sizes; or ORC and Parquet without pyarrow,
    as in the Lambda) is read by the children themselves, split by data file: no data file is read here."""
    report, etag = read_inventory(s3, bucket, key)
    manifest_id, refs, source = _report_work(s3, cfg, bucket, key, report, etag)
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 0) or None
    seconds = read_seconds(report, memory)
    unreadable = report.columnar and not inventory.columnar_available()
    if unreadable or (seconds_left is not None and seconds > READ_SHARE_OF_TIME_LEFT * seconds_left):
        shards = report_shards(report, cfg)
        why = (
            f"needs {report.file_format} support (pyarrow)"
            if unreadable
            else f"about {seconds:.0f} s to read"
        )
        detail = {**source, "read_by": "children", "estimated_rows": estimated_rows(report), "why": why}
        return submit.submit_report(s3, batch, cfg, manifest_id, source["uri"], shards, detail)
    return submit.submit_work(s3, batch, cfg, manifest_id, refs, source)


def backfill_work(
    s3: Any, cfg: SubmitterConfig, bucket: str, prefix: str, request_id: str
) -> tuple[str, Iterator[ObjectRef], dict]:
    manifest_id = submit.backfill_manifest_id(bucket, prefix, cfg.features, request_id)
    source = {"kind": "backfill", "uri": f"s3://{bucket}/{prefix}", "request_id": request_id}
    return manifest_id, backfill.iter_listing(s3, bucket, prefix, cfg.extensions), source


def _is_image(key: str, cfg: SubmitterConfig) -> bool:
    return inventory.is_image_key(key, inventory.normalize_extensions(cfg.extensions))


def _stored_if_wanted(c: Clients, cfg: SubmitterConfig, event: events.S3Event) -> tuple[bool, dict | None]:
    """(False when the table already holds a newer state for the key: that saves a job, and the worker
    checks too; the stored state, which the fast path hands to the worker instead of reading it again)."""
    stored = store.get_state(c.dynamodb, cfg.table, event.bucket, event.key)
    return is_newer(stored, event.sequencer, event.event_time), stored


def current_after_version_delete(s3: Any, event: events.S3Event) -> events.S3Event | None:
    """Deleting one version (or a delete marker) can leave another version current: then the key's
    state at this event's sequencer is that version, a create, not a deletion. None: nothing is left."""
    try:
        head = s3.head_object(Bucket=event.bucket, Key=event.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "405"):
            return None
        raise
    return replace(
        event,
        kind="create",
        version_id=head.get("VersionId"),
        etag=(head.get("ETag") or "").strip('"') or None,
        size=head.get("ContentLength"),
    )


def unindex(c: Clients, cfg: SubmitterConfig, event: events.S3Event) -> None:
    """A deleted image leaves the label index; a failure is logged only (searches check the table)."""
    try:
        label_index.remove(c.dynamodb, cfg.label_table, event.bucket, event.key)
    except Exception as exc:  # noqa: BLE001 - the tombstone is what matters; stale rows are never shown
        log.warning(
            "label index rows not removed", extra={"key": event.key, "error": f"{type(exc).__name__}: {exc}"}
        )
    if cfg.opensearch_endpoint:
        # with embeddings, the image's vector has a document in the k-NN index beside the document index
        indexes = [cfg.opensearch_index] + (
            [vectors_index(cfg.opensearch_index)] if cfg.vector_bucket else []
        )
        session = boto3.session.Session()
        for index in indexes:
            try:
                search_delete.delete(
                    cfg.opensearch_endpoint,
                    index,
                    search_delete.doc_id(event.bucket, event.key),
                    session.get_credentials(),
                    session.region_name or "us-east-1",
                )
            except Exception as exc:  # noqa: BLE001 - searches return results (status done) only: docs/search-and-reports.md
                log.warning(
                    "search document not removed",
                    extra={"key": event.key, "index": index, "error": f"{type(exc).__name__}: {exc}"},
                )
    if cfg.vector_bucket:
        try:
            deletions.remove_vectors(
                clients.client("s3vectors"), cfg.vector_bucket, vectors.vector_key(event.bucket, event.key)
            )
        except Exception as exc:  # noqa: BLE001 - the tombstone is what matters, as for the label index
            log.warning(
                "vectors not removed", extra={"key": event.key, "error": f"{type(exc).__name__}: {exc}"}
            )


def label_here(
    c: Clients,
    cfg: SubmitterConfig,
    refs: list[ObjectRef],
    states: dict[tuple[str, str], dict | None],
    seconds_left: float,
    messages_of: dict[tuple[str, str], set[str]],
) -> tuple[dict, set[str]]:
    """The fast path: (its counts, the messages of the images it did not finish, for the queue to
    deliver again)."""
    try:
        labelled = fast_path.label(c.s3, c.dynamodb, cfg, refs, states, seconds_left)
    except Exception:
        log.exception("fast path failed: its images stay queued", extra={"images": len(refs)})
        outcomes = dict.fromkeys(refs, "transient")
        stats: dict = {}
    else:
        outcomes, stats = labelled.outcomes, labelled.stats
    undone = {
        m
        for ref, result in outcomes.items()
        if result == "transient"
        for m in messages_of[(ref.bucket, ref.key)]
    }
    return stats, undone


def handle_events(
    c: Clients, cfg: SubmitterConfig, records: list[dict], seconds_left: float | None = None
) -> BatchOutcome:
    """An SQS batch: deletes become tombstones, inventory manifests jobs, and creates are labelled here
    (a few, with `seconds_left` in the invocation: the fast path) or become a job.

    A failure marks only the messages it concerns; the rest of the batch is acknowledged.
    """
    started = time.monotonic()
    outcome = BatchOutcome()
    failed: dict[str, None] = {}
    parsed: list[events.S3Event] = []
    model = ModelGate(c, cfg)
    for record in records:
        try:
            parsed.extend(events.parse_sqs_record(record))
        except ValueError as exc:
            log.error(
                "unreadable SQS message", extra={"message_id": record.get("messageId"), "error": str(exc)}
            )
            failed[record.get("messageId", "")] = None

    creates: list[events.S3Event] = []
    states: dict[tuple[str, str], dict | None] = {}
    messages_of: dict[tuple[str, str], set[str]] = {}
    for event in parsed:
        messages_of.setdefault((event.bucket, event.key), set()).add(event.message_id)
    for event in events.latest_per_key(parsed).values():
        try:
            if event.kind == "remove" and event.version_id and event.permanent:
                current = current_after_version_delete(c.s3, event)
                event = current or replace(event, version_id=None)  # no version left: a plain delete
            if event.kind == "remove":
                if deletions.write_tombstone(c.dynamodb, cfg.table, event):
                    outcome.tombstones += 1
                    unindex(c, cfg, event)
                else:
                    outcome.stale_deletes += 1
            elif events.is_inventory_manifest_key(event.key):
                model.require()
                left = None if seconds_left is None else seconds_left - (time.monotonic() - started)
                outcome.submissions.append(
                    submit_inventory(c.s3, c.batch, cfg, event.bucket, event.key, left)
                )
            elif not _is_image(event.key, cfg):
                outcome.skipped_creates += 1
            elif (found := _stored_if_wanted(c, cfg, event))[0]:
                creates.append(event)
                states[(event.bucket, event.key)] = found[1]
            else:
                outcome.skipped_creates += 1
        except Exception:
            log.exception("event failed", extra={"bucket": event.bucket, "key": event.key})
            failed.update(dict.fromkeys(messages_of[(event.bucket, event.key)]))

    if creates and not model.running_or_unknown_is_no():
        for e in creates:  # left on the queue: they flow once the model runs (the schedule enables us)
            failed.update(dict.fromkeys(messages_of[(e.bucket, e.key)]))
        outcome.waiting_for_model = len(creates)
        creates = []
    if creates:
        refs = [
            ObjectRef(e.bucket, e.key, e.version_id, e.etag, e.size, e.event_time, e.sequencer)
            for e in creates
        ]
        refs.sort(key=lambda r: (r.bucket, r.key))
        why_not = fast_path.why_not(cfg, len(refs), seconds_left)
        if why_not is None:
            outcome.labelled, undone = label_here(c, cfg, refs, states, seconds_left or 0.0, messages_of)
            failed.update(dict.fromkeys(sorted(undone)))
            retry_sooner(c.sqs, records, undone)
            creates = []
        else:
            log.info("images go to a Batch job", extra={"images": len(refs), "why": why_not})
    if creates:
        manifest_id = submit.events_manifest_id(refs, cfg.features)
        try:
            source = {"kind": "events", "objects": len(refs)}
            outcome.submissions.append(submit.submit_work(c.s3, c.batch, cfg, manifest_id, refs, source))
        except Exception:
            log.exception("submission failed", extra={"manifest_id": manifest_id, "objects": len(refs)})
            for e in creates:
                failed.update(dict.fromkeys(messages_of[(e.bucket, e.key)]))
    failed.pop("", None)
    outcome.failed = list(failed)
    return outcome
