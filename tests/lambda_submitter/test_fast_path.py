"""The fast path: a small SQS batch of uploads labelled inside the Lambda, on moto, through the handler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus

import pytest

from job.commands import provision
from job.core import clients, label_index
from lambda_submitter import config, handler, triggers
from tests.job.worker_helpers import image_bytes
from tests.lambda_submitter.conftest import IMAGES, MANIFESTS, TABLE, load_event

THROTTLED_KEY = "photos/a+b.jpg"


@dataclass
class Context:
    """The two things of Lambda's context object the handler reads (Powertools tests fake it so too)."""

    remaining_ms: int = 300_000
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def uploads(stack: dict, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The images of sqs_object_created.json uploaded, the tables `job setup` makes, a shared quota,
    and the event with each record's ETag and size set to what was really uploaded."""
    monkeypatch.setenv("BUCKETLENS_TPS_QUOTA", "50")
    provision.setup(stack["dynamodb"], stack["s3"], TABLE, [], "us-east-1")
    event = load_event("sqs_object_created.json")
    for record in event["Records"]:
        body = json.loads(record["body"])
        obj = body["Records"][0]["s3"]["object"]
        key = unquote_plus(obj["key"])
        data = image_bytes("JPEG") if key.lower().endswith(".jpg") else b"notes"
        etag = stack["s3"].put_object(Bucket=IMAGES, Key=key, Body=data)["ETag"].strip('"')
        obj.update(eTag=etag, size=len(data))
        record["body"] = json.dumps(body)
    return {**stack, "event": event}


def _results(ddb) -> dict[str, dict]:
    items = ddb.scan(TableName=TABLE)["Items"]
    return {i["key"]["S"]: i for i in items}


def _manifests(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=MANIFESTS).get("Contents", [])]


def _message_of(event: dict, key: str) -> str:
    for record in event["Records"]:
        body = json.loads(record["body"])
        if unquote_plus(body["Records"][0]["s3"]["object"]["key"]) == key:
            return record["messageId"]
    raise KeyError(key)


def _throttle_detect_labels_for(key: str) -> None:
    """Rekognition answers ThrottlingException for one image (as AWS does past the account's TPS)."""

    class Http:
        status_code = 400

    def answer(params: dict, **_: object):
        image = json.loads(params["body"])["Image"]
        if image.get("S3Object", {}).get("Name") == key:
            error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            return Http(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    clients._session().events.register("before-call.rekognition.DetectLabels", answer)


def test_a_small_batch_is_labelled_in_the_lambda(uploads: dict) -> None:
    # given an SQS batch of three image uploads and a text file, and five minutes left in the invocation
    # when the handler runs
    response = handler.handler(uploads["event"], Context())
    # then every message is acknowledged, the three images are labelled and indexed, and no job was made
    assert response == {"batchItemFailures": []}
    results = _results(uploads["dynamodb"])
    assert sorted(results) == [
        "photos/2026/01/01/deep/nested/café 写真.JPG",
        "photos/a+b.jpg",
        "photos/red flower.jpg",
    ]
    assert {r["status"]["S"] for r in results.values()} == {"done"}
    assert all(r["labels"]["L"] for r in results.values())
    index = uploads["dynamodb"].scan(TableName=label_index.table_name(TABLE))["Items"]
    assert {i["key"]["S"] for i in index} == set(results)
    assert _manifests(uploads["s3"]) == []


def test_a_redelivered_batch_pays_for_nothing(uploads: dict) -> None:
    # given a batch labelled on the fast path
    c = handler.make_clients()
    cfg = config.from_env()
    first = triggers.handle_events(c, cfg, uploads["event"]["Records"], 300.0)
    # when SQS delivers it again
    again = triggers.handle_events(c, cfg, uploads["event"]["Records"], 300.0)
    # then the first paid three DetectLabels calls; the second found them done and paid none
    assert first.labelled["calls"]["rekognition.DetectLabels"] == 3
    assert again.labelled["outcomes"]["skipped_done"] == 3
    assert again.labelled["rekognition_calls"] == 0 and again.failed == []


def test_a_throttled_image_goes_back_to_the_queue_and_the_rest_are_stored(uploads: dict) -> None:
    # given Rekognition throttling one image of the batch
    _throttle_detect_labels_for(THROTTLED_KEY)
    # when the handler runs
    response = handler.handler(uploads["event"], Context())
    # then only that image's message fails (SQS delivers it again); the other two are stored
    assert response == {
        "batchItemFailures": [{"itemIdentifier": _message_of(uploads["event"], THROTTLED_KEY)}]
    }
    assert THROTTLED_KEY not in _results(uploads["dynamodb"])
    assert len(_results(uploads["dynamodb"])) == 2


def test_a_batch_over_the_threshold_goes_to_batch(uploads: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a fast path of at most two images and a batch of three
    monkeypatch.setenv("BUCKETLENS_FAST_PATH_IMAGES", "2")
    # when handled
    response = handler.handler(uploads["event"], Context())
    # then an array job is submitted and nothing is labelled in the Lambda
    assert response == {"batchItemFailures": []}
    assert any(k.endswith("/manifest.json") for k in _manifests(uploads["s3"]))
    assert _results(uploads["dynamodb"]) == {}


def test_too_little_time_left_goes_to_batch(uploads: dict) -> None:
    # given an invocation with 30 s left (less than the fast path needs)
    # when handled
    handler.handler(uploads["event"], Context(remaining_ms=30_000))
    # then the images become a job
    assert any(k.endswith("/manifest.json") for k in _manifests(uploads["s3"]))
    assert _results(uploads["dynamodb"]) == {}
