"""`python -m job status`: the pure aggregation and ETA, then one look at a moto Batch array job."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from types import SimpleNamespace

from job.commands import status
from job.commands.status import FailedChild
from job.core import clients
from job.worker import run
from job.worker.config import from_args
from tests import aws_wire
from tests.batch_queue import job_queue
from tests.job.worker_helpers import BUCKET, RESULTS, TABLE, image_bytes, items, world


def _parent(summary: dict, size: int = 4, state: str = "RUNNING") -> dict:
    return {
        "jobId": "j-1",
        "jobName": "backfill",
        "status": state,
        "arrayProperties": {"size": size, "statusSummary": summary},
    }


def _summary(done: int, skipped: int, errors: int, seconds: float, transient: int = 0) -> dict:
    outcomes = {"done": done, "skipped_done": skipped, "error": errors, "transient": transient}
    return {"outcomes": outcomes, "finished": done + skipped + errors, "duration_s": seconds}


def test_images_rate_and_eta_add_up_over_the_children():
    # given 4 children: 2 succeeded (each 100 s), 1 running, 1 runnable
    parent = _parent({"SUCCEEDED": 2, "RUNNING": 1, "RUNNABLE": 1})
    summaries = [_summary(90, 5, 5, 100.0), _summary(80, 20, 0, 100.0)]
    # when built
    got = status.build(parent, summaries, [])
    # then images are summed, the rate is the children's together, the ETA is 2 left x 100 s / 1 running
    assert got.images == {"done": 170, "skipped": 25, "errors": 5, "left_for_retry": 0}
    assert got.images_per_s == 2.0
    assert got.eta_s == 200.0
    assert got.finished_children == 2 and got.children["RUNNING"] == 1


def test_eta_is_unknown_before_a_child_ends_and_zero_at_the_end():
    assert status.eta_seconds({"RUNNING": 2}, 2, []) is None
    assert status.eta_seconds({"SUCCEEDED": 3, "FAILED": 1}, 4, [10.0]) == 0.0


def test_render_shows_the_bar_counts_and_failed_children_with_their_log_stream():
    # given a finished job with a failed child
    failed = [FailedChild(3, "j-1:3", "Essential container in task exited", 78, "bucketlens/default/abc")]
    got = status.build(
        _parent({"SUCCEEDED": 3, "FAILED": 1}, state="FAILED"), [_summary(10, 0, 1, 5.0)], failed
    )
    # when rendered
    text = status.render(got)
    # then the user sees the progress bar, the images, the ETA and where to look for the failure
    assert "[" + "#" * 30 + "] 4/4" in text
    assert "done 10  skipped 0  errors 1" in text
    assert (
        "FAILED child 3 (j-1:3): Essential container in task exited exit 78  log stream bucketlens/default/abc"
        in text
    )


def _array_job(size: int) -> str:
    """A Batch array job of `size` children on moto; its id."""
    job_queue("q", "status")
    batch = clients.client("batch")
    batch.register_job_definition(
        jobDefinitionName="d",
        type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 128, "command": ["true"]},
    )
    return batch.submit_job(
        jobName="backfill", jobQueue="q", jobDefinition="d", arrayProperties={"size": size}
    )["jobId"]


def _status_json(job_id: str, results_uri: str | None) -> dict:
    out = io.StringIO()
    args = SimpleNamespace(
        job_id=job_id, results_uri=results_uri, watch=False, interval=1.0, format="json", dashboard_url=None
    )
    assert status.command(args, out) == 0
    return json.loads(out.getvalue())


def test_status_counts_what_the_array_children_wrote_with_the_environment_batch_gives_them(aws):
    # given a Batch array job of 3 children, two of which ran the worker with the environment AWS Batch
    # sets in an array child: AWS_BATCH_JOB_ID is "<parent id>:<index>" (AWS Batch User Guide, "Array jobs"
    # and "Automated job environment variables")
    job_id = _array_job(3)
    world({f"in/a{i}.jpg": image_bytes("JPEG", color=(i * 40, 0, 0)) for i in range(5)})
    for index in range(2):
        env = {
            "AWS_BATCH_JOB_ID": f"{job_id}:{index}",
            "AWS_BATCH_JOB_ARRAY_INDEX": str(index),
            "AWS_BATCH_JOB_ATTEMPT": "1",
        }
        raw = {"source": f"s3://{BUCKET}/in/", "table": TABLE, "shards": 3, "workers": 2}
        cfg = from_args({**raw, "results_uri": f"s3://{RESULTS}/runs"}, env=env)
        assert run.run(cfg) == 0
    # when status is asked for the job the user submitted, with the deployed results URI
    got = _status_json(job_id, f"s3://{RESULTS}/runs")
    # then Batch's children are there, and the images both children did are counted
    keys = clients.client("s3").list_objects_v2(Bucket=RESULTS, Prefix=f"runs/{job_id}/")["Contents"]
    assert sorted(k["Key"] for k in keys) == [f"runs/{job_id}/0.json", f"runs/{job_id}/1.json"]
    assert got["job_id"] == job_id and got["size"] == 3 and sum(got["children"].values()) == 3
    done = sum(1 for i in items().values() if i["status"] == "done")
    assert 0 < done < 5 and got["images"]["done"] == done and got["images"]["errors"] == 0
    assert got["images_per_s"] is not None


def test_without_a_results_uri_the_image_counts_are_unknown_not_zero(aws):
    # given an array job / when status is asked for without the results URI
    job_id = _array_job(2)
    got = _status_json(job_id, None)
    # then the counts are unknown, and the text says how to read them
    assert got["images"] is None
    state = status.build({"jobId": job_id, "status": "RUNNING", "arrayProperties": {"size": 2}}, None, [])
    assert "unknown: give --results-uri" in status.render(state)


def test_an_unknown_job_is_a_config_error(aws, capsys):
    # given no such job / when status is asked for it / then exit 78 with one line saying so
    from job import cli

    assert cli.main(["status", "nope"]) == 78
    assert "no Batch job 'nope'" in capsys.readouterr().err


def test_the_text_status_ends_with_the_dashboard(aws):
    # given an array job and the deployment's dashboard URL (Terraform output dashboard_url)
    job_id = _array_job(2)
    url = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/bucketlens"
    out = io.StringIO()
    args = SimpleNamespace(
        job_id=job_id, results_uri=None, watch=False, interval=1.0, format="text", dashboard_url=url
    )
    # when status is printed / then the dashboard's link is its last line
    assert status.command(args, out) == 0
    assert out.getvalue().splitlines()[-1] == f"dashboard {url}"


# --- why children wait in RUNNABLE ------------------------------------------------------------------------


def _published_environment(**changes) -> dict:
    """AWS's published DescribeComputeEnvironments example (P2OnDemand: EC2, p2 instances, 48 of 128 vCPUs
    wanted), with the changes a case needs."""
    (env,) = aws_wire.example_output("batch", "DescribeComputeEnvironments")["computeEnvironments"]
    resources = {**env["computeResources"], **changes.pop("computeResources", {})}
    return {**env, **changes, "computeResources": resources}


def test_a_vcpu_quota_of_zero_is_named_with_the_request_that_raises_it():
    # given the published environment on On-Demand P instances, and the account's P quota at 0
    env = _published_environment()
    # when the wait is explained
    (why,) = status.why_waiting([env], {"L-417A185B": 0.0}, {"P2OnDemand": 0}, waited_s=60)
    # then it names the quota and the exact request, with the environment's max vCPUs
    assert 'vCPU quota "Running On-Demand P instances" (L-417A185B) is 0' in why.reason
    assert why.fix.endswith("--service-code ec2 --quota-code L-417A185B --desired-value 128")
    # and G instances on Spot map to their own quota
    spot_g = _published_environment(computeResources={"type": "SPOT", "instanceTypes": ["g5.xlarge"]})
    assert "L-3819A6DF" in status.why_waiting([spot_g], {"L-3819A6DF": 0.0}, {"P2OnDemand": 1}, 60)[0].reason


def test_instances_that_never_join_the_cluster_mean_no_route_to_ecs():
    # given the published environment wanting 48 vCPUs, no container instance registered after 20 minutes
    env = _published_environment()
    # when the wait is explained
    (why,) = status.why_waiting([env], {}, {"P2OnDemand": 0}, waited_s=1200)
    # then the network is named, with the endpoints that fix it
    assert "none joined its ECS cluster in 20 minutes" in why.reason
    assert "vpc_without_nat = true" in why.fix and "ecs-agent" in why.fix
    # and not before the instances had time to register, nor when they did, nor when unknown (-1)
    assert status.why_waiting([env], {}, {"P2OnDemand": 0}, waited_s=120) == []
    assert status.why_waiting([env], {}, {"P2OnDemand": 2}, waited_s=1200) == []


def test_an_invalid_disabled_or_full_environment_says_so():
    # given the published environment made INVALID, DISABLED, or at its max vCPUs
    invalid = _published_environment(status="INVALID", statusReason="CLIENT_ERROR - Not authorized")
    disabled = _published_environment(state="DISABLED")
    full = _published_environment(computeResources={"desiredvCpus": 128})
    # when each wait is explained / then each names its cause and fix
    assert "INVALID: CLIENT_ERROR - Not authorized" in status.why_waiting([invalid], {}, {}, 60)[0].reason
    assert "--state ENABLED" in status.why_waiting([disabled], {}, {}, 60)[0].fix
    assert "at its max_vcpus (128)" in status.why_waiting([full], {}, {"P2OnDemand": 3}, 60)[0].reason


def test_status_of_a_job_waiting_in_runnable_prints_why_and_a_refused_read_claims_nothing():
    # given a job whose children all wait in RUNNABLE on the published environment for an hour, an operator
    # role that may read the P quota (128), and ECS answering no container instance
    env = _published_environment()
    parent = {
        **_parent({"RUNNABLE": 4}),
        "jobQueue": "arn:aws:batch:us-east-1:012345678910:job-queue/q",
        "createdAt": 0,
    }
    batch = SimpleNamespace(
        describe_job_queues=lambda jobQueues: {
            "jobQueues": [
                {
                    "computeEnvironmentOrder": [
                        {"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}
                    ]
                }
            ]
        },
        describe_compute_environments=lambda computeEnvironments: {"computeEnvironments": [env]},
    )
    quotas = SimpleNamespace(get_service_quota=lambda ServiceCode, QuotaCode: {"Quota": {"Value": 128.0}})
    ecs = SimpleNamespace(list_container_instances=lambda cluster: {"containerInstanceArns": []})
    # when it is looked at / then the cause is printed with its fix
    reasons = status.waiting_reasons(batch, quotas, ecs, parent, now=3600.0)
    text = status.render(replace(status.build(parent, None, []), waiting=reasons))
    assert (
        "WAITING  P2OnDemand started instances (48 vCPUs) but none joined its ECS cluster in 60 minutes"
        in text
    )
    assert "fix: give the subnets a NAT gateway" in text
    # when the quota is 0: that is the cause, and the network is not blamed for it
    zero = SimpleNamespace(get_service_quota=lambda ServiceCode, QuotaCode: {"Quota": {"Value": 0.0}})
    (why,) = status.waiting_reasons(batch, zero, ecs, parent, now=3600.0)
    assert "(L-417A185B) is 0" in why.reason

    # when the role may not read quotas or ECS: those causes are left out, nothing is claimed
    def refused(**_):
        raise PermissionError("AccessDenied")

    quiet = status.waiting_reasons(
        batch,
        SimpleNamespace(get_service_quota=refused),
        SimpleNamespace(list_container_instances=refused),
        parent,
        now=3600.0,
    )
    assert quiet == []
    # and a job with a child running is not waiting
    running = {**parent, "arrayProperties": {"size": 4, "statusSummary": {"RUNNABLE": 3, "RUNNING": 1}}}
    assert status.waiting_reasons(batch, quotas, ecs, running, now=3600.0) == []
