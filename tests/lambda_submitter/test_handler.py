"""The Lambda handler end to end on moto: SQS batches, duplicates, ordering, failures, inventory, config."""

from __future__ import annotations

import copy
import json

import pytest

from job.core import clients
from job.core import manifest as manifest_format
from job.core.errors import ConfigError
from job.core.manifest import split_s3_uri
from job.core.ordering import pad_sequencer
from lambda_submitter import handler, submit
from tests.lambda_submitter.conftest import EVENTS, IMAGES, INVENTORY, TABLE, job_details, load_event


def _keys_in(s3, manifest_uri: str) -> list[str]:
    bucket, key = split_s3_uri(manifest_uri)
    manifest = manifest_format.Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    keys = []
    for index in range(len(manifest.shards)):
        name = manifest_format.shard_key(key, manifest, index)
        keys += [
            r.key for r in manifest_format.decode_shard(s3.get_object(Bucket=bucket, Key=name)["Body"].read())
        ]
    return keys


def _state(ddb, key: str) -> dict | None:
    return ddb.get_item(TableName=TABLE, Key={"bucket": {"S": IMAGES}, "key": {"S": key}}).get("Item")


def test_created_events_become_one_array_job(stack: dict) -> None:
    # given an SQS batch of four creates, three of them images
    event = load_event("sqs_object_created.json")
    # when handled
    response = handler.handler(event, None)
    # then nothing failed, and one job over a manifest of the three decoded image keys was submitted
    assert response == {"batchItemFailures": []}
    listing = stack["s3"].list_objects_v2(Bucket="bucketlens-manifests")["Contents"]
    manifests = [o["Key"] for o in listing if o["Key"].endswith("/manifest.json")]
    assert len(manifests) == 1
    keys = _keys_in(stack["s3"], f"s3://bucketlens-manifests/{manifests[0]}")
    assert sorted(keys) == [
        "photos/2026/01/01/deep/nested/café 写真.JPG",
        "photos/a+b.jpg",
        "photos/red flower.jpg",
    ]
    submitted = json.loads(
        stack["s3"]
        .get_object(
            Bucket="bucketlens-manifests", Key=manifests[0].replace("/manifest.json", "/submitted.json")
        )["Body"]
        .read()
    )
    (job,) = job_details(stack["batch"], submitted["job_ids"])
    assert job["arrayProperties"]["size"] == 2  # three images, shard size 2


def test_redelivered_batch_submits_nothing_new(stack: dict) -> None:
    # given a batch already handled
    event = load_event("sqs_object_created.json")
    handler.handler(event, None)
    # when SQS delivers the same batch again
    response = handler.handler(copy.deepcopy(event), None)
    # then it succeeds and the queue still holds one parent job
    assert response == {"batchItemFailures": []}
    listed = stack["batch"].list_jobs(
        jobQueue="bucketlens-queue", filters=[{"name": "JOB_NAME", "values": ["*"]}]
    )
    assert len({j["jobId"] for j in listed["jobSummaryList"] if ":" not in j["jobId"]}) == 1


def test_test_event_is_acknowledged(stack: dict) -> None:
    # given the s3:TestEvent, when handled, then it succeeds and submits nothing
    assert handler.handler(load_event("sqs_test_event.json"), None) == {"batchItemFailures": []}
    assert "Contents" not in stack["s3"].list_objects_v2(Bucket="bucketlens-manifests")


def test_delete_then_late_create_does_not_resurrect(stack: dict) -> None:
    # given a delete of red flower.jpg (sequencer ...F0) already handled
    assert handler.handler(load_event("sqs_object_removed.json"), None) == {"batchItemFailures": []}
    assert _state(stack["dynamodb"], "photos/red flower.jpg")["status"]["S"] == "deleted"
    # when the older create (sequencer ...E5) arrives late, alone
    created = load_event("sqs_object_created.json")
    created["Records"] = created["Records"][:1]
    assert handler.handler(created, None) == {"batchItemFailures": []}
    # then no job is submitted for it and the tombstone stands
    assert "Contents" not in stack["s3"].list_objects_v2(Bucket="bucketlens-manifests")
    assert _state(stack["dynamodb"], "photos/red flower.jpg")["status"]["S"] == "deleted"


def test_create_and_newer_delete_in_one_batch_is_only_a_delete(stack: dict) -> None:
    # given one batch holding the create and the later delete of the same key
    created = load_event("sqs_object_created.json")["Records"][:1]
    removed = load_event("sqs_object_removed.json")["Records"]
    # when handled
    response = handler.handler({"Records": removed + created}, None)
    # then the key is a tombstone and no job was submitted
    assert response == {"batchItemFailures": []}
    assert _state(stack["dynamodb"], "photos/red flower.jpg")["status"]["S"] == "deleted"
    assert "Contents" not in stack["s3"].list_objects_v2(Bucket="bucketlens-manifests")


