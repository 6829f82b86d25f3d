"""The fast path: a small SQS batch of uploads labelled inside the Lambda, on moto, through the handler."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from job.commands import provision
from job.core import clients, label_index
from job.demo.pipeline import LambdaContext
from lambda_submitter import config, handler, triggers
from tests.job.worker_helpers import image_bytes
from tests.lambda_submitter.conftest import IMAGES, MANIFESTS, TABLE, load_event

THROTTLED_KEY = "photos/a+b.jpg"
DEPLOYED_TIMEOUT_S = 300  # submitter_timeout_seconds


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
    response = handler.handler(uploads["event"], LambdaContext(DEPLOYED_TIMEOUT_S))
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
    assert {i["ref"]["S"] for i in index} == {f"{IMAGES}/{key}" for key in results}
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


def _from_a_queue(event: dict) -> dict:
    """The event's bodies sent to a real (emulated) queue and received back, so that each record has a
    receipt handle and receive count SQS knows, in the record shape of the sample."""
    sqs = clients.client("sqs")
    url = sqs.create_queue(QueueName="bucketlens-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for record in event["Records"]:
        sqs.send_message(QueueUrl=url, MessageBody=record["body"])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    template = event["Records"][0]
    records = [
        {
            **template,
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {**template["attributes"], **m["Attributes"]},
            "eventSourceARN": arn,
        }
        for m in got
    ]
    return {"Records": records}


def test_a_throttled_image_goes_back_to_the_queue_soon_and_the_rest_are_stored(uploads: dict) -> None:
    # given the batch as received from the events queue, and Rekognition throttling one of its images
    event = _from_a_queue(uploads["event"])
    _throttle_detect_labels_for(THROTTLED_KEY)
    changed: list[dict] = []
    clients.client("sqs").meta.events.register(  # the client the handler uses (clients are cached)
        "before-call.sqs.ChangeMessageVisibility",
        lambda params, **_: changed.append(json.loads(params["body"])),
    )
    # when the handler runs
    response = handler.handler(event, LambdaContext(DEPLOYED_TIMEOUT_S))
    # then only that image's message fails (SQS delivers it again); the other two are stored
    throttled = _message_of(event, THROTTLED_KEY)
    assert response == {"batchItemFailures": [{"itemIdentifier": throttled}]}
    assert THROTTLED_KEY not in _results(uploads["dynamodb"])
    assert len(_results(uploads["dynamodb"])) == 2
    # and it comes back after 15 s (its first receive), not after the queue's visibility timeout
    receipt = next(r["receiptHandle"] for r in event["Records"] if r["messageId"] == throttled)
    assert [(c["ReceiptHandle"], c["VisibilityTimeout"]) for c in changed] == [(receipt, 15)]


def test_a_batch_over_the_threshold_goes_to_batch(uploads: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a fast path of at most two images and a batch of three
    monkeypatch.setenv("BUCKETLENS_FAST_PATH_IMAGES", "2")
    # when handled
    response = handler.handler(uploads["event"], LambdaContext(DEPLOYED_TIMEOUT_S))
    # then an array job is submitted and nothing is labelled in the Lambda
    assert response == {"batchItemFailures": []}
    assert any(k.endswith("/manifest.json") for k in _manifests(uploads["s3"]))
    assert _results(uploads["dynamodb"]) == {}


def test_too_little_time_left_goes_to_batch(uploads: dict) -> None:
    # given an invocation with 30 s left (less than the fast path needs)
    # when handled
    handler.handler(uploads["event"], LambdaContext(30))
    # then the images become a job
    assert any(k.endswith("/manifest.json") for k in _manifests(uploads["s3"]))
    assert _results(uploads["dynamodb"]) == {}


def test_an_upload_throttled_for_hours_stays_on_the_queue_until_the_stated_patience(uploads: dict) -> None:
    # given the events queue as Terraform makes it: a dead-letter queue after the deliveries derived from
    # the default patience (6 hours), and Rekognition throttling one upload on every try
    sqs = clients.client("sqs")
    dlq = sqs.create_queue(QueueName="bucketlens-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    receives = triggers.receives_for_patience(triggers.DEFAULT_PATIENCE_S)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": receives}
    url = sqs.create_queue(
        QueueName="bucketlens-events",
        Attributes={"VisibilityTimeout": "1800", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    template = next(
        r
        for r in uploads["event"]["Records"]
        if _message_of(uploads["event"], THROTTLED_KEY) == r["messageId"]
    )
    sqs.send_message(QueueUrl=url, MessageBody=template["body"])
    _throttle_detect_labels_for(THROTTLED_KEY)
    waits: list[int] = []

    def time_passes(params: dict, **_: object) -> None:
        """The wait the handler asks for is recorded, and then has passed: the message is visible again."""
        waits.append(params["VisibilityTimeout"])
        params["VisibilityTimeout"] = 0

    sqs.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibility", time_passes)

    def deliver() -> bool:
        got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", [])
        if not got:
            return False
        (m,) = got
        record = {
            **template,
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "attributes": {**template["attributes"], **m["Attributes"]},
            "eventSourceARN": arn,
        }
        response = handler.handler({"Records": [record]}, LambdaContext(DEPLOYED_TIMEOUT_S))
        assert response == {"batchItemFailures": [{"itemIdentifier": m["MessageId"]}]}
        return True

    # when it is delivered, throttled and handed back for an hour of (emulated) waits
    while sum(waits) < 3600:
        assert deliver(), f"gone from the queue after {sum(waits)} s"
    # then it is still on the queue, and nothing is in the dead-letter queue
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)
    # when the throttling goes on: it reaches the dead-letter queue only once the waits add up to 6 hours
    while deliver():
        pass
    assert len(waits) == receives and sum(waits) >= triggers.DEFAULT_PATIENCE_S > sum(waits[:-1])
    assert len(sqs.receive_message(QueueUrl=dlq)["Messages"]) == 1
    assert THROTTLED_KEY not in _results(uploads["dynamodb"])


def _as_eventbridge(event: dict) -> dict:
    """The same uploads as S3's published EventBridge "Object Created" sample (tests/events/SOURCES.md)
    carries them, each in the SQS record the rule's target delivers."""
    records = []
    for n, record in enumerate(event["Records"]):
        notified = json.loads(record["body"])["Records"][0]["s3"]["object"]
        body = load_event("eventbridge_object_created.json")
        body["detail"]["bucket"]["name"] = IMAGES
        body["detail"]["object"].update(
            key=unquote_plus(notified["key"]),
            etag=notified["eTag"],
            size=notified["size"],
            sequencer=f"{n + 1:016X}",
        )
        del body["detail"]["object"]["version-id"]  # the images bucket here keeps no versions: S3 sends none
        records.append({**record, "messageId": f"eb-{n}", "body": json.dumps(body)})
    return {"Records": records}


