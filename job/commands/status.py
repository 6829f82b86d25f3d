"""`python -m job status JOB_ID`: where a Batch job stands, from Batch itself and the children's run summaries.

Children by status come from Batch (the array parent's status summary); images done/skipped/errors and the
rate come from the run summaries the children write to `<results uri>/<job id>/<index>.json`; failed
children are listed with their log stream. The ETA is remaining children x the mean duration of the
finished ones / the children running now (as many as the compute environment's vCPUs allow).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from job.core import errors
from job.core.manifest import split_s3_uri
from job.core.summary import add_up, parent_job_id

log = logging.getLogger(__name__)

TERMINAL = ("SUCCEEDED", "FAILED")
ORDER = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class FailedChild:
    index: int | None
    job_id: str
    reason: str
    exit_code: int | None
    log_stream: str | None


@dataclass(frozen=True)
class Status:
    """One look at a job: what Batch says and what the children wrote."""

    job_id: str
    name: str
    status: str
    size: int  # children (1 for a job that is not an array)
    children: dict[str, int]
    images: dict[str, int] | None  # None: no results URI, so the children's counts were not read
    images_per_s: float | None
    eta_s: float | None
    failed: list[FailedChild] = field(default_factory=list)

    @property
    def finished_children(self) -> int:
        return self.children.get("SUCCEEDED", 0) + self.children.get("FAILED", 0)


def children_by_status(parent: dict) -> dict[str, int]:
    summary = (parent.get("arrayProperties") or {}).get("statusSummary")
    if summary:
        return {s: int(summary.get(s, 0)) for s in ORDER}
    return {s: int(parent.get("status") == s) for s in ORDER}


def eta_seconds(children: dict[str, int], size: int, durations: Iterable[float]) -> float | None:
    """Remaining children x mean child duration / children running (at least 1); None before any ends."""
    durations = [d for d in durations if d and d > 0]
    finished = children.get("SUCCEEDED", 0) + children.get("FAILED", 0)
    remaining = max(0, size - finished)
    if remaining == 0:
        return 0.0
    if not durations:
        return None
    running = max(1, children.get("RUNNING", 0) + children.get("STARTING", 0))
    return remaining * (sum(durations) / len(durations)) / running


def build(parent: dict, summaries: list[dict] | None, failed: list[FailedChild]) -> Status:
    """Pure: the Batch description of the parent, the summaries read (None: not read), the failed children."""
    size = int((parent.get("arrayProperties") or {}).get("size") or 1)
    children = children_by_status(parent)
    images = None
    if summaries is not None:
        totals = add_up(summaries)
        images = {
            "done": totals.get("done", 0),
            "skipped": sum(v for k, v in totals.items() if k.startswith("skipped_")),
            "errors": totals.get("error", 0),
            "left_for_retry": totals.get("transient", 0),
        }
    summaries = summaries or []
    rates = [doc["finished"] / doc["duration_s"] for doc in summaries if doc.get("duration_s")]
    rate = round(sum(rates), 2) if rates else None  # children run side by side: their rates add up
    durations = [doc.get("duration_s", 0.0) for doc in summaries]
    return Status(
        job_id=parent["jobId"],
        name=parent.get("jobName", ""),
        status=parent.get("status", "?"),
        size=size,
        children=children,
        images=images,
        images_per_s=rate,
        eta_s=eta_seconds(children, size, durations),
        failed=failed,
    )


def bar(done: int, total: int, width: int = 30) -> str:
    total = max(total, 1)
    filled = min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown until a child finishes"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def render(s: Status) -> str:
    lines = [
        f"job {s.job_id} ({s.name}): {s.status}",
        "children " + bar(s.finished_children, s.size),
        "  " + "  ".join(f"{k.lower()} {v}" for k, v in s.children.items() if v),
        "images   done {done}  skipped {skipped}  errors {errors}  left for retry {left_for_retry}".format(
            **s.images
        )
        if s.images is not None
        else "images   unknown: give --results-uri (Terraform output results_uri) to read the children's counts",
        f"rate     {s.images_per_s if s.images_per_s is not None else '-'} images/s   ETA {_duration(s.eta_s)}",
    ]
    for child in s.failed:
        lines.append(
            f"FAILED child {child.index if child.index is not None else '-'} ({child.job_id}): {child.reason}"
            f" exit {child.exit_code}  log stream {child.log_stream or '-'}"
        )
    return "\n".join(lines)


# --- AWS reads ------------------------------------------------------------------------------------------


def failed_children(batch: Any, parent: dict) -> list[FailedChild]:
    """Failed children (or the job itself) with the reason, exit code and log stream of the last attempt."""
    if parent.get("arrayProperties", {}).get("size"):
        ids: list[str] = []
        for page in batch.get_paginator("list_jobs").paginate(arrayJobId=parent["jobId"], jobStatus="FAILED"):
            ids += [j["jobId"] for j in page.get("jobSummaryList", ())]
        jobs = [
            j
            for start in range(0, len(ids), 100)
            for j in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]
        ]
    else:
        jobs = [parent] if parent.get("status") == "FAILED" else []
    found = []
    for job in jobs:
        container = job.get("container") or {}
        attempts = job.get("attempts") or []
        last = (attempts[-1].get("container") or {}) if attempts else {}
        found.append(
            FailedChild(
                index=(job.get("arrayProperties") or {}).get("index"),
                job_id=job["jobId"],
                reason=job.get("statusReason", ""),
                exit_code=last.get("exitCode", container.get("exitCode")),
                log_stream=last.get("logStreamName") or container.get("logStreamName"),
            )
        )
    return sorted(found, key=lambda c: (c.index is None, c.index or 0))


def read_summaries(s3: Any, results_uri: str | None, job_id: str) -> list[dict] | None:
    """The run summaries every child of the job wrote under <results>/<job id>/; None without a URI."""
    if not results_uri:
        return None
    bucket, prefix = split_s3_uri(results_uri.rstrip("/") + f"/{parent_job_id(job_id)}/")
    docs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if obj["Key"].endswith(".json") and not obj["Key"].endswith(".pending.json"):
                docs.append(json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    return docs


def look(batch: Any, s3: Any, job_id: str, results_uri: str | None) -> Status:
    jobs = batch.describe_jobs(jobs=[job_id]).get("jobs") or []
    if not jobs:
        raise errors.ConfigError(f"no Batch job {job_id!r} (jobs are kept 7 days after they end)")
    parent = jobs[0]
    return build(parent, read_summaries(s3, results_uri, job_id), failed_children(batch, parent))


# --- command --------------------------------------------------------------------------------------------


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("status", help=help_text)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument(
        "--results-uri",
        default=os.environ.get("BUCKETLENS_RESULTS_URI"),
        help="where the children write run summaries (Terraform output results_uri) [env BUCKETLENS_RESULTS_URI]",
    )
    p.add_argument("--watch", action="store_true", help="redraw until the job has ended")
    p.add_argument(
        "--interval", type=float, default=10.0, help="seconds between looks with --watch (default 10)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--dashboard-url",
        default=os.environ.get("BUCKETLENS_DASHBOARD_URL"),
        help="printed under the status (Terraform output dashboard_url) [env BUCKETLENS_DASHBOARD_URL]",
    )
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from job.core import clients

    batch, s3 = clients.client("batch"), clients.client("s3")
    interval = max(1.0, args.interval)
    while True:
        state = look(batch, s3, args.job_id, args.results_uri)  # failures: job.cli's one rule
        if args.format == "json":
            out.write(json.dumps(asdict(state)) + "\n")
        else:
            text = render(state) + (f"\ndashboard {args.dashboard_url}" if args.dashboard_url else "")
            out.write(("\x1b[2J\x1b[H" if args.watch and out.isatty() else "") + text + "\n")
        out.flush()
        if not args.watch or state.status in TERMINAL:
            return errors.EXIT_OK
        time.sleep(interval)
