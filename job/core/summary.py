"""Run counters shared by the worker threads, and the summary a status tool adds up across children."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

# outcome counters every summary carries, so adding summaries up never meets a missing key
OUTCOMES = (
    "done",
    "error",
    "skipped_done",
    "skipped_stale",
    "skipped_duplicate",
    "skipped_not_image",
    "skipped_changed",
    "skipped_gone",
    "transient",
)
TERMINAL = frozenset(OUTCOMES) - {"transient"}
MAX_LATENCIES = 10_000  # kept between two metric flushes; more are dropped rather than held


class Stats:
    """Thread-safe counters plus timing; `snapshot()` is what progress lines and the summary print."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.started = clock()
        self.outcomes: Counter[str] = Counter({name: 0 for name in OUTCOMES})
        self.calls: Counter[str] = Counter()
        self.throttles: Counter[str] = Counter()
        self.errors_by_class: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.bytes_read = 0
        self.seen = 0
        self.limiter_waits = 0
        self.limiter_wait_s = 0.0
        self._latencies_ms: list[float] = []

    def saw(self) -> None:
        with self._lock:
            self.seen += 1

    def outcome(self, name: str, error_class: str | None = None) -> None:
        with self._lock:
            self.outcomes[name] += 1
            if error_class:
                self.errors_by_class[error_class] += 1

    def tally(self, outcome: str) -> None:
        """One image's outcome as the worker names it: a counter name, or `error:<class>`."""
        name, _, error_class = outcome.partition(":")
        self.outcome(name, error_class or None)

    def call(self, operation: str, n: int = 1) -> None:
        with self._lock:
            self.calls[operation] += n

    def throttled(self, operation: str) -> None:
        with self._lock:
            self.throttles[operation] += 1

    def route(self, name: str) -> None:
        with self._lock:
            self.routes[name] += 1

    def read_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes_read += n

    def waited(self, seconds: float) -> None:
        """A Rekognition call held back by the rate limiter (the shared quota) this long."""
        if seconds > 0:
            with self._lock:
                self.limiter_waits += 1
                self.limiter_wait_s += seconds

    def latency(self, seconds: float) -> None:
        """One image's time from its first read to its stored result."""
        with self._lock:
            if len(self._latencies_ms) < MAX_LATENCIES:
                self._latencies_ms.append(seconds * 1000)

    def drain_latencies(self) -> list[float]:
        """The latencies recorded since the last drain (job.core.metrics sends them)."""
        with self._lock:
            found, self._latencies_ms = self._latencies_ms, []
            return found

    @property
    def finished(self) -> int:
        with self._lock:
            return sum(self.outcomes.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            elapsed = max(self._clock() - self.started, 1e-9)
            finished = sum(self.outcomes.values())
            return {
                "seen": self.seen,
                "finished": finished,
                "outcomes": dict(self.outcomes),
                "errors_by_class": dict(self.errors_by_class),
                "rekognition_calls": sum(v for k, v in self.calls.items() if k.startswith("rekognition.")),
                "calls": dict(self.calls),
                "throttles": sum(self.throttles.values()),
                "throttles_by_operation": dict(self.throttles),
                "rekognition_input": dict(self.routes),
                "bytes_read": self.bytes_read,
                "limiter_waits": self.limiter_waits,
                "limiter_wait_s": round(self.limiter_wait_s, 3),
                "duration_s": round(elapsed, 3),
                "images_per_s": round(finished / elapsed, 2),
            }


def build_summary(
    stats: Stats, config_log: dict, plan: dict, exit_code: int, stopped: bool
) -> dict[str, Any]:
    """The end-of-run document: logged, and written to <results prefix>/<job id>/<index>.json."""
    snap = stats.snapshot()
    return {
        "kind": "bucketlens-run-summary/1",
        "job_id": config_log.get("job_id"),
        "index": config_log.get("index"),
        "config": config_log,
        "source": plan,
        "exit_code": exit_code,
        "stopped_by_signal": stopped,
        **snap,
    }


def parent_job_id(batch_job_id: str) -> str:
    """The job a user submitted: an array child's AWS_BATCH_JOB_ID is `<parent id>:<index>`."""
    return batch_job_id.split(":", 1)[0]


def summary_uri(results_uri: str, job_id: str, index: int) -> str:
    return f"{results_uri.rstrip('/')}/{job_id}/{index}.json"


def add_up(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over many children's summaries, for status tools."""
    total: Counter[str] = Counter()
    for doc in summaries:
        total.update(doc.get("outcomes", {}))
        total["rekognition_calls"] += doc.get("rekognition_calls", 0)
        total["bytes_read"] += doc.get("bytes_read", 0)
        total["throttles"] += doc.get("throttles", 0)
    return dict(total)
