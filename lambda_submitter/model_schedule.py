"""Start a Custom Labels model for the working day and stop it after, without losing an event.

Start: StartProjectVersion, then a poll schedule (every minute) watches DescribeProjectVersions until
RUNNING, and only then is the SQS event source mapping enabled. Stop: the mapping is disabled first,
Batch jobs still using the model are waited for (up to a drain deadline), then StopProjectVersion.
Events that arrive off-hours wait in SQS. `decide` is the pure rule; `step` observes and acts.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from job.core import model_status

log = logging.getLogger(__name__)

RUNNING, STOPPED = "RUNNING", "STOPPED"
ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
# Statuses no schedule can fix: a person must look (retrain, redeploy).
BROKEN = frozenset({"TRAINING_FAILED", "DELETING", "DEPRECATED", "EXPIRED"})


@dataclass(frozen=True)
class Observed:
    """What the scheduler saw before deciding."""

    model: str
    mapping_enabled: bool
    jobs_in_flight: int
    now: float


@dataclass(frozen=True)
class Settings:
    """From the scheduler function's environment (set by terraform/modules/schedule)."""

    project_version_arn: str
    mapping_uuid: str
    poll_schedule: str
    schedule_group: str = "default"
    job_queue: str | None = None
    min_inference_units: int = 1
    max_inference_units: int | None = None
    drain_seconds: float = 3600.0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        def need(name: str) -> str:
            value = env.get(name)
            if not value:
                raise ValueError(f"{name} is not set")
            return value

        return cls(
            project_version_arn=need("BUCKETLENS_PROJECT_VERSION_ARN"),
            mapping_uuid=need("BUCKETLENS_EVENT_SOURCE_MAPPING_UUID"),
            poll_schedule=need("BUCKETLENS_POLL_SCHEDULE"),
            schedule_group=env.get("BUCKETLENS_SCHEDULE_GROUP") or "default",
            job_queue=env.get("BUCKETLENS_JOB_QUEUE") or None,
            min_inference_units=int(env.get("BUCKETLENS_MIN_INFERENCE_UNITS") or 1),
            max_inference_units=int(env["BUCKETLENS_MAX_INFERENCE_UNITS"])
            if env.get("BUCKETLENS_MAX_INFERENCE_UNITS")
            else None,
            drain_seconds=float(env.get("BUCKETLENS_DRAIN_MINUTES") or 60) * 60,
        )


def decide(want: str, seen: Observed, deadline: float | None = None) -> tuple[str, ...]:
    """The actions, in order, that move the model toward `want` without dropping an event.

    Actions: start_model, stop_model, enable_mapping, disable_mapping, keep_polling, stop_polling.
    """
    if seen.model in BROKEN:
        return ("disable_mapping", "stop_polling") if seen.mapping_enabled else ("stop_polling",)
    if want == RUNNING:
        if seen.model == RUNNING:
            return (("enable_mapping",) if not seen.mapping_enabled else ()) + ("stop_polling",)
        if seen.model in model_status.STARTABLE:
            return ("start_model", "keep_polling")
        return ("keep_polling",)  # STARTING, or STOPPING from yesterday: start once it has stopped
    actions: tuple[str, ...] = ("disable_mapping",) if seen.mapping_enabled else ()
    if seen.model == "STARTING":
        return (*actions, "keep_polling")  # a model cannot be stopped while it starts
    if seen.model != RUNNING:
        return (*actions, "stop_polling")
    draining = seen.jobs_in_flight > 0 and (deadline is None or seen.now < deadline)
    if draining:
        return (*actions, "keep_polling")
    return (*actions, "stop_model", "stop_polling")


# --- observing and acting ------------------------------------------------------------------------------


def _mapping_enabled(aws_lambda: Any, uuid: str) -> bool:
    state = aws_lambda.get_event_source_mapping(UUID=uuid).get("State", "")
    return state in ("Enabled", "Enabling", "Updating", "Creating")


def jobs_using_model(batch: Any, queue: str | None) -> int:
    """Jobs on the queue, not finished, whose `features` parameter includes custom-labels."""
    if not queue:
        return 0
    ids: list[str] = []
    for status in ACTIVE_JOB_STATUSES:
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
            ids += [j["jobId"] for j in page.get("jobSummaryList", ())]
    count = 0
    for start in range(0, len(ids), 100):
        for job in batch.describe_jobs(jobs=ids[start : start + 100]).get("jobs", ()):
            if "custom-labels" in (job.get("parameters") or {}).get("features", ""):
                count += 1
    return count


def _set_polling(scheduler: Any, s: Settings, enabled: bool, payload: dict) -> None:
    """Enable (with what the next poll must do) or disable the every-minute poll schedule.

    UpdateSchedule replaces the whole schedule: a field it is not sent goes back to its default. So every
    field GetSchedule returns that UpdateSchedule takes (the key, the description, the dates, the time
    zone...) is sent back as it was; only the target's input and the state change.
    """
    current = scheduler.get_schedule(Name=s.poll_schedule, GroupName=s.schedule_group)
    accepted = scheduler.meta.service_model.operation_model("UpdateSchedule").input_shape.members
    args = {name: value for name, value in current.items() if name in accepted}
    args["Name"], args["GroupName"] = s.poll_schedule, s.schedule_group
    args["Target"] = {**current["Target"], "Input": json.dumps(payload)}
    args["State"] = "ENABLED" if enabled else "DISABLED"
    scheduler.update_schedule(**args)


def step(event: dict, c: Any, s: Settings, now: float | None = None) -> dict:
    """One scheduler invocation: {"action": "start" | "stop" | "poll", ...} -> what was seen and done."""
    now = time.time() if now is None else now
    action = event.get("action")
    if action == "start":
        want, deadline = RUNNING, None
    elif action == "stop":
        want, deadline = STOPPED, now + s.drain_seconds
    elif action == "poll":
        want, deadline = event.get("want", RUNNING), event.get("deadline")
    else:
        raise ValueError(f"unknown action {action!r}: expected start, stop or poll")
    seen = Observed(
        model=model_status.status(c.rekognition, s.project_version_arn),
        mapping_enabled=_mapping_enabled(c.aws_lambda, s.mapping_uuid),
        jobs_in_flight=jobs_using_model(c.batch, s.job_queue) if want == STOPPED else 0,
        now=now,
    )
    actions = decide(want, seen, deadline)
    for name in actions:
        if name == "start_model":
            args = {"ProjectVersionArn": s.project_version_arn, "MinInferenceUnits": s.min_inference_units}
            if s.max_inference_units:
                args["MaxInferenceUnits"] = s.max_inference_units
            c.rekognition.start_project_version(**args)
        elif name == "stop_model":
            c.rekognition.stop_project_version(ProjectVersionArn=s.project_version_arn)
        elif name in ("enable_mapping", "disable_mapping"):
            c.aws_lambda.update_event_source_mapping(UUID=s.mapping_uuid, Enabled=name == "enable_mapping")
        elif name in ("keep_polling", "stop_polling"):
            payload = {"action": "poll", "want": want, "deadline": deadline}
            _set_polling(c.scheduler, s, name == "keep_polling", payload)
    if seen.model in BROKEN:
        log.error(
            "custom labels model cannot serve", extra={"status": seen.model, "model": s.project_version_arn}
        )
    result = {"want": want, "seen": seen.__dict__, "actions": list(actions)}
    log.info("model schedule step", extra=result)
    return result
