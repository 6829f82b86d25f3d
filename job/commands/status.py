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
from dataclasses import asdict, dataclass, field, replace
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
class Waiting:
    """Why children sit in RUNNABLE, and what fixes it."""

    reason: str
    fix: str


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
    waiting: list[Waiting] = field(default_factory=list)

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


# EC2 vCPU quotas (Service Quotas, service code ec2) by instance family and purchase option; AWS's
# "Amazon EC2 service quotas" page names them. A new account often has 0 for G and P instances.
VCPU_QUOTAS = {
    ("standard", "EC2"): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("standard", "SPOT"): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    ("G and VT", "EC2"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("G and VT", "SPOT"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("P", "EC2"): ("L-417A185B", "Running On-Demand P instances"),
    ("P", "SPOT"): ("L-7212CCBC", "All P Spot Instance Requests"),
}
REGISTER_WITHIN_S = 600  # an instance joins its ECS cluster within minutes of starting


def instance_family(instance_type: str) -> str:
    """The vCPU quota family of an instance type ("g5.xlarge" -> "G and VT")."""
    letter = instance_type[:1].lower()
    return "G and VT" if letter in ("g", "v") else "P" if letter == "p" else "standard"


def vcpu_quotas_of(resources: dict) -> list[tuple[str, str]]:
    """(code, title) of the vCPU quotas an EC2 or Spot environment's instance types draw on."""
    families = sorted({instance_family(t) for t in resources.get("instanceTypes") or ()})
    return [VCPU_QUOTAS[(family, resources["type"])] for family in families]


def why_waiting(
    environments: list[dict], vcpu_quotas: dict[str, float], registered: dict[str, int], waited_s: float
) -> list[Waiting]:
    """Pure: why a job's children wait in RUNNABLE, from its queue's compute environments
    (DescribeComputeEnvironments), the account's vCPU quotas by code (unknown ones absent), the container
    instances registered in each environment's ECS cluster, and how long the job has waited."""
    found: list[Waiting] = []
    for env in environments:
        name = env.get("computeEnvironmentName", "?")
        resources = env.get("computeResources") or {}
        kind = resources.get("type", "")
        if env.get("status") == "INVALID":
            found.append(
                Waiting(
                    f"compute environment {name} is INVALID: {env.get('statusReason', 'no reason given')}",
                    "fix what the reason names, then `terraform apply` (it re-creates the environment)",
                )
            )
            continue
        if env.get("state") == "DISABLED":
            found.append(
                Waiting(
                    f"compute environment {name} is DISABLED",
                    f"aws batch update-compute-environment --compute-environment {name} --state ENABLED",
                )
            )
            continue
        if kind not in ("EC2", "SPOT"):
            continue  # Fargate: no instances, no EC2 quota
        no_quota = [(code, title) for code, title in vcpu_quotas_of(resources) if vcpu_quotas.get(code) == 0]
        for code, title in no_quota:
            found.append(
                Waiting(
                    f'the account\'s vCPU quota "{title}" ({code}) is 0, so {name} can start no instance',
                    "request an increase: aws service-quotas request-service-quota-increase "
                    f"--service-code ec2 --quota-code {code} --desired-value {resources.get('maxvCpus', 16)}",
                )
            )
        if no_quota:
            continue  # no instance can start: the causes below would only follow from this one
        desired, most = resources.get("desiredvCpus") or 0, resources.get("maxvCpus") or 0
        if desired and registered.get(name, 0) == 0 and waited_s > REGISTER_WITHIN_S:
            found.append(
                Waiting(
                    f"{name} started instances ({desired} vCPUs) but none joined its ECS cluster in "
                    f"{int(waited_s // 60)} minutes: the subnets cannot reach ECS",
                    "give the subnets a NAT gateway, or set vpc_without_nat = true (with "
                    "vpc_endpoint_route_table_ids) for the ecs, ecs-agent and ecs-telemetry endpoints",
                )
            )
        elif most and desired >= most:
            found.append(
                Waiting(
                    f"{name} is at its max_vcpus ({most}): other jobs hold every vCPU",
                    "wait for them, or raise max_vcpus (gpu_max_vcpus) and `terraform apply`",
                )
            )
    return found


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
    for w in s.waiting:
        lines.append(f"WAITING  {w.reason}\n         fix: {w.fix}")
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


def waiting_reasons(batch: Any, quotas: Any, ecs: Any, parent: dict, now: float) -> list[Waiting]:
    """Why the job's children wait in RUNNABLE, when some do and none runs; a read refused (the operator's
    role may lack servicequotas:GetServiceQuota or ecs:ListContainerInstances) only leaves that cause out."""
    children = children_by_status(parent)
    if not children.get("RUNNABLE") or children.get("RUNNING") or children.get("STARTING"):
        return []
    queue = (batch.describe_job_queues(jobQueues=[parent["jobQueue"]]).get("jobQueues") or [{}])[0]
    arns = [o["computeEnvironment"] for o in queue.get("computeEnvironmentOrder") or ()]
    environments = (
        batch.describe_compute_environments(computeEnvironments=arns)["computeEnvironments"] if arns else []
    )
    vcpu_quotas: dict[str, float] = {}
    registered: dict[str, int] = {}
    for env in environments:
        resources = env.get("computeResources") or {}
        if resources.get("type") not in ("EC2", "SPOT"):
            continue
        for code, _ in vcpu_quotas_of(resources):
            try:
                vcpu_quotas[code] = float(
                    quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
                )
            except Exception as exc:  # noqa: BLE001 - unknown: that cause is not claimed
                log.info("vCPU quota not read", extra={"code": code, "error": f"{type(exc).__name__}: {exc}"})
        try:
            instances = ecs.list_container_instances(cluster=env["ecsClusterArn"]).get(
                "containerInstanceArns"
            )
            registered[env.get("computeEnvironmentName", "?")] = len(instances or ())
        except Exception as exc:  # noqa: BLE001 - unknown: that cause is not claimed
            log.info("container instances not read", extra={"error": f"{type(exc).__name__}: {exc}"})
            registered[env.get("computeEnvironmentName", "?")] = -1
    created = parent.get("createdAt")
    waited_s = now - created / 1000 if created is not None else 0.0
    return why_waiting(environments, vcpu_quotas, registered, waited_s)


def look(
    batch: Any, s3: Any, job_id: str, results_uri: str | None, quotas: Any = None, ecs: Any = None
) -> Status:
    jobs = batch.describe_jobs(jobs=[job_id]).get("jobs") or []
    if not jobs:
        raise errors.ConfigError(f"no Batch job {job_id!r} (jobs are kept 7 days after they end)")
    parent = jobs[0]
    state = build(parent, read_summaries(s3, results_uri, job_id), failed_children(batch, parent))
    if quotas is None or ecs is None:
        return state
    return replace(state, waiting=waiting_reasons(batch, quotas, ecs, parent, time.time()))


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


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported
    from job.core import clients

    batch, s3 = clients.client("batch"), clients.client("s3")
    quotas, ecs = clients.client("service-quotas", max_attempts=1), clients.client("ecs")
    interval = max(1.0, args.interval)
    while True:
        state = look(batch, s3, args.job_id, args.results_uri, quotas, ecs)  # failures: job.cli's one rule
        if args.format == "json":
            out.write(json.dumps(asdict(state)) + "\n")
        else:
            text = render(state) + (f"\ndashboard {args.dashboard_url}" if args.dashboard_url else "")
            out.write(("\x1b[2J\x1b[H" if args.watch and out.isatty() else "") + text + "\n")
        out.flush()
        if not args.watch or state.status in TERMINAL:
            return errors.EXIT_OK
        time.sleep(interval)
