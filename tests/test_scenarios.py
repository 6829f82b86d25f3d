"""The promises under faults, end to end through tests/faults.py in front of moto: no image lost, none
paid for twice, the quota used without failing, bad input contained. Each scenario is bounded in time."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from job import cli
from job.core import clients, errors
from job.core.manifest import ObjectRef, write_manifest
from job.demo.pipeline import children_of
from job.worker import image as worker_image
from job.worker import labels, run
from job.worker.config import from_args
from lambda_submitter import handler
from tests import peak_rss
from tests.job.worker_helpers import BUCKET, RESULTS, TABLE, image_bytes, items, png_bomb, world
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = "bl-manifests"
QUEUE, DEFINITION = "bl-queue", "bl-worker"


def _config(**options):
    base = {
        "source": f"s3://{BUCKET}/in/",
        "table": TABLE,
        "workers": "4",
        "results_uri": f"s3://{RESULTS}/runs",
    }
    return from_args({**base, **options}, env={})


def _child_env(url: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_BATCH_JOB_ID="job-crash",
        AWS_BATCH_JOB_ARRAY_INDEX="0",
        BUCKETLENS_TABLE=TABLE,
        BUCKETLENS_RESULTS_URI=f"s3://{RESULTS}/runs",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _labelled_versions(layer) -> Counter:
    """(key, version) of every DetectLabels call that reached Rekognition, from the recorded bodies."""
    named = Counter()
    for _, body in layer.recorded("Rekognition.DetectLabels"):
        image = json.loads(body)["Image"].get("S3Object", {})
        named[(image.get("Name"), image.get("Version"))] += 1
    return named


# --- crash and rerun -----------------------------------------------------------------------------------


def test_kill_9_mid_shard_then_rerun_labels_each_image_once_plus_at_most_the_in_flight(fault_server):
    # given 24 images and a slow Rekognition, and a child with 4 worker threads
    keys = {f"in/k{i:02d}.jpg": image_bytes("JPEG", color=(i * 9, 50, 0)) for i in range(24)}
    world(keys)
    layer = fault_server.layer
    layer.set("Rekognition.DetectLabels", latency=0.4)
    cmd = [sys.executable, "-m", "job", "run", "--source", f"s3://{BUCKET}/in/", "--workers", "4"]
    proc = subprocess.Popen(cmd, env=_child_env(fault_server.url), cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        # when it is killed with SIGKILL once some images are labelled
        wait_for(lambda: layer.count("Rekognition.DetectLabels", "calls") >= 8)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    before = layer.count("Rekognition.DetectLabels", "calls")
    stored_at_kill = len(items())
    layer.set("Rekognition.DetectLabels", latency=0.0)
    # and the child runs again (Batch's retry)
    rerun = subprocess.run(cmd, env=_child_env(fault_server.url), cwd=ROOT, capture_output=True, timeout=120)
    # then every image has exactly one done result
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    got = items()
    assert sorted(got) == sorted(keys) and {v["status"] for v in got.values()} == {"done"}
    # and Rekognition was paid at most once per image plus once per thread in flight at the kill
    total = layer.count("Rekognition.DetectLabels", "calls")
    assert stored_at_kill < len(keys)
    assert total - len(keys) <= 4, (before, total)


# --- event storms and redelivery ----------------------------------------------------------------------


def _batch_world(url: str) -> None:
    """Buckets, table and a Batch queue + job definition in the emulator, as Terraform would make them."""
    import urllib.request

    config = {"batch": {"use_docker": False}, "lambda": {"use_docker": False}}
    request = urllib.request.Request(
        f"{url}/moto-api/config", data=json.dumps(config).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()
    world({})
    s3 = clients.client("s3")
    s3.create_bucket(Bucket=MANIFESTS)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    iam = clients.client("iam")
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = clients.client("batch")
    env_arn = batch.create_compute_environment(
        computeEnvironmentName="bl-compute", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env_arn}],
    )
    from job.demo import emulator

    batch.register_job_definition(
        jobDefinitionName=DEFINITION,
        type="container",
        parameters={"shards": "1", "shard_offset": "0", "features": "labels"},
        containerProperties={
            "image": "bucketlens:test",
            "vcpus": 1,
            "memory": 512,
            "command": list(emulator.JOB_COMMAND),
            "environment": [
                {"name": "BUCKETLENS_TABLE", "value": TABLE},
                {"name": "BUCKETLENS_WORKERS", "value": "2"},
            ],
        },
    )


def _submitter_env(monkeypatch) -> None:
    for name, value in {
        "BUCKETLENS_JOB_QUEUE": QUEUE,
        "BUCKETLENS_JOB_DEFINITION": DEFINITION,
        "BUCKETLENS_MANIFESTS_BUCKET": MANIFESTS,
        "BUCKETLENS_TABLE": TABLE,
        "BUCKETLENS_FEATURES": "labels",
        "BUCKETLENS_SHARD_SIZE": "4",
    }.items():
        monkeypatch.setenv(name, value)


def _s3_record(
    name: str, key: str, version: str, etag: str | None, size: int, sequencer: int, when: float
) -> dict:
    obj = {"key": key, "versionId": version, "sequencer": f"{sequencer:018X}"}
    if etag is not None:
        obj.update(eTag=etag, size=size)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}Z"
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": stamp,
        "eventName": name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": obj,
        },
    }


def _sqs_batch(records: list[dict], start: int) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m-{start + i}",
                "receiptHandle": f"r-{start + i}",
                "body": json.dumps({"Records": [record]}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bl-events",
            }
            for i, record in enumerate(records)
        ]
    }


def _history(s3) -> list[dict]:
    """Puts, overwrites, deletes and re-creates on three keys; an S3 event record for each."""
    sequencer, records, now = 0, [], time.time()

    def put(key: str, shade: int) -> None:
        nonlocal sequencer
        body = image_bytes("JPEG", color=(shade % 256, (shade * 7) % 256, 90))
        answer = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        sequencer += 1
        etag = answer["ETag"].strip('"')
        records.append(
            _s3_record(
                "ObjectCreated:Put",
                key,
                answer["VersionId"],
                etag,
                len(body),
                sequencer,
                now + sequencer / 1000,
            )
        )

    def delete(key: str) -> None:
        nonlocal sequencer
        answer = s3.delete_object(Bucket=BUCKET, Key=key)
        sequencer += 1
        records.append(
            _s3_record(
                "ObjectRemoved:DeleteMarkerCreated",
                key,
                answer["VersionId"],
                None,
                0,
                sequencer,
                now + sequencer / 1000,
            )
        )

    for shade in range(50):  # created, then overwritten 49 times
        put("in/storm.jpg", shade)
    delete("in/storm.jpg")
    put("in/storm.jpg", 200)  # re-created
    for shade in range(5):
        put("in/gone.jpg", shade)
    delete("in/gone.jpg")
    for shade in range(3):
        put("in/kept.jpg", shade)
    return records


def test_event_storm_ends_in_the_buckets_final_state_with_each_version_labelled_at_most_once(
    fault_server, monkeypatch
):
    # given a versioned bucket whose objects were created 50 times, overwritten, deleted and re-created
    _batch_world(fault_server.url)
    _submitter_env(monkeypatch)
    s3 = clients.client("s3")
    records = _history(s3)
    # and the events arrive duplicated and shuffled, ten to an SQS batch
    storm = records * 2
    random.Random(7).shuffle(storm)
    layer = fault_server.layer
    layer.record("Rekognition.DetectLabels")
    job_ids: list[str] = []
    # when the submitter handles every batch
    for start in range(0, len(storm), 10):
        response = handler.handler(_sqs_batch(storm[start : start + 10], start), None)
        assert response == {"batchItemFailures": []}
    listed = clients.client("batch").list_jobs(
        jobQueue=QUEUE, filters=[{"name": "JOB_NAME", "values": ["*"]}]
    )
    job_ids = [j["jobId"] for j in listed["jobSummaryList"] if ":" not in j["jobId"]]
    assert job_ids
    # and every array child runs, in an arbitrary order
    children = children_of(clients.client("batch"), job_ids, {})
    random.Random(3).shuffle(children)
    for child in children:
        env = dict(child.env)
        for name in (
            "AWS_BATCH_JOB_ID",
            "AWS_BATCH_JOB_ARRAY_INDEX",
            "BUCKETLENS_TABLE",
            "BUCKETLENS_WORKERS",
        ):
            if name in env:
                monkeypatch.setenv(name, env[name])
            else:
                monkeypatch.delenv(name, raising=False)
        assert cli.main(list(child.argv[3:])) == errors.EXIT_OK
    # then the table equals the bucket's final state
    got = items()
    versions = s3.list_object_versions(Bucket=BUCKET)
    current = {v["Key"]: v for v in versions.get("Versions", []) if v["IsLatest"]}
    removed = {m["Key"] for m in versions.get("DeleteMarkers", []) if m["IsLatest"]}
    assert set(current) == {"in/storm.jpg", "in/kept.jpg"} and removed == {"in/gone.jpg"}
    for key, version in current.items():
        assert got[key]["status"] == "done" and got[key]["version_id"] == version["VersionId"], key
        assert got[key]["etag"] == version["ETag"].strip('"')
    assert got["in/gone.jpg"]["status"] == "deleted"
    # and no object version was labelled twice
    labelled = _labelled_versions(layer)
    assert labelled and max(labelled.values()) == 1, labelled.most_common(3)


def test_a_batch_delivered_three_times_submits_one_job(fault_server, monkeypatch):
    # given a batch of creates
    _batch_world(fault_server.url)
    _submitter_env(monkeypatch)
    s3 = clients.client("s3")
    records = []
    for i in range(3):
        body = image_bytes("JPEG", color=(i * 60, 0, 0))
        answer = s3.put_object(Bucket=BUCKET, Key=f"in/r{i}.jpg", Body=body)
        records.append(
            _s3_record(
                "ObjectCreated:Put",
                f"in/r{i}.jpg",
                answer["VersionId"],
                answer["ETag"].strip('"'),
                len(body),
                i + 1,
                time.time(),
            )
        )
    event = _sqs_batch(records, 0)
    # when SQS delivers it three times (a visibility timeout ran out twice)
    answers = [handler.handler(json.loads(json.dumps(event)), None) for _ in range(3)]
    # then each delivery succeeds and exactly one job was submitted
    assert answers == [{"batchItemFailures": []}] * 3
    submits = {
        op: n for op, n in fault_server.layer.counts("passed").items() if op.lower().endswith("/submitjob")
    }
    assert sum(submits.values()) == 1, submits


# --- throttling storm, outages -------------------------------------------------------------------------


def test_throttling_storm_finishes_every_image_with_no_error(fault_server, monkeypatch):
    """Half of the first 60 DetectLabels calls are throttled: a storm measured in calls, not seconds, so a
    loaded machine meets the same storm (bench/faults_bench.py runs a full minute at the quota)."""
    # given 30 images
    world({f"in/t{i:02d}.jpg": image_bytes("JPEG", color=(i * 8, 0, 0)) for i in range(30)})
    monkeypatch.setattr(labels, "RETRY_CAP", 2.0)
    layer = fault_server.layer
    layer.set("Rekognition.DetectLabels", for_calls=60, error_rate=0.5, error="throttle", latency=0.05)
    # when the child runs through the storm
    code = run.run(_config())
    # then every image is done, none is an error, and the storm really throttled calls
    assert code == errors.EXIT_OK
    got = items()
    assert len(got) == 30 and {v["status"] for v in got.values()} == {"done"}
    assert layer.count("Rekognition.DetectLabels", "throttled") >= 10


def test_table_outage_past_the_retry_budget_exits_75_and_the_rerun_pays_nothing_twice(
    fault_server, monkeypatch
):
    """DynamoDB answers 503 or drops the connection for 30 s mid-shard (the issue's outage). In production a child rides out
    minutes (botocore's 8 attempts, then 5 backed-off image retries up to 20 s each); the test shrinks
    that budget so the outage outlasts it."""
    # given 20 images and a child with a small retry budget
    world({f"in/o{i:02d}.jpg": image_bytes("JPEG", color=(0, i * 10, 0)) for i in range(20)})
    monkeypatch.setattr(worker_image, "DEFAULT_PATIENCE", worker_image.Patience(tries=2, max_wait=0.2))
    backends = run.Backends(
        s3=clients.client("s3"),
        ddb=clients.client("dynamodb", max_attempts=2),
        rekognition=clients.client("rekognition", max_attempts=0),
    )
    layer = fault_server.layer
    layer.set("Rekognition.DetectLabels", latency=0.3)
    codes: list[int] = []
    child = threading.Thread(target=lambda: codes.append(run.run(_config(), backends)))
    # when the table fails from the moment the fourth image is stored, for 30 s
    outage = ("DynamoDB.PutItem", 4)
    layer.set("DynamoDB.*", for_seconds=30.0, after=outage, error_rate=0.7, error="503")
    layer.set("DynamoDB.PutItem", for_seconds=30.0, after=outage, error_rate=1.0, error="drop")
    child.start()
    child.join(timeout=300)  # a hang guard only: the child gives up within seconds of the outage
    assert not child.is_alive()
    # then the child exits 75 and keeps what it had paid for
    assert codes == [errors.EXIT_TRANSIENT]
    paid_first = layer.count("Rekognition.DetectLabels")
    pending = clients.client("s3").get_object(Bucket=RESULTS, Key="runs/local/0.pending.json")["Body"].read()
    kept = len(json.loads(pending))
    # and once the outage is over the retry completes
    wait_for(lambda: not _outage(layer))
    stored_before = len(items())
    assert kept >= 1 and stored_before < 20
    assert run.run(_config(), backends) == errors.EXIT_OK
    got = items()
    assert len(got) == 20 and {v["status"] for v in got.values()} == {"done"}
    # and no image was labelled twice
    assert layer.count("Rekognition.DetectLabels") == 20, paid_first


def _outage(layer) -> bool:
    return any(r.until is not None and time.monotonic() < r.until for r in layer.rules.values())


# --- hostile inputs --------------------------------------------------------------------------------------

RSS_BOUND_MB = 900  # two decodes at once (the CPU count here) of a 200 MP JPEG drafted to 50 MP, plus Python


def _huge_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (16384, 12288), 128).save(buf, "JPEG", quality=50)  # 201 MP
    return buf.getvalue()


def _ifd_loop_jpeg() -> bytes:
    """A JPEG whose EXIF IFD0 names itself as the next IFD: a naive reader never ends."""
    import struct

    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0x010F, 2, 4, 0x43616E00) + struct.pack(">I", 8)
    app1 = b"Exif\x00\x00" + tiff + ifd
    body = image_bytes("JPEG")
    return body[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + body[2:]


def test_hostile_inputs_are_contained_in_bounded_memory_and_time(fault_server, tmp_path):
    # given every kind of hostile object, one of them claiming 2 GiB (an inventory row over a small body:
    # the emulator would have to hold the 2 GB)
    real = image_bytes("JPEG")
    objects = {
        "in/h/zero.jpg": b"",
        "in/h/truncated.jpg": real[:100],  # cut inside the headers: no frame size
        "in/h/truncated-scan.jpg": real[: len(real) - 200],  # cut inside the scan data
        "in/h/text.jpg": b"GIF89a? no: plain text named like a photo\n" * 20,
        "in/h/bomb.png": png_bomb(100_000, 100_000),
        "in/h/200mp.jpg": _huge_jpeg(),
        "in/h/ifd-loop.jpg": _ifd_loop_jpeg(),
        "in/h/claims-2gb.jpg": real,
    }
    world(objects)
    s3 = clients.client("s3")
    s3.create_bucket(Bucket=MANIFESTS)
    refs = []
    for key in objects:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        size = 2 * 1024**3 if key.endswith("claims-2gb.jpg") else head["ContentLength"]
        refs.append(ObjectRef(BUCKET, key, etag=head["ETag"].strip('"'), size=size))
    write_manifest(
        lambda key, body: s3.put_object(Bucket=MANIFESTS, Key=key, Body=body), "m/hostile", "hostile", refs
    )
    # when a child process runs the shard
    cmd = [sys.executable, "-m", "job", "run", "--source", f"s3://{MANIFESTS}/m/hostile/manifest.json"]
    log_path = tmp_path / "child.log"
    with open(log_path, "wb") as log_file:
        child = peak_rss.run(cmd, _child_env(fault_server.url, BUCKETLENS_WORKERS="4"), ROOT, 300, log_file)
    # then the shard finishes, every object has a result row, and memory and time stayed bounded
    assert child.exit == 0, log_path.read_text()[-2000:]
    got = items()
    assert sorted(got) == sorted(objects)
    outcome = {key: (row["status"], row.get("error_class")) for key, row in got.items()}
    assert outcome["in/h/200mp.jpg"] == ("done", None)  # scaled, then labelled
    assert got["in/h/200mp.jpg"]["rekognition_input"] == "bytes"
    assert outcome["in/h/ifd-loop.jpg"][0] == "done"
    assert outcome["in/h/claims-2gb.jpg"] == ("error", "TooLarge")
    # a JPEG cut inside its scan data still has its frame: Rekognition judges it (moto's answer is canned)
    assert outcome["in/h/truncated-scan.jpg"][0] in ("done", "error")
    for key in ("zero", "truncated", "text", "bomb"):
        status, error_class = outcome[f"in/h/{key}.jpg" if key != "bomb" else "in/h/bomb.png"]
        assert status == "error" and error_class, key
    print(f"hostile shard: peak RSS {child.peak_rss_mb:.0f} MB, {child.wall_s:.1f} s")  # README figures (-s)
    assert child.peak_rss_mb < RSS_BOUND_MB, f"peak RSS {child.peak_rss_mb:.0f} MB"


@pytest.fixture(autouse=True)
def _quiet_werkzeug():
    """Dropped connections make werkzeug log a traceback per request; the counts are what matter."""
    import logging

    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)
