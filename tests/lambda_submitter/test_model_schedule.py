"""The Custom Labels schedule: the pure rule, then a whole day through the emulator's model state machine."""

from __future__ import annotations

import json
import time

import pytest

from job.core import clients, errors, model_status
from job.worker import run
from job.worker.config import from_args
from lambda_submitter import handler, model_schedule, scheduler
from lambda_submitter.model_schedule import RUNNING, STOPPED, Observed, decide
from tests import aws_wire
from tests.job.worker_helpers import BUCKET, TABLE, image_bytes, items
from tests.lambda_submitter.conftest import EVENTS
from tests.model_emulator import VERSION_ARN, Model
from tests.test_scenarios import DEFINITION, MANIFESTS, QUEUE, _batch_world, _s3_record, _sqs_batch


def seen(model: str, mapping: bool = False, jobs: int = 0, now: float = 100.0) -> Observed:
    return Observed(model=model, mapping_enabled=mapping, jobs_in_flight=jobs, now=now)


@pytest.mark.parametrize(
    ("want", "observed", "deadline", "actions"),
    [
        (RUNNING, seen("STOPPED"), None, ("start_model", "keep_polling")),
        (RUNNING, seen("STARTING"), None, ("keep_polling",)),
        (RUNNING, seen("STOPPING"), None, ("keep_polling",)),  # yesterday's stop first
        (RUNNING, seen("RUNNING"), None, ("enable_mapping", "stop_polling")),
        (RUNNING, seen("RUNNING", mapping=True), None, ("stop_polling",)),
        (RUNNING, seen("FAILED"), None, ("start_model", "keep_polling")),
        (STOPPED, seen("RUNNING", mapping=True, jobs=2), 200.0, ("disable_mapping", "keep_polling")),
        (STOPPED, seen("RUNNING", jobs=2), 200.0, ("keep_polling",)),
        (STOPPED, seen("RUNNING", jobs=2, now=300.0), 200.0, ("stop_model", "stop_polling")),
        (STOPPED, seen("RUNNING"), 200.0, ("stop_model", "stop_polling")),
        (STOPPED, seen("STARTING", mapping=False), 200.0, ("keep_polling",)),
        (STOPPED, seen("STOPPED"), 200.0, ("stop_polling",)),
        (RUNNING, seen("TRAINING_FAILED", mapping=True), None, ("disable_mapping", "stop_polling")),
    ],
)
def test_decide_never_takes_events_before_running_and_stops_only_after_the_mapping(
    want, observed, deadline, actions
):
    # given what the scheduler saw / when it decides / then these actions, in this order
    assert decide(want, observed, deadline) == actions


def test_version_arn_parts_and_settings_from_env():
    # given a version ARN and the function's environment
    ref = model_status.parse_version_arn(VERSION_ARN)
    settings = model_schedule.Settings.from_env(
        {
            "BUCKETLENS_PROJECT_VERSION_ARN": VERSION_ARN,
            "BUCKETLENS_EVENT_SOURCE_MAPPING_UUID": "u-1",
            "BUCKETLENS_POLL_SCHEDULE": "poll",
            "BUCKETLENS_MIN_INFERENCE_UNITS": "2",
            "BUCKETLENS_DRAIN_MINUTES": "30",
        }
    )
    # then the names and settings are read
    assert (ref.project_name, ref.version_name) == ("logos", "logos.v1")
    assert settings.min_inference_units == 2 and settings.drain_seconds == 1800
    with pytest.raises(ValueError):
        model_status.parse_version_arn("arn:aws:rekognition:us-east-1:1:project/logos/1")
    with pytest.raises(ValueError, match="BUCKETLENS_POLL_SCHEDULE"):
        model_schedule.Settings.from_env(
            {"BUCKETLENS_PROJECT_VERSION_ARN": VERSION_ARN, "BUCKETLENS_EVENT_SOURCE_MAPPING_UUID": "u"}
        )


class FakeLambda:
    """The event source mapping's switch (moto's mapping would consume the queue with a stand-in function)."""

    def __init__(self) -> None:
        self.enabled = False
        self.history: list[bool] = []

    def get_event_source_mapping(self, UUID: str) -> dict:
        return {"UUID": UUID, "State": "Enabled" if self.enabled else "Disabled"}

    def update_event_source_mapping(self, UUID: str, Enabled: bool) -> dict:
        self.enabled = Enabled
        self.history.append(Enabled)
        return {"UUID": UUID}


