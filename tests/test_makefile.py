"""`make -n` shows what each deployment target runs, in the order a first deploy needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real runs of the operator targets use the suite's own Python (RUN_PY) rather than setting up .venv-run.
RUN_PY = f"RUN_PY={sys.executable}"
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> list[str]:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def index_of(lines: list[str], *needles: str) -> int:
    for i, line in enumerate(lines):
        if all(n in line for n in needles):
            return i
    raise AssertionError(f"no line with {needles} in:\n" + "\n".join(lines))


def test_deploy_runs_ecr_then_image_then_the_rest():
    # given a tag and a vars file
    # when deploy is dry-run
    lines = dry_run("deploy", "IMAGE_TAG=abc123", "TF_VARS=/tmp/prod.tfvars", "REGION=eu-west-1")
    # then init, the ECR repository, build, login, push and the full apply come in that order
    steps = [
        index_of(lines, "terraform", "init"),
        index_of(lines, "terraform", "apply", "-target=module.ecr", "image_tag=abc123"),
        index_of(lines, "docker build", "bucketlens:abc123"),
        index_of(lines, "tag=abc123 &&"),
        index_of(lines, "ecr get-login-password", "--region $region"),
        index_of(lines, "docker push", "$url:$tag"),
    ]
    final = max(i for i, line in enumerate(lines) if "terraform" in line and " apply " in line)
    assert steps == sorted(steps) and steps[-1] < final
    assert "-target" not in lines[final]
    assert "-var image_tag=abc123" in lines[final] and "-var-file=/tmp/prod.tfvars" in lines[final]
    assert "-auto-approve" not in lines[final]  # the full apply asks, unless AUTO_APPROVE=1
    # and the region given on the command line is the one every step uses
    assert "-var region=eu-west-1" in lines[final] and any("region=eu-west-1 &&" in line for line in lines)


def test_deploying_and_pushing_set_up_no_virtualenv_and_the_operator_commands_no_test_tools():
    # given a first deploy, dry-run
    lines = dry_run("deploy", "IMAGE_TAG=abc123", "TF_VARS=/tmp/prod.tfvars")
    # then no step creates or uses the test tools' virtualenv: Terraform outputs are read with Python's
    # standard library alone, and the EventBridge step runs from the runtime-only .venv-run
    assert not [line for line in lines if ".venv/" in line or "[test]" in line]
    assert any("deployed --dir terraform" in line and " region" in line for line in lines)
    setup = dry_run("eventbridge")
    assert any("-m venv --clear .venv-run" in line for line in setup)
    assert any(
        ".venv-run/bin/uv pip install" in line and "-e '.[onnx]'" in line and "[test]" not in line
        for line in setup
    )
    # and a Python given as RUN_PY is used as it is, with no virtualenv made
    assert not [line for line in dry_run("status", "JOB=j", "RUN_PY=/usr/bin/python3") if "-m venv" in line]


def test_deploy_with_gpu_builds_and_pushes_the_gpu_variant_beside_the_cpu_image():
    # given GPU=1 (Terraform's gpu = true runs <tag>-gpu)
    lines = dry_run("deploy", "IMAGE_TAG=abc123", "TF_VARS=/tmp/prod.tfvars", "REGION=eu-west-1", "GPU=1")
    # then the CPU image is built from the cpu target and the GPU one from the gpu target, and both pushed
    cpu = index_of(lines, "docker build", "--target cpu", "bucketlens:abc123 ")
    gpu = index_of(lines, "docker build", "--target gpu", "bucketlens:abc123-gpu ")
    assert cpu < gpu < index_of(lines, "tag=abc123-gpu &&")
    final = max(i for i, line in enumerate(lines) if "terraform" in line and " apply " in line)
    assert gpu < final
    # and without GPU no gpu image is built
    plain = dry_run("deploy", "IMAGE_TAG=abc123", "TF_VARS=/tmp/prod.tfvars", "REGION=eu-west-1")
    assert not [line for line in plain if "--target gpu" in line]


def test_the_tfvars_region_is_never_overridden_unless_region_is_given():
    # given no REGION on the command line (whatever AWS_REGION the shell has)
    for target in ("plan", "deploy"):
        lines = dry_run(target, "IMAGE_TAG=t3", "AWS_REGION=us-east-1")
        # then Terraform takes the region from terraform.tfvars: no -var region
        assert not [line for line in lines if "-var region" in line], target
    # and the operator commands read the applied deployment's region
    assert any(
        "deployed --dir terraform" in line and " region)" in line for line in dry_run("status", "JOB=j")
    )


def test_commands_without_terraform_say_what_to_install(tmp_path):
    # given no Terraform where the Makefile looks for it
    for target, extra in (("status", "JOB=j-1"), ("push", "IMAGE_TAG=t")):
        # when an operator command runs
        result = subprocess.run(
            ["make", "--no-print-directory", target, extra, f"TF_DIR={tmp_path}", RUN_PY]
            + [f"TERRAFORM={tmp_path / 'no-terraform'}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # then it stops with the one line that says what is missing
        assert result.returncode != 0
        assert "not found: install Terraform" in result.stderr, result.stderr


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_commands_with_nothing_deployed_say_so(tmp_path):
    # given a Terraform directory where nothing was applied
    for target, extra in (("status", "JOB=j-1"), ("backfill", "BUCKET=photos")):
        # when an operator command runs there
        result = subprocess.run(
            ["make", "--no-print-directory", target, extra, f"TF_DIR={tmp_path}", RUN_PY],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # then it stops with the one line that says what to do, not Terraform's warning as a value
        assert result.returncode != 0
        assert "nothing deployed here" in result.stderr and "run make deploy" in result.stderr, result.stderr
        assert "Warning" not in result.stdout + result.stderr


def test_auto_approve_is_opt_in():
    lines = dry_run("deploy", "AUTO_APPROVE=1", "IMAGE_TAG=t1")
    final = max(i for i, line in enumerate(lines) if " apply " in line)
    assert "-auto-approve" in lines[final]


def test_image_tag_defaults_to_the_git_commit():
    # given no IMAGE_TAG
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    if not sha:
        pytest.skip("not a git checkout")
    # when build is dry-run, then the tag is the commit
    lines = dry_run("build")
    assert f"bucketlens:{sha}" in lines[index_of(lines, "docker build")]


def test_build_takes_the_base_image_by_the_pinned_digest():
    # given a pinned base image (what `make pin-base` writes to base-image.digest)
    pinned = "python:3.13-slim-bookworm@sha256:" + "0" * 64
    # when build is dry-run with it, then both stages' FROM get it as the PYTHON_IMAGE build argument
    lines = dry_run("build", f"BASE_IMAGE={pinned}")
    assert f"--build-arg PYTHON_IMAGE={pinned}" in lines[index_of(lines, "docker build")]
    # and without one, the build says that it takes the tag
    lines = dry_run("build", "BASE_IMAGE=")
    assert "--build-arg" not in lines[index_of(lines, "docker build")]
    assert "base-image.digest is missing" in "\n".join(lines)
    # and pin-base asks the registry for the index digest of the tested minor's slim image
    assert "imagetools inspect python:3.13-slim-bookworm" in "\n".join(dry_run("pin-base"))


def test_status_and_logs_need_a_job():
    # given no JOB, when status runs, then it says how to call it and fails
    result = subprocess.run(["make", RUN_PY, "status"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "usage: make status JOB=" in result.stdout
    # and with a JOB it asks Batch for that job
    assert any("-m job status j-1 --results-uri" in line for line in dry_run("status", "JOB=j-1"))
    assert any("logs tail" in line for line in dry_run("logs", "JOB=j-1:3"))


def test_plan_and_destroy_use_the_same_variables():
    for target in ("plan", "destroy"):
        lines = dry_run(target, "IMAGE_TAG=t2", "TF_VARS=/tmp/v.tfvars")
        assert any(
            f" {target} " in line and "-var image_tag=t2" in line and "/tmp/v.tfvars" in line
            for line in lines
        )


def test_backfill_needs_a_bucket_and_passes_prefix_and_dry_run():
    result = subprocess.run(
        ["make", RUN_PY, "backfill"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "usage: make backfill BUCKET=" in result.stdout
    lines = dry_run("backfill", "BUCKET=photos", "PREFIX=2024/", "DRY_RUN=1")
    assert any(
        "deployed --dir terraform" in line and "submitter_environment --format env" in line for line in lines
    ), "the deployed settings come from Terraform"
    command = next(line for line in lines if "-m lambda_submitter backfill" in line)
    assert "--bucket photos --prefix 2024/ --dry-run" in command


def test_backfill_runs_the_submitter_with_the_deployed_environment(moto_server, tmp_path):
    # given a bucket with images in the emulator, and a terraform whose output is the submitter's environment
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="photos")
    for key in ("2024/a.jpg", "2024/b.png", "2024/notes.txt", "2023/c.jpg"):
        s3.put_object(Bucket="photos", Key=key, Body=b"x" * 10)
    fake = tmp_path / "terraform"
    fake.write_text(
        "#!/bin/sh\n"  # `terraform -chdir=… output -json -no-color NAME`: answer by the output's name
        "for last; do :; done\n"
        'case "$last" in\n'
        "  region) echo '\"us-east-1\"' ;;\n"
        '  submitter_environment) echo \'{"BUCKETLENS_FEATURES": "labels,text", "BUCKETLENS_SHARD_SIZE": "1"}\' ;;\n'
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    # when `make backfill` runs as a dry run
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "backfill",
            "BUCKET=photos",
            "PREFIX=2024/",
            "DRY_RUN=1",
            f"TERRAFORM={fake}",
            RUN_PY,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then the submitter listed the prefix with the deployed features and shard size
    assert result.returncode == 0, result.stderr[-2000:]
    assert "images found:  2" in result.stdout
    assert "shards:        2" in result.stdout
    assert "labels,text" in result.stdout


def test_relabel_submits_the_deployed_prompt_list_as_a_batch_job(moto_server, tmp_path):
    # given the deployment's queue and job definition in the emulator, and a terraform whose outputs name
    # them and the prompt list
    import boto3

    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="relabel-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", region_name="us-east-1")
    environment = batch.create_compute_environment(
        computeEnvironmentName="relabel-ce", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="relabel-q",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName="relabel-worker",
        type="container",
        containerProperties={"image": "bucketlens:test", "vcpus": 1, "memory": 2048},
    )["jobDefinitionArn"]
    fake = tmp_path / "terraform"
    fake.write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"
        'case "$last" in\n'
        "  region) echo '\"us-east-1\"' ;;\n"
        f"  job_queue_arn) echo '\"{queue}\"' ;;\n"
        f"  job_definition_arn) echo '\"{definition}\"' ;;\n"
        "  prompts_uri) echo '\"s3://models-b/prompts.json\"' ;;\n"
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    # when `make relabel` runs with three children
    result = subprocess.run(
        ["make", "--no-print-directory", "relabel", "CHILDREN=3", f"TERRAFORM={fake}", RUN_PY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then one array job of three children relabels the deployed prompt list's segments
    assert result.returncode == 0, result.stderr[-2000:]
    import json

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    (job,) = batch.describe_jobs(jobs=[answer["job_id"]])["jobs"]
    assert job["arrayProperties"]["size"] == 3
    assert job["container"]["command"] == [
        "relabel",
        "--prompts",
        "s3://models-b/prompts.json",
        "--segments",
        "3",
    ]


def test_search_needs_a_description_or_an_image_and_runs_with_the_deployed_model():
    result = subprocess.run(["make", RUN_PY, "search"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "usage: make search MEANING=" in result.stdout
    lines = dry_run("search", "MEANING=a red car at night", "LIMIT=5")
    assert any(
        "deployed --dir terraform" in line and "search_environment --format env" in line for line in lines
    )
    command = next(line for line in lines if "-m job search" in line)
    assert '--limit 5 --meaning "a red car at night"' in command and "--format table" in command
    like = next(line for line in dry_run("search", "LIKE=s3://photos/a.jpg") if "-m job search" in line)
    assert '--like "s3://photos/a.jpg"' in like and "--meaning" not in like
