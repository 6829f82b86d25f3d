"""The emulator's own fixes to moto: what AWS does that moto does not."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from botocore.exceptions import ClientError

from job.demo import emulator
from job.demo.emulator import start_server


def test_a_tls_only_bucket_policy_admits_calls_and_an_unconditional_deny_still_refuses():
    # given the emulator and a bucket with the deployment's TLS-only policy plus a plain Deny of deletes
    server, url = start_server()
    try:
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        s3.create_bucket(Bucket="tls-only")
        arns = ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": arns,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "NoDeletes",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObject",
                    "Resource": arns[1],
                },
            ],
        }
        s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(policy))
        # when objects are written and read / then they are, as over TLS on AWS
        s3.put_object(Bucket="tls-only", Key="k", Body=b"x")
        assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"x"
        # and the unconditional Deny still refuses
        with pytest.raises(ClientError):
            s3.delete_object(Bucket="tls-only", Key="k")
    finally:
        server.stop()


def test_terraform_apply_tells_how_far_it_is(tmp_path):
    # given a configuration of three resources that need no provider, and the terraform CLI
    import shutil

    exe = shutil.which("terraform")
    if exe is None:
        pytest.skip("terraform CLI not found on PATH")
    (tmp_path / "main.tf").write_text(
        "\n".join(f'resource "terraform_data" "r{i}" {{\n  input = {i}\n}}' for i in range(3)) + "\n"
    )
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    emulator._run([exe, "init", "-backend=false", "-input=false", "-no-color"], tmp_path, 120, env)
    said: list[str] = []
    # when applied through the demo's apply, reporting at every line of terraform's machine-readable UI
    emulator._apply(
        [exe, "apply", "-auto-approve", "-input=false", "-no-color"], tmp_path, 120, env, said.append, every=0
    )
    # then it said how many resources were done as it went, and the total at the end
    assert any(line.startswith("    terraform: ") and "/3 resources after" in line for line in said)
    assert said[-1].startswith("    terraform: 3/3 resources in ")