class FakeJobs:
    """Batch jobs still using the model (moto's no-Docker jobs finish on their own clock)."""

    def __init__(self) -> None:
        self.in_flight = 0

    def get_paginator(self, name: str):
        jobs = self

        class Pages:
            def paginate(self, jobQueue: str, jobStatus: str):
                ids = [f"{jobStatus}-{i}" for i in range(jobs.in_flight)] if jobStatus == "RUNNING" else []
                return [{"jobSummaryList": [{"jobId": i} for i in ids]}]

        return Pages()

    def describe_jobs(self, jobs: list[str]) -> dict:
        return {"jobs": [{"jobId": j, "parameters": {"features": "custom-labels,labels"}} for j in jobs]}


def _poll_schedule(name: str = "bl-model-poll") -> str:
    sched = clients.client("scheduler")
    sched.create_schedule(
        Name=name,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:bl-scheduler",
            "RoleArn": "arn:aws:iam::123456789012:role/bl-scheduler",
            "Input": "{}",
        },
        State="DISABLED",
    )
    return name


def _poll_state(name: str) -> tuple[str, dict]:
    got = clients.client("scheduler").get_schedule(Name=name)
    return got["State"], json.loads(got["Target"]["Input"])


def test_a_day_of_the_schedule_loses_no_event_and_calls_the_model_only_while_it_runs(
    fault_server, monkeypatch
):
    # given a stopped model in the emulator, the submitter configured for custom labels, and a poll schedule
    model = Model(steps=2).install(fault_server.layer)
    _batch_world(fault_server.url)
    for name, value in {
        "BUCKETLENS_JOB_QUEUE": QUEUE,
        "BUCKETLENS_JOB_DEFINITION": DEFINITION,
        "BUCKETLENS_MANIFESTS_BUCKET": MANIFESTS,
        "BUCKETLENS_TABLE": TABLE,
        "BUCKETLENS_FEATURES": "custom-labels",
        "BUCKETLENS_PROJECT_VERSION_ARN": VERSION_ARN,
    }.items():
        monkeypatch.setenv(name, value)
    poll = _poll_schedule()
    mapping, jobs = FakeLambda(), FakeJobs()
    c = scheduler.Clients(
        rekognition=clients.client("rekognition"),
        aws_lambda=mapping,
        scheduler=clients.client("scheduler"),
        batch=jobs,
    )
    settings = model_schedule.Settings(VERSION_ARN, "uuid-1", poll, job_queue=QUEUE, drain_seconds=600)
    s3 = clients.client("s3")
    queue: list[dict] = []  # what SQS holds

    def upload(key: str, n: int) -> None:
        body = image_bytes("JPEG", color=(n * 40, 0, 0))
        answer = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        queue.append(
            _s3_record(
                "ObjectCreated:Put",
                key,
                answer["VersionId"],
                answer["ETag"].strip('"'),
                len(body),
                n,
                time.time(),
            )
        )

    def deliver() -> list[str]:
        """SQS hands the waiting events to the submitter; failed ones stay on the queue."""
        batch = _sqs_batch(queue, 0)
        failed = {f["itemIdentifier"] for f in handler.handler(batch, None)["batchItemFailures"]}
        kept = [r for i, r in enumerate(queue) if f"m-{i}" in failed]
        queue[:] = kept
        return sorted(failed)

    # when an event arrives before the working day and is (wrongly) delivered: it stays on the queue
    upload("in/early.jpg", 1)
    assert deliver() == ["m-0"] and len(queue) == 1
    # when the start schedule fires: the model starts, polling begins, the mapping stays off
    first = model_schedule.step({"action": "start"}, c, settings)
    assert first["actions"] == ["start_model", "keep_polling"] and model.status == "STARTING"
    assert _poll_state(poll) == ("ENABLED", {"action": "poll", "want": "RUNNING", "deadline": None})
    assert mapping.enabled is False
    # and the polls wait until the model is RUNNING, then enable the mapping and stop polling
    polls = []
    while not mapping.enabled and len(polls) < 5:
        polls.append(model_schedule.step(_poll_state(poll)[1], c, settings)["actions"])
    assert polls[-1] == ["enable_mapping", "stop_polling"] and polls[:-1] == [["keep_polling"]] * (
        len(polls) - 1
    )
    assert model.status == "RUNNING" and _poll_state(poll)[0] == "DISABLED"
    # and the early event and a daytime one flow: submitted, then labelled by the model
    upload("in/noon.jpg", 2)
    assert deliver() == [] and queue == []
    listed = clients.client("batch").list_jobs(
        jobQueue=QUEUE, filters=[{"name": "JOB_NAME", "values": ["*"]}]
    )
    (job,) = [j for j in listed["jobSummaryList"] if ":" not in j["jobId"]]
    source = clients.client("batch").describe_jobs(jobs=[job["jobId"]])["jobs"][0]["parameters"]["source"]
    cfg = from_args(
        {"source": source, "table": TABLE, "features": "custom-labels", "project_version_arn": VERSION_ARN},
        env={},
    )
    assert model.status == RUNNING, model.calls
    assert run.run(cfg) == errors.EXIT_OK, model.calls
    got = items()
    assert {k: [c["name"] for c in v["custom_labels"]] for k, v in got.items()} == {
        "in/early.jpg": ["OurLogo"],
        "in/noon.jpg": ["OurLogo"],
    }
    # when the stop schedule fires with a job still using the model: the mapping goes off first, the model runs on
    jobs.in_flight = 1
    stop = model_schedule.step({"action": "stop"}, c, settings)
    assert stop["actions"] == ["disable_mapping", "keep_polling"] and model.status == "RUNNING"
    # and an event arriving during the stop is not delivered (the mapping is off): it waits in SQS
    upload("in/evening.jpg", 3)
    assert mapping.enabled is False and len(queue) == 1
    # and once the job is done the next poll stops the model
    jobs.in_flight = 0
    assert model_schedule.step(_poll_state(poll)[1], c, settings)["actions"] == ["stop_model", "stop_polling"]
    assert model.status in ("STOPPING", "STOPPED") and model.calls["StopProjectVersion"] == 1
    # and a worker started off-hours exits 75 before any Rekognition spend, leaving the image for later
    calls_before = model.calls["DetectCustomLabels"]
    assert run.run(cfg) == errors.EXIT_OK  # its images are done already: nothing to do, nothing called
    off = from_args(
        {
            "source": f"s3://{BUCKET}/in/",
            "table": TABLE,
            "features": "custom-labels",
            "project_version_arn": VERSION_ARN,
        },
        env={},
    )
    assert run.run(off) == errors.EXIT_TRANSIENT
    assert model.calls["DetectCustomLabels"] == calls_before and "in/evening.jpg" not in items()
    # when the next morning starts the model again: the evening event flows
    model_schedule.step({"action": "start"}, c, settings)
    for _ in range(10):
        if mapping.enabled:
            break
        model_schedule.step(_poll_state(poll)[1], c, settings)
    assert deliver() == [] and queue == []
    assert mapping.history == [True, False, True]


