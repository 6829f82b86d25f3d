"""The command line: dry run figures, submission output, exit codes."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from job.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE
from lambda_submitter import cli
from tests.lambda_submitter.conftest import EVENTS, IMAGES, INVENTORY


def _put_images(s3, n: int) -> None:
    for i in range(n):
        s3.put_object(Bucket=IMAGES, Key=f"cli/{i}.jpg", Body=b"x")


def test_dry_run_prints_figures_and_submits_nothing(stack: dict) -> None:
    # given 5 images and a shard size of 2
    _put_images(stack["s3"], 5)
    out = io.StringIO()
    # when a dry run backfill is asked for
    code = cli.main(["backfill", "--bucket", IMAGES, "--prefix", "cli/", "--dry-run"], out)
    # then images, shards, jobs and the cost are printed, and nothing is written
    text = out.getvalue()
    assert code == EXIT_OK
    assert (
        "images found:  5" in text and "shards:        3" in text and "batch jobs:    1 (3 children)" in text
    )
    assert "$0.01" in text and "as of" in text
    assert "Contents" not in stack["s3"].list_objects_v2(Bucket="bucketlens-manifests")


@pytest.mark.parametrize(
    ("labeler", "says"), [("onnx", "your own model"), ("clip", "prompts with your embedding model")]
)
def test_an_own_model_dry_run_names_no_rekognition_charge_and_the_gpu_queue(
    stack: dict, monkeypatch, labeler, says
) -> None:
    # given the onnx (or clip) labeler deployed on GPUs
    _put_images(stack["s3"], 5)
    monkeypatch.setenv("BUCKETLENS_LABELER", labeler)
    monkeypatch.setenv(
        "BUCKETLENS_GPU_JOB_QUEUE", "arn:aws:batch:us-east-1:123456789012:job-queue/bl-gpu-queue"
    )
    monkeypatch.setenv("BUCKETLENS_GPU_JOB_DEFINITION", "bl-gpu-worker")
    out = io.StringIO()
    # when a dry run backfill is asked for
    code = cli.main(["backfill", "--bucket", IMAGES, "--prefix", "cli/", "--dry-run"], out)
    # then the images are counted, no Rekognition cost is estimated, and the GPU queue is named
    text = out.getvalue()
    assert code == EXIT_OK and "images found:  5" in text
    assert f"labeler:       {labeler}, {says}: no Rekognition charge; jobs go to bl-gpu-queue" in text
    assert "estimated Rekognition cost" not in text


def test_backfill_prints_job_ids_and_the_follow_command(stack: dict) -> None:
    # given 3 images
    _put_images(stack["s3"], 3)
    out = io.StringIO()
    # when backfilled
    code = cli.main(["backfill", "--bucket", IMAGES, "--prefix", "cli/", "--request-id", "r1"], out)
    # then the job id is printed with the describe-jobs command
    text = out.getvalue()
    job_id = text.split("submitted: ")[1].split()[0]
    assert code == EXIT_OK and f"aws batch describe-jobs --jobs {job_id}" in text
    assert stack["batch"].describe_jobs(jobs=[job_id])["jobs"][0]["jobQueue"].endswith("bucketlens-queue")
    # and the same request id again submits nothing new
    again = io.StringIO()
    cli.main(["backfill", "--bucket", IMAGES, "--prefix", "cli/", "--request-id", "r1"], again)
    assert f"already submitted: {job_id}" in again.getvalue()


def test_inventory_dry_run(stack: dict) -> None:
    # given an inventory report in the inventory bucket
    s3 = stack["s3"]
    s3.put_object(
        Bucket=INVENTORY, Key="r/manifest.json", Body=(EVENTS / "inventory_manifest.json").read_bytes()
    )
    for name in ("inventory-data-1.csv.gz", "inventory-data-2.csv.gz"):
        s3.put_object(
            Bucket=INVENTORY,
            Key=f"bucketlens-images/bucketlens/data/{name}",
            Body=(EVENTS / name).read_bytes(),
        )
    out = io.StringIO()
    # when dry-run
    code = cli.main(["inventory", f"s3://{INVENTORY}/r/manifest.json", "--dry-run"], out)
    # then the current images are counted, the empty one too (its result will be an EmptyFile error)
    assert code == EXIT_OK and "images found:  6" in out.getvalue()


def test_missing_configuration_is_exit_config(aws: None, monkeypatch, capsys) -> None:
    # given no BUCKETLENS_* variables
    for name in ("BUCKETLENS_JOB_QUEUE", "BUCKETLENS_JOB_DEFINITION", "BUCKETLENS_MANIFESTS_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    # when a real backfill is asked for
    code = cli.main(["backfill", "--bucket", IMAGES], io.StringIO())
    # then it exits with EX_CONFIG and names the variables
    assert code == EXIT_CONFIG
    assert "BUCKETLENS_JOB_QUEUE" in capsys.readouterr().err


def test_bad_inventory_uri_and_usage(aws: None) -> None:
    # given a non-s3 URI and a missing sub-command, then config and usage exit codes
    assert cli.main(["inventory", "/tmp/manifest.json", "--dry-run"], io.StringIO()) == EXIT_CONFIG
    assert cli.main([], io.StringIO()) == EXIT_USAGE


def test_module_entry_point_runs() -> None:
    # given the package run as a module, when asked for help, then it exits 0 listing the sub-commands
    done = subprocess.run(
        [sys.executable, "-m", "lambda_submitter", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "backfill" in done.stdout and "inventory" in done.stdout


def test_eventbridge_turns_delivery_on_and_keeps_every_existing_notification(aws: None) -> None:
    # given a bucket that already sends uploads to another team's queue
    from job.core import clients

    s3, sqs = clients.client("s3"), clients.client("sqs")
    s3.create_bucket(Bucket=IMAGES)
    queue = sqs.create_queue(QueueName="other-team")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    existing = {"QueueConfigurations": [{"Id": "theirs", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    s3.put_bucket_notification_configuration(Bucket=IMAGES, NotificationConfiguration=existing)
    sent: list[dict] = []
    s3.meta.events.register(
        "provide-client-params.s3.PutBucketNotificationConfiguration", lambda params, **_: sent.append(params)
    )
    out = io.StringIO()
    # when EventBridge delivery is turned on
    assert cli.main(["eventbridge", "--bucket", IMAGES], out) == EXIT_OK
    # then the one write S3 gets holds their queue as it was, plus EventBridge (S3 replaces the whole
    # configuration on each write: anything left out would be gone)
    (params,) = sent
    assert params["NotificationConfiguration"]["QueueConfigurations"] == existing["QueueConfigurations"]
    assert params["NotificationConfiguration"]["EventBridgeConfiguration"] == {}
    assert "1 existing notification(s) kept" in out.getvalue()
    # and a bucket that already delivers to EventBridge is left as it is
    assert cli.with_eventbridge({"EventBridgeConfiguration": {}, "ResponseMetadata": {}}) == {
        "EventBridgeConfiguration": {}
    }
