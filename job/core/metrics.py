"""CloudWatch metrics as Embedded Metric Format log lines: a JSON line on stdout that CloudWatch Logs turns
into metrics, so neither the worker nor the Lambda calls PutMetricData or needs a permission for it.

Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
(one `_aws` object with a millisecond `Timestamp` and `CloudWatchMetrics` directives; at most 100 metrics
per directive and 100 values per metric; each dimension set at most 30 names; units from a fixed list).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from job.core.summary import OUTCOMES

NAMESPACE = "bucketlens"
MAX_VALUES = 100
REKOGNITION = ("DetectLabels", "DetectText", "DetectCustomLabels")
SKIPPED = tuple(name for name in OUTCOMES if name.startswith("skipped_"))


def document(
    dimensions: Mapping[str, str],
    dimension_sets: list[list[str]],
    metrics: Mapping[str, tuple[float | list[float], str]],
    timestamp_ms: int,
) -> dict[str, Any]:
    """One EMF document: `metrics` maps a name to (value or values, unit)."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
    }


def documents(
    deployment: str,
    path: str,
    delta: Mapping[str, Any],
    latencies_ms: list[float],
    timestamp_ms: int,
) -> list[dict[str, Any]]:
    """What a worker or the fast path did since the last flush: totals by deployment (and by path: fast
    path or Batch), Rekognition calls and throttles by operation, errors by class, per-image latency."""
    outcomes = delta.get("outcomes", {})
    calls = delta.get("calls", {})
    throttles = delta.get("throttles_by_operation", {})
    base = {"Deployment": deployment}
    totals = {
        "ImagesDone": (outcomes.get("done", 0), "Count"),
        "ImagesErrored": (outcomes.get("error", 0), "Count"),
        "ImagesSkipped": (sum(outcomes.get(name, 0) for name in SKIPPED), "Count"),
        "ImagesLeftForRetry": (outcomes.get("transient", 0), "Count"),
        "BytesRead": (delta.get("bytes_read", 0), "Bytes"),
        "RekognitionCalls": (sum(calls.get(f"rekognition.{op}", 0) for op in REKOGNITION), "Count"),
        "RekognitionThrottles": (sum(throttles.get(op, 0) for op in REKOGNITION), "Count"),
        "LimiterWaits": (delta.get("limiter_waits", 0), "Count"),
        "LimiterWaitTime": (round(delta.get("limiter_wait_s", 0.0), 3), "Seconds"),
    }
    found = [document({**base, "Path": path}, [["Deployment"], ["Deployment", "Path"]], totals, timestamp_ms)]
    for start in range(0, len(latencies_ms), MAX_VALUES):
        chunk = [round(v, 1) for v in latencies_ms[start : start + MAX_VALUES]]
        latency = {"ImageLatency": (chunk, "Milliseconds")}
        found.append(
            document({**base, "Path": path}, [["Deployment"], ["Deployment", "Path"]], latency, timestamp_ms)
        )
    for op in REKOGNITION:
        made, throttled = calls.get(f"rekognition.{op}", 0), throttles.get(op, 0)
        if made or throttled:
            per_op = {"RekognitionCalls": (made, "Count"), "RekognitionThrottles": (throttled, "Count")}
            found.append(
                document({**base, "Operation": op}, [["Deployment", "Operation"]], per_op, timestamp_ms)
            )
    for error_class, n in sorted(delta.get("errors_by_class", {}).items()):
        if n:
            errored = {"ImagesErrored": (n, "Count")}
            found.append(
                document(
                    {**base, "ErrorClass": error_class}, [["Deployment", "ErrorClass"]], errored, timestamp_ms
                )
            )
    return found


def _minus(now: Any, before: Any) -> Any:
    """Counters since `before`: numbers subtracted, mappings key by key."""
    if isinstance(now, Mapping):
        return {k: _minus(v, (before or {}).get(k, 0)) for k, v in now.items()}
    if isinstance(now, int | float) and not isinstance(now, bool):
        return now - (before or 0)
    return now


class Emitter:
    """Writes what a `job.core.summary.Stats` counted since the previous flush as EMF lines."""

    def __init__(
        self,
        path: str,
        deployment: str,
        write: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.deployment = deployment
        self.write = write or _stdout
        self.clock = clock
        self.enabled = os.environ.get("BUCKETLENS_METRICS", "on").lower() != "off"
        self._last: dict[str, Any] = {}
        self._lock = threading.Lock()  # progress lines come from any worker thread

    def flush(self, stats: Any) -> list[dict[str, Any]]:
        """Emit one flush's documents (none when metrics are off); returns them."""
        with self._lock:
            snapshot = stats.snapshot()
            latencies = stats.drain_latencies()
            delta = _minus(snapshot, self._last)
            self._last = snapshot
        if not self.enabled:
            return []
        found = documents(self.deployment, self.path, delta, latencies, int(self.clock() * 1000))
        for doc in found:
            self.write(json.dumps(doc, separators=(",", ":")))
        return found


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