@pytest.mark.parametrize("enabled", [True, False])
def test_turning_the_poll_on_or_off_keeps_every_field_of_the_schedule(enabled):
    # given the scheduler's answer to GetSchedule in AWS's published response shape: a customer-managed
    # key, a description, start and end dates, a time zone, a dead-letter queue and a retry policy
    from botocore.stub import Stubber

    sched = clients.client("scheduler")
    current = aws_wire.parsed(sched, "GetSchedule", (EVENTS / "scheduler_get_schedule.json").read_bytes())
    settings = model_schedule.Settings(
        VERSION_ARN, "uuid-1", current["Name"], schedule_group=current["GroupName"]
    )
    payload = {"action": "poll", "want": RUNNING, "deadline": None}
    # then UpdateSchedule is sent every field UpdateSchedule takes, as GetSchedule gave it, with only the
    # target's input and the state changed (the Stubber also checks the request against the API model)
    kept = {
        k: v
        for k, v in current.items()
        if k not in ("Arn", "CreationDate", "LastModificationDate", "ResponseMetadata", "State", "Target")
    }
    assert {"KmsKeyArn", "Description", "StartDate", "EndDate", "ScheduleExpressionTimezone"} <= set(kept)
    expected = {
        **kept,
        "State": "ENABLED" if enabled else "DISABLED",
        "Target": {**current["Target"], "Input": json.dumps(payload)},
    }
    with Stubber(sched) as stub:
        stub.add_response(
            "get_schedule", current, {"Name": current["Name"], "GroupName": current["GroupName"]}
        )
        stub.add_response("update_schedule", {"ScheduleArn": current["Arn"]}, expected)
        # when the scheduler turns the poll on or off
        model_schedule._set_polling(sched, settings, enabled, payload)
        stub.assert_no_pending_responses()