@pytest.mark.parametrize("route", ["notification", "eventbridge"])
def test_with_your_models_a_small_batch_is_embedded_and_labelled_from_prompts_in_the_lambda(
    uploads: dict, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    # given the clip labeler deployed (the colour model and a prompt list in S3), and the same uploads, as S3
    # notifications or as EventBridge events (both routes Terraform offers, in AWS's published shapes)
    from job.commands import vector_query
    from job.core import vectors
    from job.demo import tiny_model, vector_search
    from job.worker import embeddings

    vector_search.install()
    s3 = uploads["s3"]
    files = {
        "image.onnx": tiny_model.colour_image_encoder(),
        "text.onnx": tiny_model.colour_text_encoder(),
        "tokenizer.json": tiny_model.word_tokenizer(),
        "prompts.json": json.dumps([{"name": "Red", "prompt": "red", "threshold": 0.5}]).encode(),
    }
    for name, body in files.items():
        s3.put_object(Bucket=MANIFESTS, Key=f"models/{name}", Body=body)
    for option, name in (
        ("EMBED_IMAGE_URI", "image.onnx"),
        ("EMBED_TEXT_URI", "text.onnx"),
        ("EMBED_TOKENIZER_URI", "tokenizer.json"),
        ("PROMPTS_URI", "prompts.json"),
    ):
        monkeypatch.setenv(f"BUCKETLENS_{option}", f"s3://{MANIFESTS}/models/{name}")
    monkeypatch.setenv("BUCKETLENS_LABELER", "clip")
    monkeypatch.setenv("BUCKETLENS_VECTOR_BUCKET", "bl-vectors")
    event = uploads["event"] if route == "notification" else _as_eventbridge(uploads["event"])
    # when the handler runs
    response = handler.handler(event, LambdaContext(DEPLOYED_TIMEOUT_S))
    # then every image was labelled from the prompts in the Lambda, with no Batch job and no Rekognition call
    assert response == {"batchItemFailures": []}
    assert [key for key in _manifests(uploads["s3"]) if not key.startswith("models/")] == []
    results = _results(uploads["dynamodb"])
    jpegs = [k for k in results if k.lower().endswith(".jpg")]
    assert len(jpegs) == 3 and all(results[k]["status"]["S"] == "done" for k in jpegs)
    assert all(results[k]["features"]["S"].startswith("labels@clip,embed@") for k in jpegs)
    assert all(results[k]["labels"]["L"][0]["M"]["name"]["S"] == "Red" for k in jpegs)  # red test images
    # and each image's vector is in the model's index
    model = embeddings.load(files["image.onnx"], files["text.onnx"], files["tokenizer.json"], "image")
    store = clients.client("s3vectors")
    index = vectors.index_name(model.digest)
    assert all(vector_query.get(store, "bl-vectors", index, vectors.vector_key(IMAGES, k)) for k in jpegs)
