"""`make deploy` as the README gives it, run whole against an emulated AWS: only terraform.tfvars filled in,
no REGION on the command line, and stand-ins for docker and the AWS CLI that record what they are asked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from job.demo.emulator import Emulator
from tests.terraform.tf_helpers import REPO, copy_configuration, moto_override, require_terraform

REGION = "eu-west-1"  # not the environment's: only terraform.tfvars says it
IMAGES_BUCKET = "bucketlens-make-deploy-images"
DEPLOY_TIMEOUT = 1200  # two applies, mostly provider waits; CI shares 2 cores with other workers
pytestmark = [
    pytest.mark.timeout(DEPLOY_TIMEOUT + 120),
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]
# docker and aws as a user has them, reduced to what `make deploy` asks of them; every call is recorded
STANDIN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$BUCKETLENS_TEST_CALLS"
case "$(basename "$0") $1 $2" in
  "aws ecr describe-images") echo "An error occurred (ImageNotFoundException)" >&2; exit 254 ;;
  "aws ecr get-login-password") echo "ecr-token" ;;
  "docker login "*) read -r token; [ "$token" = "ecr-token" ] || exit 1 ;;
esac
"""


def test_make_deploy_runs_to_the_end_with_only_terraform_tfvars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe, init_args = require_terraform()
    # the Batch roles attach AWS-managed policies, which moto loads only on request (the emulator asks)
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with Emulator() as account:  # its own: the session's server may hold another test's deployment
        _deploy_and_check(tmp_path, exe, init_args, account.url)


def _deploy_and_check(tmp_path: Path, exe: str, init_args: list[str], url: str) -> None:
    # given an account with a network and the images bucket, in a region the environment does not name
    aws = {"region_name": REGION, "endpoint_url": url, "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    ec2 = boto3.client("ec2", **aws)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="workers", Description="workers")["GroupId"]
    boto3.client("s3", **aws).create_bucket(
        Bucket=IMAGES_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    # and the configuration with terraform.tfvars holding the four required settings, as the README says
    # (the emulator's provider override and where the repository is are the test's own)
    workdir = copy_configuration(tmp_path / "terraform")
    (workdir / "terraform.tfvars").write_text(
        f'region = "{REGION}"\nimages_bucket_name = "{IMAGES_BUCKET}"\n'
        f'subnet_ids = ["{subnet}"]\nsecurity_group_ids = ["{group}"]\n'
    )
    (workdir / "moto_override.tf").write_text(moto_override(url))
    (workdir / "test.auto.tfvars.json").write_text(json.dumps({"source_dir": str(REPO)}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "aws"):
        (bin_dir / name).write_text(STANDIN)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls.log"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",  # a shell's default elsewhere: the deployment's region must win
        "AWS_REGION": "us-east-1",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_ARGS_init": " ".join(init_args),  # the offline provider mirror where there is one
        "BUCKETLENS_TEST_CALLS": str(calls),
    }
    # when `make deploy` runs (approving the final apply, which asks a person otherwise)
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "deploy",
            f"TF_DIR={workdir}",
            "AUTO_APPROVE=1",
            f"TERRAFORM={exe}",
            f"DOCKER={bin_dir / 'docker'}",
            f"AWS={bin_dir / 'aws'}",
            f"RUN_PY={sys.executable}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT,
        check=False,
    )
    # then it runs to the end
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tag = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    # and the ECR repository was made first, in the deployment's region
    (repository,) = boto3.client("ecr", **aws).describe_repositories()["repositories"]
    image_url = repository["repositoryUri"]
    registry = image_url.split("/", 1)[0]
    assert f".dkr.ecr.{REGION}." in registry
    # and the image was built, the registry logged in to in that region, and the image pushed there
    recorded = calls.read_text().splitlines()
    build = next(i for i, c in enumerate(recorded) if c.startswith("docker build"))
    assert f"--tag bucketlens:{tag} " in recorded[build] + " " and "--target cpu" in recorded[build]
    # (the login is one pipeline, `aws ecr get-login-password | docker login`: its two sides start together,
    # so either may record first)
    login = {
        recorded.index(f"aws ecr get-login-password --region {REGION}"),
        recorded.index(f"docker login --username AWS --password-stdin {registry}"),
    }
    described = recorded.index(
        f"aws ecr describe-images --region {REGION} --repository-name bucketlens --image-ids imageTag={tag}"
    )
    tagged = recorded.index(f"docker tag bucketlens:{tag} {image_url}:{tag}")
    pushed = recorded.index(f"docker push {image_url}:{tag}")
    assert build < described < min(login) and max(login) < tagged < pushed, recorded
    # and the full apply runs the pushed tag
    batch = boto3.client("batch", **aws)
    (definition,) = batch.describe_job_definitions(jobDefinitionName="bucketlens-worker", status="ACTIVE")[
        "jobDefinitions"
    ]
    assert definition["containerProperties"]["image"] == f"{image_url}:{tag}"
    # and the EventBridge step switched the bucket's delivery on, in the deployment's region (the emulator
    # does not read EventBridgeConfiguration back: the step's own report says what it wrote)
    assert f"{IMAGES_BUCKET}: EventBridge delivery on; 0 existing notification(s) kept" in done.stdout
    # and nothing needed the test tools' virtualenv or a REGION: no -var region was passed to Terraform
    assert "-var region=" not in done.stdout