def test_partial_batch_failure_names_only_the_failed_messages(stack: dict, monkeypatch) -> None:
    # given a batch with an unreadable message and a delete whose table write fails
    created = load_event("sqs_object_created.json")["Records"][:2]
    removed = load_event("sqs_object_removed.json")["Records"][0]
    removed_other = copy.deepcopy(removed)
    removed_other["messageId"] = "delete-that-fails"
    body = json.loads(removed_other["body"])
    body["Records"][0]["s3"]["object"]["key"] = "photos/other.jpg"
    removed_other["body"] = json.dumps(body)
    garbage = {**created[0], "messageId": "garbage", "body": "{not json"}
    real = handler.triggers.deletions.write_tombstone

    def flaky(ddb, table, event):
        if event.key == "photos/other.jpg":
            raise RuntimeError("DynamoDB unavailable")
        return real(ddb, table, event)

    monkeypatch.setattr(handler.triggers.deletions, "write_tombstone", flaky)
    # when handled (created[0] and removed touch the same key: the delete is newer)
    response = handler.handler({"Records": [created[1], garbage, removed_other]}, None)
    # then exactly the two bad messages are reported, in the documented shape
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == [
        "delete-that-fails",
        "garbage",
    ]


def test_failed_submission_fails_the_create_messages(stack: dict, monkeypatch) -> None:
    # given Batch refusing every submission
    def refuse(*args, **kwargs):
        raise RuntimeError("Batch down")

    monkeypatch.setattr(submit, "submit_manifest", refuse)
    event = load_event("sqs_object_created.json")
    # when handled
    response = handler.handler(event, None)
    # then the three image messages are failed and the text-file message is not
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {r["messageId"] for r in event["Records"][:3]}


def _upload_inventory(s3) -> None:
    s3.put_object(
        Bucket=INVENTORY,
        Key="bucketlens-images/bucketlens/2026-01-02T01-00Z/manifest.json",
        Body=(EVENTS / "inventory_manifest.json").read_bytes(),
    )
    for name in ("inventory-data-1.csv.gz", "inventory-data-2.csv.gz"):
        s3.put_object(
            Bucket=INVENTORY,
            Key=f"bucketlens-images/bucketlens/data/{name}",
            Body=(EVENTS / name).read_bytes(),
        )


def test_inventory_report_becomes_a_job_once(stack: dict) -> None:
    # given an inventory report with two gzip data files in the inventory bucket
    _upload_inventory(stack["s3"])
    event = load_event("s3_inventory_manifest_created.json")
    # when its manifest.json notification arrives twice
    first = handler.handler(event, None)
    second = handler.handler(copy.deepcopy(event), None)
    # then one job covers the current images of both files (the empty one's result will be an error)
    (summary,) = first["submissions"]
    assert summary["images"] == 6 and summary["shards"] == 3
    assert second["submissions"][0]["job_ids"] == summary["job_ids"]
    assert sorted(_keys_in(stack["s3"], summary["manifest"])) == [
        "photos/2026/deep/nested/IMG_0001.HEIC",
        "photos/a+b.jpg",
        "photos/café 写真.JPG",
        "photos/empty.png",
        "photos/red flower.jpg",
        "photos/with,comma.png",
    ]


def test_backfill_request_uses_the_request_id(stack: dict) -> None:
    # given two images and a text file under a prefix
    s3 = stack["s3"]
    for key in ("p/a.jpg", "p/b c.png", "p/notes.txt", "other/x.jpg"):
        s3.put_object(Bucket=IMAGES, Key=key, Body=b"x")

    class Context:
        aws_request_id = "req-1"

    # when the same request is retried and then a new one is made
    first = handler.handler({"bucket": IMAGES, "prefix": "p/"}, Context())
    retry = handler.handler({"bucket": IMAGES, "prefix": "p/"}, Context())
    Context.aws_request_id = "req-2"
    later = handler.handler({"bucket": IMAGES, "prefix": "p/"}, Context())
    # then the retry matches the first submission and the new request submits again
    assert first["images"] == 2 and sorted(_keys_in(s3, first["manifest"])) == ["p/a.jpg", "p/b c.png"]
    assert retry["job_ids"] == first["job_ids"]
    assert later["job_ids"] != first["job_ids"]


