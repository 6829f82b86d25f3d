"""The root module initialised (and, for most tests, applied) against a moto server, shared by the
deployment and plan tests: the VPC, subnet, security group and images bucket a user already has are made
first, and the configuration is copied so that no run touches the work tree's state."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from python_terraform import IsFlagged, Terraform

from tests.terraform.tf_helpers import REPO, copy_configuration, moto_override, require_terraform, run

REGION = "us-east-1"
IMAGES_BUCKET = "bucketlens-it-images"
PROJECT_VERSION_ARN = f"arn:aws:rekognition:{REGION}:123456789012:project/p/version/v1/1"
READER = "arn:aws:iam::123456789012:role/analyst"
# ~85 s on a quiet machine, almost all provider waits; generous, since CI may share 2 cores with 2 other workers
APPLY_TIMEOUT = 900
HOST_ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]


@dataclass(frozen=True)
class Deployment:
    """One applied configuration: its directory, moto endpoint, outputs and state."""

    workdir: Path
    endpoint: str
    outputs: dict[str, Any]
    resources: list[dict[str, Any]]
    tf: Terraform
    terraform: str
    vpc_id: str = ""
    security_group_id: str = ""  # the workers' group the user gave

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def resource(self, address_suffix: str) -> dict[str, Any]:
        matches = [r for r in self.resources if r["address"].endswith(address_suffix)]
        assert len(matches) == 1, f"{address_suffix}: {[r['address'] for r in matches]}"
        return matches[0]["values"]


def _state_resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _state_resources(child)
    return found


def terraform_cmd(tf: Terraform, exe: str, *args: Any, **kwargs: Any) -> list[str]:
    """python-terraform builds the command line; its cmd() has no timeout, so we run it ourselves."""
    return [exe, *tf.generate_cmd_string(*args, **kwargs)[1:]]


@contextlib.contextmanager
def provisioned(
    moto_server_url: str, tmp_path_factory: pytest.TempPathFactory, apply: bool
) -> Iterator[Deployment]:
    """The configuration initialised against a clean moto server, with the VPC prerequisites and the images
    bucket made first; applied when `apply` (else its state is empty: what plans alone need)."""
    exe, init_args = require_terraform()
    with pytest.MonkeyPatch.context() as mp:
        # The Batch service and instance roles attach AWS-managed policies, which moto loads only on request.
        mp.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        urllib.request.urlopen(
            urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST"), timeout=10
        ).read()
        mp.setenv("AWS_ENDPOINT_URL", moto_server_url)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            mp.setenv(name, value)
        mp.setenv("AWS_DEFAULT_REGION", REGION)

        # given the network and the images bucket a user already has
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc, GroupName="bucketlens-it", Description="workers")[
            "GroupId"
        ]
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=IMAGES_BUCKET)

        workdir = copy_configuration(tmp_path_factory.mktemp("tf") / "terraform")
        (workdir / "moto_override.tf").write_text(moto_override(moto_server_url))
        variables = {
            "region": REGION,
            "images_bucket_name": IMAGES_BUCKET,
            "subnet_ids": [subnet],
            "security_group_ids": [group],
            "source_dir": str(REPO),
            "python": sys.executable,
            "features": "labels,text,custom-labels",
            "project_version_arn": PROJECT_VERSION_ARN,
            "enable_schedule": True,
            "event_route": "notification",  # the emulator's S3 delivers notifications; eventbridge is planned below
            # this machine's instruction set, so the deployed zip's wheels can be imported here (arm64, the
            # default, is checked in tests/terraform/test_package.py)
            "lambda_architecture": HOST_ARCHITECTURE,
            "deletion_protection": False,
            "force_destroy": True,
        }
        (workdir / "test.auto.tfvars.json").write_text(json.dumps(variables))
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        tf = Terraform(working_dir=str(workdir), terraform_bin_path=exe)
        run(
            [*terraform_cmd(tf, exe, "init", backend=False, input=False), *init_args],
            workdir,
            120,
            env,
        )
        # when the root module is applied
        if apply:
            run(
                terraform_cmd(tf, exe, "apply", auto_approve=IsFlagged, input=False, no_color=IsFlagged),
                workdir,
                APPLY_TIMEOUT,
                env,
            )
        state = json.loads(run([exe, "show", "-json"], workdir, 60, env))
        values = state.get("values") or {}
        outputs = {k: v["value"] for k, v in (values.get("outputs") or {}).items()}
        yield Deployment(
            workdir=workdir,
            endpoint=moto_server_url,
            outputs=outputs,
            resources=_state_resources(values.get("root_module") or {}),
            tf=tf,
            terraform=exe,
            vpc_id=vpc,
            security_group_id=group,
        )
