"""`python -m job setup`: create the results table and buckets where missing, for local runs and demos.

The table definition here must match Terraform's (tests compare them); production uses Terraform.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from job.core import label_index, quota

log = logging.getLogger(__name__)

TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "bucket", "AttributeType": "S"},
        {"AttributeName": "key", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "bucket", "KeyType": "HASH"},
        {"AttributeName": "key", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def ensure_table(ddb: Any, name: str, wait_seconds: int = 60, definition: dict | None = None) -> bool:
    """Create the table unless it exists; True when created. Waits until it is ACTIVE."""
    try:
        ddb.describe_table(TableName=name)
        log.info("table exists", extra={"table": name})
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    try:
        ddb.create_table(TableName=name, **(definition or TABLE_DEFINITION))
    except ClientError as exc:  # another process created it between our two calls
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        return False
    ddb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": max(1, wait_seconds)}
    )
    log.info("table created", extra={"table": name})
    return True


def ensure_bucket(s3: Any, name: str, region: str | None) -> bool:
    """Create the bucket unless it exists; True when created."""
    try:
        s3.head_bucket(Bucket=name)
        log.info("bucket exists", extra={"bucket": name})
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    args: dict[str, Any] = {"Bucket": name}
    if region and region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
            raise
        return False
    log.info("bucket created", extra={"bucket": name})
    return True


def setup(ddb: Any, s3: Any, table: str, buckets: list[str], region: str | None) -> dict[str, list[str]]:
    """Everything a local run needs; returns what was created."""
    created: dict[str, list[str]] = {"tables": [], "buckets": []}
    if ensure_table(ddb, table):
        created["tables"].append(table)
    labels = label_index.table_name(table)
    if ensure_table(ddb, labels, definition=label_index.TABLE_DEFINITION):
        created["tables"].append(labels)
    limiter = table + quota.SUFFIX
    if ensure_table(ddb, limiter, definition=quota.TABLE_DEFINITION):
        ddb.update_time_to_live(
            TableName=limiter, TimeToLiveSpecification={"Enabled": True, "AttributeName": quota.TTL_ATTRIBUTE}
        )
        created["tables"].append(limiter)
    for bucket in buckets:
        if ensure_bucket(s3, bucket, region):
            created["buckets"].append(bucket)
    return created