def test_missing_configuration_names_the_variables(monkeypatch) -> None:
    # given no BUCKETLENS_* variables
    for name in ("BUCKETLENS_JOB_QUEUE", "BUCKETLENS_JOB_DEFINITION", "BUCKETLENS_MANIFESTS_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    clients.reset()
    # when invoked, then the error names them
    with pytest.raises(
        ConfigError, match="BUCKETLENS_JOB_QUEUE.*BUCKETLENS_JOB_DEFINITION.*BUCKETLENS_MANIFESTS_BUCKET"
    ):
        handler.handler(load_event("sqs_test_event.json"), None)


def test_unknown_event_is_refused(stack: dict) -> None:
    # given an event of no known kind, then the handler says what it expects
    with pytest.raises(ValueError, match="unknown event"):
        handler.handler({"hello": "world"}, None)


def _poll_once(sqs, queue_url: str) -> dict:
    """What the Lambda event source mapping does: receive, invoke, delete the records not reported failed."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bucketlens-events",
        }
        for m in messages
    ]
    response = handler.handler({"Records": records}, None) if records else {"batchItemFailures": []}
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return {"received": len(messages), "failed": failed}


def test_poison_message_reaches_the_dead_letter_queue_through_redrive(stack: dict) -> None:
    # given the events queue with a DLQ after 2 receives, holding a good create and a poison message
    sqs = clients.client("sqs")
    dlq = sqs.create_queue(QueueName="bucketlens-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="bucketlens-events",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})},
    )["QueueUrl"]
    good = load_event("sqs_object_created.json")["Records"][0]["body"]
    sqs.send_message(QueueUrl=queue, MessageBody=good)
    sqs.send_message(QueueUrl=queue, MessageBody='{"not": "an S3 event"}')
    # when the event source mapping polls until the queue is empty (bounded)
    polls = [_poll_once(sqs, queue) for _ in range(4)]
    # then the good message was processed and deleted on the first poll, the poison one failed each time
    # it was received and then moved to the DLQ
    assert polls[0]["received"] == 2 and len(polls[0]["failed"]) == 1
    assert polls[-1]["received"] == 0
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ['{"not": "an S3 event"}']
    listing = stack["s3"].list_objects_v2(Bucket="bucketlens-manifests")["Contents"]
    assert any(o["Key"].endswith("/submitted.json") for o in listing)


def _version_delete(key: str, version_id: str, sequencer: str) -> dict:
    """The SQS record S3 sends for `DELETE ?versionId=` (a permanent delete of one version)."""
    body = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": "2026-01-01T12:00:00.000Z",
                "eventName": "ObjectRemoved:Delete",
                "s3": {
                    "bucket": {"name": IMAGES},
                    "object": {"key": key, "versionId": version_id, "sequencer": sequencer},
                },
            }
        ]
    }
    return {"Records": [{"messageId": f"m-{sequencer}", "eventSource": "aws:sqs", "body": json.dumps(body)}]}


def test_deleting_the_current_version_indexes_the_one_that_becomes_current(stack: dict) -> None:
    # given a versioned bucket with v1 and v2 of one image, v2 current and indexed
    s3, ddb = stack["s3"], stack["dynamodb"]
    s3.put_bucket_versioning(Bucket=IMAGES, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=IMAGES, Key="v.jpg", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=IMAGES, Key="v.jpg", Body=b"two")["VersionId"]
    ddb.put_item(
        TableName=TABLE,
        Item={
            "bucket": {"S": IMAGES}, "key": {"S": "v.jpg"}, "status": {"S": "done"}, "version_id": {"S": v2},
            "sequencer": {"S": "0B".ljust(64, "0")}, "order_time": {"S": "2026-01-01T11:00:00.000Z"},
        },
    )  # fmt: skip
    s3.delete_object(Bucket=IMAGES, Key="v.jpg", VersionId=v2)
    # when the permanent delete of v2 arrives
    response = handler.handler(_version_delete("v.jpg", v2, "0C"), None)
    # then v1, current again, is submitted as work carrying the delete's sequencer; no tombstone
    assert response == {"batchItemFailures": []}
    assert _state(ddb, "v.jpg")["status"]["S"] == "done"
    manifests = s3.list_objects_v2(Bucket="bucketlens-manifests")["Contents"]
    manifest_key = next(o["Key"] for o in manifests if o["Key"].endswith("manifest.json"))
    manifest = manifest_format.Manifest.from_json(
        s3.get_object(Bucket="bucketlens-manifests", Key=manifest_key)["Body"].read()
    )
    shard = manifest_format.shard_key(manifest_key, manifest, 0)
    (ref,) = manifest_format.decode_shard(
        s3.get_object(Bucket="bucketlens-manifests", Key=shard)["Body"].read()
    )
    assert (ref.key, ref.version_id, ref.sequencer) == ("v.jpg", v1, "0C")


def test_deleting_the_last_version_tombstones_the_key(stack: dict) -> None:
    # given a versioned bucket whose only version of an image is indexed
    s3, ddb = stack["s3"], stack["dynamodb"]
    s3.put_bucket_versioning(Bucket=IMAGES, VersioningConfiguration={"Status": "Enabled"})
    only = s3.put_object(Bucket=IMAGES, Key="w.jpg", Body=b"one")["VersionId"]
    ddb.put_item(
        TableName=TABLE,
        Item={
            "bucket": {"S": IMAGES}, "key": {"S": "w.jpg"}, "status": {"S": "done"}, "version_id": {"S": "other"},
            "sequencer": {"S": "0B".ljust(64, "0")}, "order_time": {"S": "2026-01-01T11:00:00.000Z"},
        },
    )  # fmt: skip
    s3.delete_object(Bucket=IMAGES, Key="w.jpg", VersionId=only)
    # when that permanent delete arrives
    assert handler.handler(_version_delete("w.jpg", only, "0C"), None) == {"batchItemFailures": []}
    # then nothing is left of the key, so it is a tombstone whatever version was stored
    assert _state(ddb, "w.jpg")["status"]["S"] == "deleted"


def test_a_deleted_image_leaves_the_label_index(stack: dict) -> None:
    # given the label index holding red flower.jpg under two labels, and another image
    from job.commands import provision
    from job.core import label_index

    table = label_index.table_name(TABLE)
    provision.ensure_table(stack["dynamodb"], table, definition=label_index.TABLE_DEFINITION)
    for key in ("photos/red flower.jpg", "photos/kept.jpg"):
        item = {
            "bucket": IMAGES,
            "key": key,
            "status": "done",
            "etag": "e",
            "labels": [{"name": "Flower", "confidence": 97}, {"name": "Plant", "confidence": 90}],
        }
        label_index.update(stack["dynamodb"], table, item)
    # when its delete event is handled
    assert handler.handler(load_event("sqs_object_removed.json"), None) == {"batchItemFailures": []}
    # then its rows are gone and the other image's stay
    assert [r["key"] for r in label_index.query(stack["dynamodb"], table, "Flower")] == ["photos/kept.jpg"]
    assert label_index.indexed_labels(stack["dynamodb"], table, f"{IMAGES}/photos/red flower.jpg") == set()


@pytest.mark.parametrize("embeddings", [False, True], ids=["documents", "with-vectors"])
def test_a_deleted_image_leaves_opensearch_when_configured(stack: dict, monkeypatch, embeddings) -> None:
    # given an OpenSearch endpoint in the submitter's environment, and with embeddings a vector bucket
    from lambda_submitter import search_delete

    monkeypatch.setenv("BUCKETLENS_OPENSEARCH_ENDPOINT", "https://search-bl.example.com")
    if embeddings:
        monkeypatch.setenv("BUCKETLENS_VECTOR_BUCKET", "bl-vectors")
    deleted = []
    monkeypatch.setattr(
        search_delete, "delete", lambda endpoint, index, doc, *a, **k: deleted.append((endpoint, index, doc))
    )
    # when a delete event is handled
    assert handler.handler(load_event("sqs_object_removed.json"), None) == {"batchItemFailures": []}
    # then the image's document was deleted from the configured index, and its vector's from the k-NN index
    doc = search_delete.doc_id(IMAGES, "photos/red flower.jpg")
    indexes = ["bucketlens", "bucketlens-vectors"] if embeddings else ["bucketlens"]
    assert deleted == [("https://search-bl.example.com", index, doc) for index in indexes]


def _eventbridge(sample: str, key: str, sequencer: str, **detail: str) -> dict:
    """S3's published EventBridge sample for our bucket and key, as the SQS target delivers it (the body)."""
    body = load_event(sample)
    body["detail"]["bucket"]["name"] = IMAGES
    body["detail"]["object"].update(key=key, sequencer=sequencer)
    body["detail"].update(detail)
    return {"messageId": f"eb-{sequencer}", "eventSource": "aws:sqs", "body": json.dumps(body)}


def _submitted_keys(s3) -> list[str]:
    listing = s3.list_objects_v2(Bucket="bucketlens-manifests").get("Contents", [])
    manifests = [o["Key"] for o in listing if o["Key"].endswith("/manifest.json")]
    return sorted(k for m in manifests for k in _keys_in(s3, f"s3://bucketlens-manifests/{m}"))


def test_eventbridge_events_are_indexed_and_removed_like_notifications(stack: dict) -> None:
    # given an upload and, later, its deletion delivered through EventBridge (an unversioned bucket: the
    # delete is "Permanently Deleted"), keys with a space and a plus as EventBridge sends them (not encoded)
    created = _eventbridge("eventbridge_object_created.json", "eb/red flower+1.jpg", "0000000000000010")
    stack["s3"].put_object(Bucket=IMAGES, Key="eb/red flower+1.jpg", Body=b"jpeg")
    # when the create is handled / then one job covers that very key
    assert handler.handler({"Records": [created]}, None) == {"batchItemFailures": []}
    assert _submitted_keys(stack["s3"]) == ["eb/red flower+1.jpg"]
    # when the deletion arrives / then the key is tombstoned with the deletion's sequencer
    deleted = _eventbridge(
        "eventbridge_object_deleted.json",
        "eb/red flower+1.jpg",
        "0000000000000020",
        **{"deletion-type": "Permanently Deleted"},
    )
    deleted_body = json.loads(deleted["body"])
    del deleted_body["detail"]["object"]["version-id"]
    deleted["body"] = json.dumps(deleted_body)
    assert handler.handler({"Records": [deleted]}, None) == {"batchItemFailures": []}
    state = _state(stack["dynamodb"], "eb/red flower+1.jpg")
    assert state["status"]["S"] == "deleted" and state["sequencer"]["S"] == pad_sequencer("0000000000000020")
    # and a late copy of the older create changes nothing: no second job
    assert handler.handler({"Records": [created]}, None) == {"batchItemFailures": []}
    assert _submitted_keys(stack["s3"]) == ["eb/red flower+1.jpg"]
    assert _state(stack["dynamodb"], "eb/red flower+1.jpg")["status"]["S"] == "deleted"


@pytest.mark.parametrize("route", ["notification", "eventbridge"])
def test_a_lifecycle_expiration_tombstones_the_image(stack: dict, route: str) -> None:
    # given an image whose current version a lifecycle rule expired: S3 sends
    # LifecycleExpiration:DeleteMarkerCreated, or EventBridge "Object Deleted" with reason "Lifecycle Expiration"
    if route == "notification":
        body = load_event("s3_lifecycle_expiration_delete.json")
        body["Records"][0]["eventName"] = "LifecycleExpiration:DeleteMarkerCreated"
        body["Records"][0]["s3"]["bucket"]["name"] = IMAGES
        body["Records"][0]["s3"]["object"]["key"] = "old/expired.jpg"
        record = {"messageId": "lc-1", "eventSource": "aws:sqs", "body": json.dumps(body)}
    else:
        record = _eventbridge(
            "eventbridge_object_deleted_lifecycle.json", "old/expired.jpg", "0055AED6DCD90281E5"
        )
    # when handled
    assert handler.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    # then the image is a tombstone, no longer "done" forever
    assert _state(stack["dynamodb"], "old/expired.jpg")["status"]["S"] == "deleted"


def test_a_deleted_image_leaves_every_embedding_index_when_configured(stack: dict, monkeypatch) -> None:
    # given two models' indexes holding red flower.jpg's vector, and another image's
    from job.commands import vector_query
    from job.core import vectors
    from job.demo import vector_search

    vector_search.install()
    store = clients.client("s3vectors")
    gone, kept = (
        vectors.vector_key(IMAGES, "photos/red flower.jpg"),
        vectors.vector_key(IMAGES, "photos/kept.jpg"),
    )
    for model in ("a" * 64, "b" * 64):
        vectors.ensure_index(store, "bl-vectors", vectors.index_name(model), 2)
        vectors.put(
            store,
            "bl-vectors",
            vectors.index_name(model),
            [vectors.VectorRecord(k, (1.0, 0.0), {}) for k in (gone, kept)],
        )
    monkeypatch.setenv("BUCKETLENS_VECTOR_BUCKET", "bl-vectors")
    # when its delete event is handled
    assert handler.handler(load_event("sqs_object_removed.json"), None) == {"batchItemFailures": []}
    # then its vector is gone from both indexes and the other image's stays
    for model in ("a" * 64, "b" * 64):
        index = vectors.index_name(model)
        assert vector_query.get(store, "bl-vectors", index, gone) is None
        assert vector_query.get(store, "bl-vectors", index, kept) is not None
