"""`python -m job run`: one array child turns its share of the images into results, at its quota.

Threads pull refs from a bounded queue fed by the source, so memory stays flat on any shard size.
Worker threads are daemons: after SIGTERM the run waits `grace_seconds` for in-flight images, writes
its summary and returns, and a call stuck in a retry cannot hold the container past its kill deadline.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from job.core import errors, store
from job.core.manifest import ObjectRef
from job.core.metrics import Emitter
from job.core.summary import Stats, build_summary, summary_uri
from job.worker import labels, pending, s3, sources
from job.worker.config import RunConfig
from job.worker.image import CONFIG_CODES, UNKNOWN, Backends, Fatal, Worker

log = logging.getLogger(__name__)

_DONE = object()  # queue sentinel
PREFETCH = 100  # BatchGetItem's limit
# no region, no credentials: the environment is wrong, no retry can help
_SETUP_ERRORS = (NoRegionError, NoCredentialsError, PartialCredentialsError)


class Runner:
    """Feeds refs to daemon worker threads, logs progress, and decides the exit code."""

    def __init__(
        self, config: RunConfig, backends: Backends | None = None, stop: threading.Event | None = None
    ):
        self.config = config
        self.backends = backends or Backends.default(pool=config.workers + 4)
        self.stop = stop or threading.Event()
        self.stats = Stats()
        self.metrics = Emitter("batch", config.deployment)
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
            self.worker.open()
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
            if (isinstance(exc, ClientError) and labels.error_code(exc) in CONFIG_CODES) or isinstance(
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
            self.worker.leave_quota()
            self.worker.close()
        return self._finish(code, plan)

    def _check_table(self) -> None:
        try:
            self.backends.ddb.describe_table(TableName=self.config.table)
        except ClientError as exc:
            if labels.error_code(exc) in CONFIG_CODES:
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
                if labels.error_code(exc) in CONFIG_CODES:
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
            self.stats.tally(outcome)
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
        self.metrics.flush(self.stats)

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
        self.metrics.flush(self.stats)
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
