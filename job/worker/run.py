"""`python -m job run`: one array child turns its share of the images into results, at its quota.

Threads pull refs from a bounded queue fed by the source, so memory stays flat on any shard size.
Worker threads are daemons: after SIGTERM the run waits `grace_seconds` for in-flight images, writes
its summary and returns, and a call stuck in a retry cannot hold the container past its kill deadline.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import backoff
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from job import exif
from job.core import clients, errors, model_status, quota, store
from job.core.manifest import ObjectRef
from job.core.ordering import iso_time
from job.core.summary import Stats, build_summary, summary_uri
from job.worker import convert, labels, pending, s3, sinks, sources
from job.worker.config import RunConfig
from job.worker.ratelimit import limiter

log = logging.getLogger(__name__)

_DONE = object()  # queue sentinel
UNKNOWN = object()  # "stored state not read yet"
PREFETCH = 100  # BatchGetItem's limit
_CONFIG_CODES = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
)
# no region, no credentials: the environment is wrong, no retry can help
_SETUP_ERRORS = (NoRegionError, NoCredentialsError, PartialCredentialsError)
RETRY_TRIES = 5
RETRY_MAX_WAIT = 20.0


@dataclass(frozen=True)
class Backends:
    """The three AWS clients the worker uses; tests and the benchmark pass their own."""

    s3: Any
    ddb: Any
    rekognition: Any

    @classmethod
    def default(cls, pool: int) -> Backends:
        return cls(
            s3=clients.client("s3", pool=pool),
            ddb=clients.client("dynamodb", pool=pool),
            # one attempt per botocore call: labels._call retries through the rate limiter instead
            rekognition=clients.client("rekognition", pool=pool, max_attempts=0),
        )


class Fatal(Exception):
    """A failure that ends the whole run (missing table, no permission): retrying cannot help."""


is_transient = labels.is_transient


def _refused_for_this_object(exc: ClientError) -> bool:
    """S3 or Rekognition denying one object (a KMS key, an object ACL) is that image's recorded error;
    the rest of the shard goes on, and a rerun after the fix tries it again (store.RETRY_ON_RERUN)."""
    return labels.error_code(exc) in store.RETRY_ON_RERUN and getattr(exc, "operation_name", "") in (
        "GetObject",
        "HeadObject",
        "DetectLabels",
        "DetectText",
        "DetectCustomLabels",
    )


def _extension(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _normalized(ref: ObjectRef) -> ObjectRef:
    return replace(
        ref,
        etag=s3.strip_etag(ref.etag),
        last_modified=iso_time(ref.last_modified) if ref.last_modified else None,
        version_id=ref.version_id if ref.version_id not in ("", None) else None,
    )


class Worker:
    """Per-image pipeline: skip check, EXIF by ranged GETs, Rekognition, conditional write."""

    def __init__(self, config: RunConfig, backends: Backends, stats: Stats, stop: threading.Event) -> None:
        self.config = config
        self.b = backends
        self.stats = stats
        self.stop = stop
        self.features = config.feature_key
        self._limiters = {
            op: self._limiter(op) for op in ("DetectLabels", "DetectText", "DetectCustomLabels")
        }
        self._hook_id = f"bucketlens-throttles-{id(self)}"
        self._converting = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
        # results paid for but not stored (the table failed past the retry budget), kept for the rerun
        self.unwritten: list[dict] = []
        self._unwritten_lock = threading.Lock()
        self.store_down = threading.Event()
        self.model_down = threading.Event()  # the Custom Labels model stopped: the retry waits for it
        self.sinks = sinks.build(backends.ddb, config.labels_table, config.opensearch)
        self._model_checked = False
        self._model_lock = threading.Lock()

    def _limiter(self, operation: str) -> Any:
        """The shared quota when one is configured (--tps-quota), else the optional per-child cap."""
        cfg = self.config
        if not cfg.tps_quota:
            return limiter(cfg.max_tps)
        user = f"{cfg.job_id}:{cfg.index}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        return quota.SharedRate(
            self.b.ddb,
            cfg.limiters_table,
            f"rekognition:{operation}",
            user,
            cfg.tps_quota,
            cap=cfg.max_tps,
            expected=cfg.shards,  # the job's children, which start together (the submitter passes it)
        )

    def leave_quota(self) -> int:
        """Give the shared quota back at the end of the run; returns the limiter's DynamoDB calls."""
        calls = 0
        for shared in self._limiters.values():
            if isinstance(shared, quota.SharedRate):
                if shared.limiter_calls:
                    shared.leave()
                calls += shared.limiter_calls
        return calls

    # --- throttle accounting through botocore's retry hook ------------------------------------------
    def attach(self) -> None:
        for client in (self.b.s3, self.b.ddb, self.b.rekognition):
            events = getattr(getattr(client, "meta", None), "events", None)
            if events is not None:
                events.register("needs-retry", self._on_retry, unique_id=self._hook_id)

    def detach(self) -> None:
        for client in (self.b.s3, self.b.ddb, self.b.rekognition):
            events = getattr(getattr(client, "meta", None), "events", None)
            if events is not None:
                events.unregister("needs-retry", self._on_retry, unique_id=self._hook_id)

    def _on_retry(self, response: Any = None, operation: Any = None, **_: Any) -> None:
        if response and isinstance(response, tuple) and len(response) == 2:
            code = (response[1] or {}).get("Error", {}).get("Code", "")
            if code in labels.THROTTLE_CODES:
                name = getattr(operation, "name", "?")
                self.stats.throttled(name)
                shared = self._limiters.get(name)
                if isinstance(shared, quota.SharedRate):
                    shared.throttled()  # AIMD: the shared quota's user backs off
        return None

    # --- one image ----------------------------------------------------------------------------------
    def handle(self, ref: ObjectRef, state: Any = UNKNOWN) -> str:
        """Process with retries; returns the outcome counter name. Raises Fatal.

        `state` is the stored item prefetched by a batch read; retries read it afresh. Rekognition
        answers are kept across the retries (`memo`), so a retry after a failed write or a failed later
        call never pays for the same call twice.
        """
        first = [state]
        memo: dict[Any, Any] = {}

        def once(ref: ObjectRef) -> str:
            known, first[0] = first[0], UNKNOWN
            return self.process(ref, known, memo)

        def giveup(exc: BaseException) -> bool:
            return self.stop.is_set() or not is_transient(exc)

        attempt = backoff.on_exception(
            backoff.expo,
            (ClientError, BotoCoreError),
            max_tries=RETRY_TRIES,
            max_value=RETRY_MAX_WAIT,
            jitter=backoff.full_jitter,
            giveup=giveup,
            logger=None,
        )(once)
        try:
            return attempt(ref)
        except labels.ModelNotRunning as exc:
            if not self.model_down.is_set():
                log.error(
                    "custom labels model not running: no new images are started", extra={"error": str(exc)}
                )
            self.model_down.set()
            return "transient"
        except (ClientError, BotoCoreError) as exc:
            code = labels.error_code(exc)
            if code in _CONFIG_CODES and not _refused_for_this_object(exc):
                raise Fatal(f"{code}: {exc}") from exc
            if code and not is_transient(exc) and self._record_failure(ref, code, str(exc)):
                return f"error:{code}"  # e.g. InvalidObjectState (archived object): no retry can help
            if memo.get("item") is not None:
                self._keep_unwritten(memo["item"])
            log.warning(
                "image left for a retry",
                extra={"bucket": ref.bucket, "key": ref.key, "error": f"{type(exc).__name__}: {exc}"},
            )
            return "transient"

    def _keep_unwritten(self, item: dict) -> None:
        """The table is failing past the retry budget: keep the paid-for result and stop taking images."""
        with self._unwritten_lock:
            self.unwritten.append(item)
        if not self.store_down.is_set():
            log.error("results table failing: no new images are started; the retry stores what was paid for")
        self.store_down.set()

    def _record_failure(self, ref: ObjectRef, code: str, message: str) -> bool:
        """Record a per-object AWS refusal as the image's terminal error; False if even that fails."""
        ref = _normalized(ref)
        item = store.build_error(ref, self.features, ref.last_modified or store.now_iso(), code, message)
        try:
            store.put_result(self.b.ddb, self.config.table, item)
        except (ClientError, BotoCoreError):
            return False
        return True

    def wants(self, ref: ObjectRef) -> bool:
        """Only image extensions are work; the content check comes with the first read."""
        return _extension(ref.key) in self.config.extensions

    def process(self, ref: ObjectRef, stored: Any = UNKNOWN, memo: dict | None = None) -> str:
        memo = {} if memo is None else memo
        ref = _normalized(ref)
        if not self.wants(ref):
            return "skipped_not_image"
        if stored is UNKNOWN:
            stored = store.get_state(self.b.ddb, self.config.table, ref.bucket, ref.key)
            self.stats.call("dynamodb.GetItem")
        reason = store.skip_reason(stored, ref, self.features)
        if reason == "already-done" and store.order_moved(stored, ref):
            store.advance_order(self.b.ddb, self.config.table, ref, ref.last_modified)
            self.stats.call("dynamodb.UpdateItem")
        if reason:
            return "skipped_done" if reason == "already-done" else "skipped_stale"

        reader = s3.RangeReader(self.b.s3, ref)
        try:
            record = exif.extract(reader, size=ref.size)
        except s3.ObjectChanged:
            return "skipped_changed"
        except s3.ObjectGone:
            return "skipped_gone"
        finally:
            self.stats.call("s3.GetObject", reader.calls)
            self.stats.read_bytes(reader.bytes_read)
        facts = reader.facts
        ref = replace(
            ref,
            etag=ref.etag or facts.etag,
            size=ref.size if ref.size is not None else facts.size,
            last_modified=ref.last_modified or facts.last_modified,
            version_id=ref.version_id or facts.version_id,
        )
        if ref.last_modified is None or ref.etag is None:  # an empty object: no GET told us
            try:
                head = s3.head(self.b.s3, ref)
            except s3.ObjectGone:
                return "skipped_gone"
            self.stats.call("s3.HeadObject")
            ref = replace(
                ref,
                etag=ref.etag or head.etag,
                last_modified=ref.last_modified or head.last_modified,
                size=ref.size if ref.size is not None else head.size,
            )
        late_reason = store.skip_reason(stored, ref, self.features) if stored is not None else None
        if late_reason:  # the listing lacked the ETag or time; the first GET told us
            return "skipped_done" if late_reason == "already-done" else "skipped_stale"
        order_time = ref.last_modified or store.now_iso()
        item = self._result(ref, record, order_time, memo)
        if item is None:
            return "skipped_changed"
        memo["item"] = item
        written = store.put_result(self.b.ddb, self.config.table, item)
        memo["item"] = None
        self.stats.call("dynamodb.PutItem")
        if not written:
            return "skipped_duplicate"
        for sink in self.sinks:
            sink.add(item, None)
        if item["status"] == "error":
            return "error:" + str(item.get("error_class"))
        return "done"

    def _result(self, ref: ObjectRef, record: exif.ExifRecord, order_time: str, memo: dict) -> dict | None:
        exif_map = record.to_dict()
        if record.format is None:
            error_class = "EmptyFile" if record.error == "empty file" else "UnsupportedFormat"
            return store.build_error(
                ref, self.features, order_time, error_class, record.error or "not an image", exif_map
            )
        if record.format not in convert.CONVERTIBLE:
            return store.build_error(
                ref, self.features, order_time, "UnsupportedFormat", f"format {record.format}", exif_map
            )
        try:
            image, route = self._image(ref, record)
            return self._detect(ref, image, route, exif_map, order_time, memo)
        except labels.ImageRejected as exc:
            return store.build_error(ref, self.features, order_time, exc.code, str(exc), exif_map)
        except convert.BadImage as exc:
            return store.build_error(ref, self.features, order_time, "BadImage", str(exc), exif_map)
        except s3.TooLarge as exc:
            return store.build_error(ref, self.features, order_time, "TooLarge", str(exc), exif_map)
        except (s3.ObjectChanged, s3.ObjectGone):
            return None

    def _image(self, ref: ObjectRef, record: exif.ExifRecord) -> tuple[dict, str]:
        route = convert.choose(record.format, ref.size, record.width, record.height)
        if route.kind == "s3":
            self.stats.route("s3")
            return labels.s3_image(ref.bucket, ref.key, ref.version_id), "s3"
        with self._converting:  # a decoded 100 MP image is ~300 MB: bound how many are in memory
            data = s3.get_bytes(self.b.s3, ref, convert.MAX_DOWNLOAD)
            self.stats.call("s3.GetObject")
            self.stats.read_bytes(len(data))
            limit = convert.MAX_CUSTOM_BYTES if "custom-labels" in self.config.features else convert.MAX_BYTES
            jpeg = convert.to_jpeg(data, max_bytes=limit)
            del data
        self.stats.route("bytes")
        return {"Bytes": jpeg}, "bytes"

    def _require_model(self, arn: str) -> None:
        """Once per run, before the first Custom Labels call: a stopped model ends the run with no spend."""
        with self._model_lock:
            if not self._model_checked:
                try:
                    state = model_status.status(self.b.rekognition, arn)
                except LookupError as exc:
                    raise Fatal(str(exc)) from exc
                if state != model_status.RUNNING:
                    raise labels.ModelNotRunning(f"model status {state}")
                self._model_checked = True

    def _detect(
        self, ref: ObjectRef, image: dict, route: str, exif_map: dict, order_time: str, memo: dict
    ) -> dict:
        cfg = self.config
        rk = self.b.rekognition

        def once(operation: str, call: Any) -> Any:
            """Each Rekognition call at most once per object version, however often the image is retried."""
            key = (operation, ref.etag, ref.version_id)
            if key not in memo:
                memo[key] = call()
                self.stats.call(f"rekognition.{operation}")
            return memo[key]

        found: tuple[labels.Label, ...] = ()
        model_version = None
        text = custom = None
        if "custom-labels" in cfg.features:  # first: a stopped model must not leave other calls paid twice
            assert cfg.project_version_arn
            arn = cfg.project_version_arn
            self._require_model(arn)
            confidence = (
                cfg.min_confidence if cfg.custom_min_confidence is None else cfg.custom_min_confidence
            )
            customs = once(
                "DetectCustomLabels",
                lambda: labels.detect_custom_labels(
                    rk, arn, image, confidence, cfg.max_labels, self._limiters["DetectCustomLabels"].acquire
                ),
            )
            custom = [c.to_dict() for c in customs]
        if "labels" in cfg.features:
            result = once(
                "DetectLabels",
                lambda: labels.detect_labels(
                    rk, image, cfg.min_confidence, cfg.max_labels, self._limiters["DetectLabels"].acquire
                ),
            )
            found, model_version = result.labels, result.model_version
        if "text" in cfg.features:
            wanted = cfg.text_if is None or labels.labels_match(
                found, cfg.text_if.label, cfg.text_if.confidence
            )
            if wanted:
                lines = once(
                    "DetectText",
                    lambda: labels.detect_text(
                        rk, image, cfg.min_confidence, self._limiters["DetectText"].acquire
                    ),
                )
                text = [line.to_dict() for line in lines]
        return store.build_result(
            ref,
            self.features,
            order_time,
            exif_map,
            labels=[label.to_dict() for label in found],
            text=text,
            custom_labels=custom,
            label_model_version=model_version,
            route=route,
        )


