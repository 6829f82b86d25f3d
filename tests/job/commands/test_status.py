"""`python -m job status`: the pure aggregation and ETA, then one look at a moto Batch array job."""

from __future__ import annotations

import io
import json

from job.commands import status
from job.commands.status import FailedChild
from job.core import clients


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


def test_status_of_a_moto_array_job_reads_batch_and_the_summaries(aws):
    # given a Batch array job of 3 children and the summaries two of them wrote
    iam = clients.client("iam")
    role = iam.create_role(RoleName="b", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = clients.client("batch")
    env = batch.create_compute_environment(
        computeEnvironmentName="ce-status", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName="q",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
    )
    batch.register_job_definition(
        jobDefinitionName="d",
        type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 128, "command": ["true"]},
    )
    job_id = batch.submit_job(
        jobName="backfill", jobQueue="q", jobDefinition="d", arrayProperties={"size": 3}
    )["jobId"]
    s3 = clients.client("s3")
    s3.create_bucket(Bucket="runs")
    for index, doc in enumerate([_summary(7, 1, 0, 4.0), _summary(5, 0, 2, 2.0)]):
        s3.put_object(Bucket="runs", Key=f"r/{job_id}/{index}.json", Body=json.dumps(doc))
    s3.put_object(Bucket="runs", Key=f"r/{job_id}/0.pending.json", Body=b"[]")
    # when status is asked for, as a command printing JSON
    out = io.StringIO()

    class Args:
        results_uri, watch, interval, format = "s3://runs/r", False, 1.0, "json"

    Args.job_id = job_id
    assert status.command(Args, out) == 0
    # then Batch's children and the summaries' images are there
    got = json.loads(out.getvalue())
    assert got["job_id"] == job_id and got["size"] == 3
    assert sum(got["children"].values()) == 3
    assert got["images"] == {"done": 12, "skipped": 1, "errors": 2, "left_for_retry": 0}
    assert got["images_per_s"] == round(8 / 4.0 + 7 / 2.0, 2)


def test_an_unknown_job_is_a_config_error(aws):
    class Args:
        job_id, results_uri, watch, interval, format = "nope", None, False, 1.0, "text"

    assert status.command(Args, io.StringIO()) == 78
