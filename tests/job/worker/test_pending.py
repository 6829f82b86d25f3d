"""Paid-for results kept across a failed write: exact round trip, and the S3 life cycle."""

from __future__ import annotations

from decimal import Decimal

import boto3

from job.worker import pending

ITEM = {
    "bucket": "b",
    "key": "k é.jpg",
    "status": "done",
    "size": 1234,
    "labels": [{"name": "Car", "confidence": Decimal("99.12345678"), "parents": ["Vehicle"]}],
    "exif": {"gps": {"latitude": Decimal("-33.8688")}},
}


def test_items_round_trip_with_exact_decimals():
    # given an item as the worker builds it / when encoded and decoded
    back = pending.decode(pending.encode([ITEM]))
    # then it is the same item, numbers exact
    assert back == [ITEM]
    assert back[0]["labels"][0]["confidence"] == Decimal("99.12345678")


def test_saved_items_load_once_then_clear(aws):
    # given a bucket and no pending file
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="runs")
    uri = pending.pending_uri("s3://runs/prefix/", "job-1", 3)
    assert uri == "s3://runs/prefix/job-1/3.pending.json"
    assert pending.load(s3, uri) == []
    # when items are saved
    pending.save(s3, uri, [ITEM, {**ITEM, "key": "other"}])
    # then they load back, and after clear there are none
    assert [i["key"] for i in pending.load(s3, uri)] == ["k é.jpg", "other"]
    pending.clear(s3, uri)
    assert pending.load(s3, uri) == []