class Runner:
    """Feeds refs to daemon worker threads, logs progress, and decides the exit code."""

    def __init__(
        self, config: RunConfig, backends: Backends | None = None, stop: threading.Event | None = None
    ):
        self.config = config
        self.backends = backends or Backends.default(pool=config.workers + 4)
        self.stop = stop or threading.Event()
        self.stats = Stats()
        self.worker = Worker(config, self.backends, self.stats, self.stop)
        self.fatal: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=config.workers * 2)
        self._in_flight = 0
        self._lock = threading.Lock()
        self._last_progress = time.monotonic()
        self._progress_mark = 0

    def run(self) -> int:
        cfg = self.config
        log.info("run starting", extra={"config": cfg.to_log()})
        plan: dict = {"source": cfg.source}
        code = errors.EXIT_OK
        self.worker.attach()
        try:
            self._check_table()
            self._replay_pending()
            plan_obj, refs = sources.open_source(
                self.backends.s3, cfg.source, cfg.index, cfg.shards, cfg.shard_offset
            )
            plan = {"kind": plan_obj.kind, "bucket": plan_obj.bucket, "key": plan_obj.key, **plan_obj.detail}
            log.info("source opened", extra={"plan": plan})
            code = self._drive(refs)
        except errors.ConfigError as exc:
            log.error("configuration error", extra={"error": str(exc)})
            self.fatal = str(exc)
            code = errors.EXIT_CONFIG
        except (ClientError, BotoCoreError) as exc:
            if (isinstance(exc, ClientError) and labels.error_code(exc) in _CONFIG_CODES) or isinstance(
                exc, _SETUP_ERRORS
            ):
                reason = errors.failure(exc)[1]  # the one wording every command uses, with the fix
                log.error("configuration error", extra={"error": reason})
                self.fatal = reason
                code = errors.EXIT_CONFIG
            else:
                log.error(
                    "source failed; a retry can resume", extra={"error": f"{type(exc).__name__}: {exc}"}
                )
                code = errors.EXIT_TRANSIENT
        finally:
            self.worker.detach()
            limiter_calls = self.worker.leave_quota()
            if limiter_calls:
                self.stats.call("dynamodb.limiter", limiter_calls)  # the shared quota's own calls
        return self._finish(code, plan)

    def _check_table(self) -> None:
        try:
            self.backends.ddb.describe_table(TableName=self.config.table)
        except ClientError as exc:
            if labels.error_code(exc) in _CONFIG_CODES:
                raise errors.ConfigError(
                    f"results table {self.config.table!r}: {labels.error_code(exc)}"
                ) from exc
            raise

    def _drive(self, refs: Any) -> int:
        threads = [
            threading.Thread(target=self._work, name=f"worker-{n}", daemon=True)
            for n in range(self.config.workers)
        ]
        for thread in threads:
            thread.start()
        for chunk in _chunks(refs, PREFETCH):
            if self._stopping():
                break
            for ref, state in self._prefetch(chunk):
                self.stats.saw()
                while not self._stopping():
                    try:
                        self._queue.put((ref, state), timeout=0.2)
                        break
                    except queue.Full:
                        self._maybe_progress()
                if self._stopping():
                    break
            self._maybe_progress()
        log.info("source read", extra={"total": self.stats.seen, "complete": not self._stopping()})
        for _ in threads:  # sentinels; workers drop queued refs once stopping
            while True:
                try:
                    self._queue.put(_DONE, timeout=0.2)
                    break
                except queue.Full:
                    if self._stopping():
                        self._drain()
                    self._maybe_progress()
        deadline = None
        while any(t.is_alive() for t in threads):
            if self._stopping() and deadline is None:
                deadline = time.monotonic() + self.config.grace_seconds
                log.warning(
                    "stopping: waiting for in-flight images", extra={"grace_s": self.config.grace_seconds}
                )
            if deadline is not None and time.monotonic() >= deadline:
                log.warning("grace period over; in-flight images are left for the retry")
                break
            for thread in threads:
                thread.join(timeout=0.2)
            self._maybe_progress()
        if self.fatal:
            return errors.EXIT_CONFIG
        if self.stop.is_set() or self.stats.outcomes["transient"] or any(t.is_alive() for t in threads):
            return errors.EXIT_TRANSIENT
        return errors.EXIT_OK

    def _replay_pending(self) -> None:
        """Store what an earlier attempt of this child paid for but could not write (job.pending)."""
        cfg = self.config
        if not cfg.results_uri:
            return
        uri = pending.pending_uri(cfg.results_uri, cfg.job_id, cfg.index)
        try:
            items = pending.load(self.backends.s3, uri)
        except (ClientError, BotoCoreError) as exc:  # the run goes on; those images are labelled again
            log.warning("could not read earlier unwritten results", extra={"uri": uri, "error": str(exc)})
            return
        if not items:
            return
        stored = sum(store.put_result(self.backends.ddb, cfg.table, item) for item in items)
        pending.clear(self.backends.s3, uri)
        log.info("unwritten results replayed", extra={"uri": uri, "items": len(items), "stored": stored})

    def _prefetch(self, chunk: list[ObjectRef]) -> list[tuple[ObjectRef, Any]]:
        """Pair each ref with its stored state from one batch read; UNKNOWN where the batch failed."""
        wanted = [r for r in chunk if self.worker.wants(r)]
        states: dict = {}
        if len(wanted) > 1:
            try:
                states = store.get_states(
                    self.backends.ddb, self.config.table, [(r.bucket, r.key) for r in wanted]
                )
                self.stats.call("dynamodb.BatchGetItem")
            except ClientError as exc:
                if labels.error_code(exc) in _CONFIG_CODES:
                    raise
                log.warning("batch read failed; reading states one by one", extra={"error": str(exc)})
            except BotoCoreError as exc:
                log.warning("batch read failed; reading states one by one", extra={"error": str(exc)})
        return [(r, states.get((r.bucket, r.key), UNKNOWN)) for r in chunk]

    def _stopping(self) -> bool:
        w = self.worker
        return self.stop.is_set() or self.fatal is not None or w.store_down.is_set() or w.model_down.is_set()

    def _drain(self) -> None:
        try:
            while True:
                item = self._queue.get_nowait()
                if item is _DONE:
                    self._queue.put_nowait(_DONE)
                    return
        except (queue.Empty, queue.Full):
            return

    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is _DONE:
                return
            if self._stopping():
                continue  # not started: the retry of this child will do it
            ref, state = entry
            try:
                outcome = self.worker.handle(ref, state)
            except Fatal as exc:
                self.fatal = str(exc)
                log.error("fatal error; stopping", extra={"error": str(exc)})
                continue
            except Exception:  # a bug must not crash the shard silently: leave it for the retry
                log.exception("unexpected failure", extra={"bucket": ref.bucket, "key": ref.key})
                outcome = "transient"
            if outcome.startswith("error:"):
                self.stats.outcome("error", outcome.split(":", 1)[1])
            else:
                self.stats.outcome(outcome)
            if self.config.progress_every and self.stats.finished % self.config.progress_every == 0:
                self._progress()

    def _maybe_progress(self) -> None:
        if time.monotonic() - self._last_progress >= self.config.progress_seconds:
            self._progress()

    def _progress(self) -> None:
        self._last_progress = time.monotonic()
        snap = self.stats.snapshot()
        log.info(
            "progress",
            extra={
                "done": snap["finished"],
                "total": snap["seen"],
                "images_per_s": snap["images_per_s"],
                "errors": snap["outcomes"]["error"],
                "throttles": snap["throttles"],
                "transient": snap["outcomes"]["transient"],
            },
        )

    def _finish(self, code: int, plan: dict) -> int:
        cfg = self.config
        doc = build_summary(self.stats, cfg.to_log(), plan, code, self.stop.is_set())
        if self.fatal:
            doc["fatal"] = self.fatal
        doc["unwritten"] = len(self.worker.unwritten)
        doc["model_not_running"] = self.worker.model_down.is_set()
        for sink in self.worker.sinks:
            sink.flush()
        doc["index_errors"] = sum(getattr(sink, "errors", 0) for sink in self.worker.sinks)
        self._keep_unwritten()
        log.info("run finished", extra={"summary": doc})
        if cfg.results_uri:
            uri = summary_uri(cfg.results_uri, cfg.job_id, cfg.index)
            try:
                s3.put_json(self.backends.s3, uri, doc)
                log.info("summary written", extra={"uri": uri})
            except (ClientError, BotoCoreError) as exc:
                log.error("could not write the summary", extra={"uri": uri, "error": str(exc)})
        return code

    def _keep_unwritten(self) -> None:
        cfg, items = self.config, self.worker.unwritten
        if not items:
            return
        if not cfg.results_uri:
            log.error(
                "paid-for results not stored: without --results-uri a rerun labels them again",
                extra={"items": len(items)},
            )
            return
        uri = pending.pending_uri(cfg.results_uri, cfg.job_id, cfg.index)
        try:
            pending.save(self.backends.s3, uri, items)
            log.warning("unwritten results kept for the retry", extra={"uri": uri, "items": len(items)})
        except (ClientError, BotoCoreError) as exc:
            log.error("could not keep the unwritten results", extra={"uri": uri, "error": str(exc)})


def _chunks(refs: Any, size: int) -> Any:
    chunk: list[ObjectRef] = []
    for ref in refs:
        chunk.append(ref)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def install_sigterm(stop: threading.Event) -> None:
    """SIGTERM (Spot reclaim, job termination) and SIGINT stop intake; only the main thread may do this."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: Any) -> None:
        log.warning("signal received: finishing in-flight images", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run(config: RunConfig, backends: Backends | None = None, stop: threading.Event | None = None) -> int:
    """Run one child to an exit code (errors.EXIT_*)."""
    return Runner(config, backends, stop).run()
