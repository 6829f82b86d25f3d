"""Submitter fixtures: moto S3, DynamoDB and Batch (no Docker) set up as Terraform would, and the config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from job.core import clients
from lambda_submitter import account_quota
from lambda_submitter.config import SubmitterConfig
from tests.batch_queue import job_queue

EVENTS = Path(__file__).resolve().parents[1] / "events"
IMAGES = "bucketlens-images"
MANIFESTS = "bucketlens-manifests"
INVENTORY = "bucketlens-inventory"
TABLE = "bucketlens-results"
ENV = {
    "BUCKETLENS_JOB_QUEUE": "bucketlens-queue",
    "BUCKETLENS_JOB_DEFINITION": "bucketlens-worker",
    "BUCKETLENS_MANIFESTS_BUCKET": MANIFESTS,
    "BUCKETLENS_MANIFESTS_PREFIX": "manifests",
    "BUCKETLENS_TABLE": TABLE,
    "BUCKETLENS_FEATURES": "labels",
    "BUCKETLENS_SHARD_SIZE": "2",
}


@pytest.fixture(autouse=True)
def fresh_quota() -> Iterator[None]:
    """No test sees the Service Quotas answer another one was given."""
    account_quota.forget()
    yield
    account_quota.forget()


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def sub_env(monkeypatch: pytest.MonkeyPatch) -> dict:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return dict(ENV)


@pytest.fixture
def cfg() -> SubmitterConfig:
    return SubmitterConfig(
        job_queue="bucketlens-queue",
        job_definition="bucketlens-worker",
        manifests_bucket=MANIFESTS,
        table=TABLE,
        shard_size=2,
    )


@pytest.fixture
def stack(aws: None, sub_env: dict) -> Iterator[dict]:
    """Buckets, the results table, and a Batch queue with the worker job definition, all in moto."""
    s3 = clients.client("s3")
    for bucket in (IMAGES, MANIFESTS, INVENTORY):
        s3.create_bucket(Bucket=bucket)
    clients.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "bucket", "KeyType": "HASH"},
            {"AttributeName": "key", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "bucket", "AttributeType": "S"},
            {"AttributeName": "key", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    job_queue("bucketlens-queue", "bucketlens")
    batch = clients.client("batch")
    batch.register_job_definition(
        jobDefinitionName="bucketlens-worker",
        type="container",
        parameters={"shard_offset": "0", "features": "labels"},
        containerProperties={
            "image": "bucketlens:test",
            "vcpus": 1,
            "memory": 512,
            "command": [
                "python",
                "-m",
                "job",
                "run",
                "--source",
                "Ref::source",
                "--shard-offset",
                "Ref::shard_offset",
                "--features",
                "Ref::features",
            ],
        },
    )
    yield {"s3": s3, "batch": batch, "dynamodb": clients.client("dynamodb")}


def job_details(batch, job_ids) -> list[dict]:
    return batch.describe_jobs(jobs=list(job_ids))["jobs"] if job_ids else []
