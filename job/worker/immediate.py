"""Label a few images inside the caller, the submitter Lambda's fast path: the same Worker as a Batch
child (skip check, conditional write, label index, shared quota), with no job to schedule.

An image not finished (throttled, a failing table, the deadline reached) comes back as "transient" so
the caller can hand its message back to the queue: nothing is lost, and the redelivery skips what was
written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from job.core.errors import ConfigError
from job.core.manifest import ObjectRef
from job.core.metrics import Emitter
from job.core.summary import Stats
from job.worker.config import RunConfig
from job.worker.image import UNKNOWN, Backends, Fatal, Patience, Worker

log = logging.getLogger(__name__)

# a throttled image goes back to the queue: no run-loop retry, and two attempts of each call
PATIENCE = Patience(tries=1, call_attempts=2)
NOT_DONE = "transient"


@dataclass(frozen=True)
class Labelled:
    """Each ref's outcome (Runner's counter names: done, skipped_*, error:<class>, transient) and the
    counts the caller logs."""

    outcomes: dict[ObjectRef, str]
    stats: dict


def label_now(
    config: RunConfig,
    refs: list[ObjectRef],
    backends: Backends,
    seconds: float,
    states: Mapping[tuple[str, str], dict | None] | None = None,
) -> Labelled:
    """Process `refs` in parallel; no image is started after `seconds`. `states`: the stored state of
    each (bucket, key) where the caller has read it already (None: nothing stored)."""
    known = states or {}
    stop = threading.Event()
    stats = Stats()
    worker = Worker(config, backends, stats, stop, PATIENCE)
    ends = time.monotonic() + seconds
    deadline = threading.Timer(max(0.0, seconds), stop.set)  # also cuts short the retries in flight
    deadline.daemon = True
    for _ in refs:
        stats.saw()

    def one(ref: ObjectRef) -> str:
        if (
            time.monotonic() >= ends
            or stop.is_set()
            or worker.store_down.is_set()
            or worker.model_down.is_set()
        ):
            return NOT_DONE
        try:
            return worker.handle(ref, known.get((ref.bucket, ref.key), UNKNOWN))
        except Fatal as exc:  # no permission, no table: every image stays queued until fixed
            log.error("fast path cannot label: images stay queued", extra={"error": str(exc)})
            worker.store_down.set()
        except Exception:  # a bug must not lose the image: the queue delivers it again
            log.exception("unexpected failure", extra={"bucket": ref.bucket, "key": ref.key})
        return NOT_DONE

    try:  # the user's models, loaded once per Lambda environment (job.worker.model_source), not per batch
        worker.open()
    except ConfigError as exc:  # a model that cannot be used: the images stay queued until it is fixed
        log.error("fast path cannot load the models: images stay queued", extra={"error": str(exc)})
        return Labelled(dict.fromkeys(refs, NOT_DONE), stats.snapshot())
    worker.attach()
    deadline.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(len(refs), config.workers))) as pool:
            outcomes = dict(zip(refs, pool.map(one, refs), strict=True))
    finally:
        deadline.cancel()
        worker.detach()
        worker.leave_quota()
        worker.close()
        for sink in worker.sinks:
            sink.flush()
    for outcome in outcomes.values():
        stats.tally(outcome)
    Emitter("fast_path", config.deployment).flush(stats)
    if worker.unwritten:
        log.error(
            "results paid for but not stored: the redelivered images are labelled again",
            extra={"images": len(worker.unwritten)},
        )
    return Labelled(outcomes, stats.snapshot())
