"""The worker end to end: in-process moto for the logic, the fault layer for counts and faults, and
real `python -m job run` processes sharing one moto server."""

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

from job import cli, exif
from job.core import clients, errors
from job.worker import labels, run
from job.worker.config import from_args
from tests.job.worker_helpers import BUCKET, RESULTS, TABLE, image_bytes, items, png_bomb, run_summary, world
from tests.waiting import HANG_GUARD_S, wait_for

ROOT = Path(__file__).resolve().parents[3]
ODD_KEYS = [
    "in/with space/photo 1.jpg",
    "in/plus+sign+.jpg",
    "in/percent%20not-decoded%2F.png",
    "in/ünïcødé/日本語の写真.jpg",
    "in/" + "/".join(f"d{i}" for i in range(12)) + "/deep.png",
]


def _config(**options):
    base = {
        "source": f"s3://{BUCKET}/in/",
        "table": TABLE,
        "workers": "4",
        "results_uri": f"s3://{RESULTS}/runs",
    }
    return from_args({**base, **options}, env={})


def _corpus_objects() -> dict[str, bytes]:
    objects = {key: image_bytes("JPEG" if key.endswith(".jpg") else "PNG") for key in ODD_KEYS}
    objects.update(
        {
            "in/a.webp": image_bytes("WEBP"),
            "in/b.tiff": image_bytes("TIFF"),
            "in/c.heic": image_bytes("HEIF"),
            "in/d.avif": image_bytes("AVIF"),
            "in/notes.txt": b"not an image",
        }
    )
    return objects


def _hostile() -> dict[str, bytes]:
    return {
        "in/hostile/text-named.jpg": b"this is not a jpeg at all",
        "in/hostile/empty.png": b"",
        "in/hostile/bomb.png": png_bomb(),
        "in/hostile/truncated.webp": image_bytes("WEBP")[:30],
        "in/hostile/garbage.heic": b"\0\0\0\x18ftypheic\0\0\0\0heicmif1" + b"\xff" * 100,
    }


def test_every_format_and_odd_key_ends_done_and_hostile_images_are_recorded(aws):
    # given good images of every format under odd keys, hostile images and a text file
    world({**_corpus_objects(), **_hostile()})
    # when one child runs the prefix
    code = run.run(_config(features="labels,text"))
    # then it exits 0, every image is done, hostile ones are recorded errors, the text file is skipped
    assert code == errors.EXIT_OK
    got = items()
    good = [k for k in _corpus_objects() if not k.endswith(".txt")]
    assert sorted(k for k, v in got.items() if v["status"] == "done") == sorted(good)
    assert {k: v["error_class"] for k, v in got.items() if v["status"] == "error"} == {
        "in/hostile/text-named.jpg": "UnsupportedFormat",
        "in/hostile/empty.png": "EmptyFile",
        "in/hostile/bomb.png": "BadImage",
        "in/hostile/truncated.webp": "BadImage",
        "in/hostile/garbage.heic": "BadImage",
    }
    assert "in/notes.txt" not in got
    # and keys round-trip exactly
    for key in ODD_KEYS:
        assert got[key]["bucket"] == BUCKET and got[key]["key"] == key
    # and the item records what a user needs
    jpeg = got[ODD_KEYS[0]]
    assert jpeg["labels"][0]["name"] == "Mobile Phone" and jpeg["labels"][0]["parents"] == ["Phone"]
    assert jpeg["text"] and jpeg["label_model_version"] == "3.0" and jpeg["features"] == "labels,text"
    assert jpeg["exif"]["format"] == "JPEG" and jpeg["exif"]["width"] == 120
    assert jpeg["etag"] and jpeg["size"] > 0 and jpeg["last_modified"].endswith("Z") and jpeg["processed_at"]
    assert got["in/c.heic"]["rekognition_input"] == "bytes" and jpeg["rekognition_input"] == "s3"
    # and the summary counts outcomes
    summary = run_summary()
    assert summary["outcomes"]["done"] == len(good)
    assert summary["outcomes"]["error"] == 5 and summary["outcomes"]["skipped_not_image"] == 1
    assert summary["rekognition_calls"] == 2 * len(good)
    assert summary["bytes_read"] > 0 and summary["exit_code"] == 0


def test_camera_exif_from_the_corpus_lands_in_the_items(aws, corpus):
    # given up to 12 camera JPEGs with a make and model (per the extractor reading the local file)
    picked = {}
    for path in sorted(corpus.rglob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg") and path.stat().st_size < 3_000_000:
            record = exif.extract_file(path)
            if record.make and record.model and not record.error:
                picked[f"in/corpus/{len(picked):02d}-{path.name}"] = (path, record)
        if len(picked) == 12:
            break
    if not picked:
        pytest.skip("no camera JPEG with make and model in the corpus")
    world({key: path.read_bytes() for key, (path, _) in picked.items()})
    # when the child runs
    assert run.run(_config()) == errors.EXIT_OK
    # then each item carries the same EXIF fields the extractor reads from the file
    got = items()
    for key, (_, record) in picked.items():
        stored = got[key]["exif"]
        assert got[key]["status"] == "done"
        assert (stored["make"], stored["model"]) == (record.make, record.model)
        assert stored.get("datetime_original") == record.datetime_original
        assert (stored.get("width"), stored.get("height")) == (record.width, record.height)


def test_rerun_of_a_finished_shard_reads_nothing_and_calls_nothing(fault_server):
    # given a finished shard (through the counting fault layer)
    world({**_corpus_objects(), **_hostile()})
    assert run.run(_config()) == errors.EXIT_OK
    layer = fault_server.layer
    assert layer.count("Rekognition.DetectLabels") > 0 and layer.count("S3.GetObject") > 0
    layer.reset_counts()
    layer.record("S3.GetObject")
    # when it runs again
    code = run.run(_config())
    # then zero DetectLabels and zero reads of an image were made, and everything was skipped
    assert code == errors.EXIT_OK
    assert layer.count("Rekognition.DetectLabels") == 0
    assert [path for path, _ in layer.recorded("S3.GetObject") if path.startswith(f"/{BUCKET}/")] == []
    assert layer.count("DynamoDB.PutItem") == 0
    outcomes = run_summary()["outcomes"]
    assert outcomes["skipped_done"] == len(_corpus_objects()) - 1 + len(_hostile())


def test_faults_in_front_of_every_service_still_end_with_every_image_done(fault_server):
    # given 12 images and throttling/errors/latency on Rekognition, S3 and DynamoDB
    keys = {f"in/f{i}.jpg": image_bytes("JPEG", color=(i, i, i)) for i in range(10)}
    keys.update({"in/f.webp": image_bytes("WEBP"), "in/f.png": image_bytes("PNG")})
    world(keys)
    layer = fault_server.layer
    layer.set(
        "Rekognition.DetectLabels",
        quota=20,
        burst=2,
        error_rate=0.2,
        fail_every=4,
        error="throttle",
        latency=0.05,
    )  # fail_every: at least one throttle on every run, not only on most
    layer.set("S3.GetObject", fail_every=3, error="throttle", latency=0.05)  # 503 SlowDown
    layer.set("DynamoDB.PutItem", fail_every=3, error="throttle")  # ProvisionedThroughputExceeded
    layer.set("DynamoDB.BatchGetItem", fail_every=2, error="500")
    layer.set("DynamoDB.GetItem", fail_every=4, error="503")
    # when one child runs with 6 workers
    code = run.run(_config(workers="6"))
    # then every image is done and faults really happened
    assert code == errors.EXIT_OK
    assert {k: v["status"] for k, v in items().items()} == {k: "done" for k in keys}
    throttled = layer.counts("throttled") + layer.counts("failed")
    assert throttled["Rekognition.DetectLabels"] > 0 and throttled["S3.GetObject"] > 0
    assert throttled["DynamoDB.PutItem"] > 0 and throttled["DynamoDB.BatchGetItem"] > 0
    assert run_summary()["throttles"] > 0


def test_progress_and_summary_lines_tell_the_user_what_happens(aws, caplog):
    # given 4 images and a progress line every 2 images
    world({f"in/p{i}.jpg": image_bytes("JPEG") for i in range(4)})
    caplog.set_level("INFO", logger="job.worker.run")
    # when the child runs
    assert run.run(_config(progress_every="2")) == errors.EXIT_OK
    records = {r.getMessage(): r for r in caplog.records if r.name == "job.worker.run"}
    progress = [r for r in caplog.records if r.getMessage() == "progress"]
    # then it logged its config, its source, progress with done/total/rate/errors/throttles, and a summary
    assert records["run starting"].config["source"] == f"s3://{BUCKET}/in/"
    assert records["source opened"].plan["kind"] == "prefix"
    assert len(progress) >= 2 and {p.done for p in progress} >= {2, 4}
    assert all(
        hasattr(p, name) for p in progress for name in ("total", "images_per_s", "errors", "throttles")
    )
    summary = records["run finished"].summary
    assert summary["outcomes"]["done"] == 4 and summary["duration_s"] > 0 and summary["bytes_read"] > 0


def test_an_archived_object_is_a_recorded_error_not_a_retry(aws):
    # given a Glacier object (GetObject refuses it with InvalidObjectState) next to a normal one
    world({"in/ok.jpg": image_bytes("JPEG")})
    clients.client("s3").put_object(
        Bucket=BUCKET, Key="in/cold.jpg", Body=image_bytes("JPEG"), StorageClass="GLACIER"
    )
    # when the child runs
    code = run.run(_config())
    # then the archived one is a terminal error with S3's code, and the run exits 0
    got = items()
    assert code == errors.EXIT_OK
    assert got["in/ok.jpg"]["status"] == "done"
    assert (got["in/cold.jpg"]["status"], got["in/cold.jpg"]["error_class"]) == (
        "error",
        "InvalidObjectState",
    )


class _RejectingRekognition:
    """Rekognition that refuses one key as an invalid image and answers the rest."""

    def __init__(self, inner, bad_key):
        self.inner, self.bad_key, self.meta = inner, bad_key, inner.meta

    def detect_labels(self, **kwargs):
        if kwargs["Image"].get("S3Object", {}).get("Name") == self.bad_key:
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidImageFormatException",
                        "Message": "Request has invalid image format",
                    }
                },
                "DetectLabels",
            )
        return self.inner.detect_labels(**kwargs)


def test_an_image_rekognition_rejects_is_a_recorded_error(aws):
    # given two JPEGs, one of which Rekognition rejects
    world({"in/ok.jpg": image_bytes("JPEG"), "in/odd.jpg": image_bytes("JPEG")})
    default = run.Backends.default(pool=8)
    backends = run.Backends(default.s3, default.ddb, _RejectingRekognition(default.rekognition, "in/odd.jpg"))
    # when the child runs
    code = run.run(_config(), backends=backends)
    # then the rejected one is an error with Rekognition's code, the other is done, and the exit is 0
    got = items()
    assert code == errors.EXIT_OK
    assert got["in/ok.jpg"]["status"] == "done"
    assert got["in/odd.jpg"]["status"] == "error"
    assert got["in/odd.jpg"]["error_class"] == "InvalidImageFormatException"


def test_an_object_s3_refuses_is_recorded_and_retried_after_the_fix(aws):
    # given three JPEGs, one of which S3 refuses to this role (a KMS key it may not use)
    world({f"in/{name}.jpg": image_bytes("JPEG") for name in ("a", "secret", "c")})
    default = run.Backends.default(pool=8)

    def deny(params, **_):
        if params.get("Key") == "in/secret.jpg":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "KMS key denied"}}, "GetObject")

    default.s3.meta.events.register("before-parameter-build.s3.GetObject", deny, unique_id="deny")
    try:
        # when the child runs
        code = run.run(_config(), backends=default)
    finally:
        default.s3.meta.events.unregister("before-parameter-build.s3.GetObject", unique_id="deny")
    # then the shard finishes: the refused image is a recorded error, the others are done
    got = items()
    assert code == errors.EXIT_OK
    assert (got["in/secret.jpg"]["status"], got["in/secret.jpg"]["error_class"]) == ("error", "AccessDenied")
    assert got["in/a.jpg"]["status"] == got["in/c.jpg"]["status"] == "done"
    # and once the permission is fixed, a rerun processes it (and only it)
    assert run.run(_config()) == errors.EXIT_OK
    assert items()["in/secret.jpg"]["status"] == "done"
    assert items()["in/a.jpg"]["processed_at"] == got["in/a.jpg"]["processed_at"]


def test_text_if_runs_text_detection_only_on_matching_images(fault_server):
    # given images and a --text-if rule that matches moto's "Mobile Phone" (parent "Phone") label
    world({"in/a.jpg": image_bytes("JPEG"), "in/b.png": image_bytes("PNG")})
    # when the rule does not match / then no DetectText call and no text stored
    assert run.run(_config(features="labels,text", text_if="Car:50")) == errors.EXIT_OK
    assert fault_server.layer.count("Rekognition.DetectText") == 0
    assert all("text" not in v for v in items().values())
    # when it matches (by parent name) on a fresh table / then text is detected for each image
    clients.client("dynamodb").delete_table(TableName=TABLE)
    world({})
    assert run.run(_config(features="labels,text", text_if="phone:90")) == errors.EXIT_OK
    assert fault_server.layer.count("Rekognition.DetectText") == 2
    assert all(v["text"] for v in items().values())


def test_custom_labels_and_versioned_manifest_refs(aws, monkeypatch):
    # given a running Custom Labels model (moto lacks the project calls: tests/model_emulator.py covers them)
    from job.core import model_status

    monkeypatch.setattr(model_status, "status", lambda rekognition, arn: model_status.RUNNING)
    # and a versioned bucket and a bucketlens manifest naming a version
    world({})
    s3 = clients.client("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=BUCKET, Key="in/v.jpg", Body=image_bytes("JPEG"))["VersionId"]
    from job.core import manifest

    ref = manifest.ObjectRef(BUCKET, "in/v.jpg", version_id=v1)
    manifest.write_manifest(
        lambda k, b: s3.put_object(Bucket=BUCKET, Key=k, Body=b), "manifests/m", "m", [ref], shard_size=1
    )
    # when the child runs custom labels from the manifest
    cfg = _config(
        source=f"s3://{BUCKET}/manifests/m/manifest.json",
        features="labels,custom-labels",
        project_version_arn="arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1",
    )
    assert run.run(cfg) == errors.EXIT_OK
    # then the item holds the version and custom labels
    item = items()["in/v.jpg"]
    assert item["version_id"] == v1 and item["status"] == "done"
    assert item["custom_labels"][0]["name"] == "MyLogo"
    assert item["features"] == "custom-labels,labels"


def test_inventory_source_round_trips_odd_keys(aws):
    # given the odd keys in the bucket and an S3 Inventory report naming them (URL-encoded)
    world({key: image_bytes("JPEG" if key.endswith(".jpg") else "PNG") for key in ODD_KEYS})
    s3 = clients.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="in/")["Contents"]
    rows = [
        [
            BUCKET,
            quote_plus(o["Key"], safe="/"),
            o["ETag"].strip('"'),
            str(o["Size"]),
            "2026-01-01T00:00:00.000Z",
        ]
        for o in listing
    ]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    s3.put_object(Bucket=BUCKET, Key="inv/data/1.csv.gz", Body=gzip.compress(text.getvalue().encode()))
    manifest_doc = {
        "sourceBucket": BUCKET,
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, ETag, Size, LastModifiedDate",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1, "MD5checksum": "x"}],
    }
    s3.put_object(Bucket=BUCKET, Key="inv/manifest.json", Body=json.dumps(manifest_doc).encode())
    # when a child runs the inventory
    assert run.run(_config(source=f"s3://{BUCKET}/inv/manifest.json")) == errors.EXIT_OK
    # then every odd key has exactly its own done item
    got = items()
    assert sorted(got) == sorted(ODD_KEYS) and all(v["status"] == "done" for v in got.values())


def test_stop_event_leaves_remaining_images_for_the_retry(fault_server):
    # given 12 images behind a slow Rekognition
    world({f"in/s{i}.jpg": image_bytes("JPEG") for i in range(12)})
    fault_server.layer.set("Rekognition.DetectLabels", latency=0.4)
    stop = threading.Event()

    # when a stop (SIGTERM) arrives once the first image is with Rekognition
    def stop_when_busy() -> None:
        wait_for(lambda: fault_server.layer.count("Rekognition.DetectLabels", "calls") >= 1)
        stop.set()

    threading.Thread(target=stop_when_busy, daemon=True).start()
    code = run.run(_config(workers="2", grace_seconds="5"), stop=stop)
    # then the child exits with the transient code, in-flight images finished, others were left
    assert code == errors.EXIT_TRANSIENT
    done = [k for k, v in items().items() if v["status"] == "done"]
    assert 1 <= len(done) < 12
    assert run_summary()["stopped_by_signal"] is True
    # and the retry finishes the rest without redoing the done ones
    fault_server.layer.set("Rekognition.DetectLabels", latency=0.0)
    fault_server.layer.reset_counts()
    assert run.run(_config(workers="4")) == errors.EXIT_OK
    assert fault_server.layer.count("Rekognition.DetectLabels") == 12 - len(done)


def test_missing_table_and_bad_source_are_config_exits(aws, capsys):
    # given a bucket but no table
    clients.client("s3").create_bucket(Bucket=BUCKET)
    # when run / then exit 78 (no retry can fix it)
    assert cli.main(["run", "--source", f"s3://{BUCKET}/in/", "--table", "nope"]) == errors.EXIT_CONFIG
    # given the table but a source bucket that does not exist / then 78 too
    world({})
    assert cli.main(["run", "--source", "s3://no-such-bucket-zz/", "--table", TABLE]) == errors.EXIT_CONFIG
    # given a bad option / then 78 before any AWS call
    assert cli.main(["run", "--source", f"s3://{BUCKET}/", "--features", "faces"]) == errors.EXIT_CONFIG


def test_no_region_or_credentials_is_a_config_exit(monkeypatch):
    # given an environment without a region
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    clients.reset()
    # when run / then 78, not a traceback
    assert cli.main(["run", "--source", f"s3://{BUCKET}/in/"]) == errors.EXIT_CONFIG
    # given a region but no credentials at all / when run / then 78 too
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients.reset()
    assert cli.main(["run", "--source", f"s3://{BUCKET}/in/"]) == errors.EXIT_CONFIG


def _child_env(url: str, index: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_BATCH_JOB_ARRAY_INDEX=str(index),
        AWS_BATCH_JOB_ID="job-mp",
        BUCKETLENS_TABLE=TABLE,
        BUCKETLENS_RESULTS_URI=f"s3://{RESULTS}/runs",
        BUCKETLENS_WORKERS="4",
        PYTHONPATH=str(ROOT),
    )
    return env


def test_two_child_processes_share_one_table(moto_server):
    # given 16 images in a moto server
    keys = {f"in/mp/{i:02d}.jpg": image_bytes("JPEG", color=(i * 10, 0, 0)) for i in range(14)}
    keys.update({"in/mp/x.png": image_bytes("PNG"), "in/mp/y.webp": image_bytes("WEBP")})
    world(keys)
    # when two `python -m job run --shards 2` processes run as array children 0 and 1
    cmd = [sys.executable, "-m", "job", "run", "--source", f"s3://{BUCKET}/in/mp/", "--shards", "2"]
    procs = [
        subprocess.Popen(cmd, env=_child_env(moto_server, i), cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    # then both exit 0, each image has exactly one done item, and the children split the work
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    got = items()
    assert sorted(got) == sorted(keys) and all(v["status"] == "done" for v in got.values())
    done = [run_summary("job-mp", i)["outcomes"]["done"] for i in range(2)]
    assert sum(done) == len(keys) and min(done) > 0
    # and the start line logged the config as JSON
    first = json.loads(outs[0][1].splitlines()[0])
    assert first["message"] == "run starting" and first["config"]["shards"] == 2


def test_sigterm_makes_a_child_process_exit_transient(fault_server):
    # given a child process behind a slow Rekognition
    world({f"in/t{i}.jpg": image_bytes("JPEG") for i in range(20)})
    fault_server.layer.set("Rekognition.DetectLabels", latency=0.5)
    cmd = [sys.executable, "-m", "job", "run", "--source", f"s3://{BUCKET}/in/", "--workers", "2"]
    env = _child_env(fault_server.url, 0)
    env["BUCKETLENS_GRACE_SECONDS"] = "3"
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    # when SIGTERM arrives once it is working
    wait_for(lambda: fault_server.layer.count("Rekognition.DetectLabels") >= 1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    # then it exits 75 after writing its summary, with work left for the retry
    assert proc.returncode == errors.EXIT_TRANSIENT, err[-2000:]
    summary = run_summary("job-mp", 0)
    assert summary["stopped_by_signal"] is True and summary["outcomes"]["done"] < 20


def test_a_model_stopping_mid_run_leaves_its_images_for_the_retry_with_no_error_rows(aws, monkeypatch):
    # given a model that answers RUNNING at first, then ResourceNotReadyException (it is being stopped)
    from job.core import model_status

    monkeypatch.setattr(model_status, "status", lambda rekognition, arn: model_status.RUNNING)
    world({f"in/m{i}.jpg": image_bytes("JPEG", color=(i * 30, 0, 0)) for i in range(6)})
    calls = []
    real = labels.detect_custom_labels

    def stopping(client, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise labels.ModelNotRunning("ResourceNotReadyException: model is STOPPING")
        return real(client, *args, **kwargs)

    monkeypatch.setattr(labels, "detect_custom_labels", stopping)
    cfg = _config(
        features="custom-labels",
        workers="1",
        project_version_arn="arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1",
    )
    # when the child runs / then it exits 75, the unlabelled images have no row at all (not errors)
    assert run.run(cfg) == errors.EXIT_TRANSIENT
    got = items()
    assert len(got) == 2 and {v["status"] for v in got.values()} == {"done"}
    assert run_summary()["model_not_running"] is True


@pytest.mark.parametrize("fmt", ["ORC", "Parquet"])
def test_a_child_indexes_an_orc_or_parquet_report(aws, fmt):
    # given the odd keys in the bucket and a report naming them in `fmt`, as S3 writes it (keys as they are)
    from tests.inventory_files import write_report

    world({key: image_bytes("JPEG" if key.endswith(".jpg") else "PNG") for key in ODD_KEYS})
    s3 = clients.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="in/")["Contents"]
    rows = [
        (o["Key"], None, True, False, o["Size"], "2026-01-01T00:00:00.000Z", o["ETag"].strip('"'))
        for o in listing
    ]
    uri = write_report(s3, fmt, BUCKET, BUCKET, rows)
    # when a child runs it / then every odd key has exactly its own done item
    assert run.run(_config(source=uri)) == errors.EXIT_OK
    got = items()
    assert sorted(got) == sorted(ODD_KEYS) and all(v["status"] == "done" for v in got.values())


def test_a_child_paces_through_the_shared_quota_and_gives_it_back(aws):
    # given images and the deployed setting: the account's quota, shared through the limiter table
    world({f"in/q{i}.jpg": image_bytes("JPEG", color=(i * 20, 0, 0)) for i in range(6)})
    cfg = _config(tps_quota="50")
    # when the child runs
    assert run.run(cfg) == errors.EXIT_OK
    # then every image is done, the limiter's own calls are in the summary, and no row is left behind
    assert {v["status"] for v in items().values()} == {"done"} and len(items()) == 6
    assert run_summary()["calls"]["dynamodb.limiter"] >= 3
    rows = clients.client("dynamodb").scan(TableName=cfg.limiters_table)["Items"]
    assert rows == []


def test_a_cameras_preview_is_kept_upright_beside_the_results_once(fault_server):
    # given a portrait photo stored sideways with Orientation 6, its EXIF preview stored the same way,
    # and a photo without a preview
    from PIL import Image

    from job.core import previews
    from tests.job.worker_helpers import BLUE, RED, camera_jpeg

    world({"in/portrait.jpg": camera_jpeg(6), "in/plain.jpg": image_bytes("JPEG")})
    # when a child runs them
    assert run.run(_config()) == errors.EXIT_OK
    got = items()
    # then the photo's item names its preview beside the results, under the name the report computes
    item = got["in/portrait.jpg"]
    name = previews.name(BUCKET, "in/portrait.jpg", item["etag"])
    assert item["thumbnail"] == f"s3://{RESULTS}/{name}"
    # and the preview is upright: portrait, red sky over blue water
    body = clients.client("s3").get_object(Bucket=RESULTS, Key=name)["Body"].read()
    with Image.open(io.BytesIO(body)) as shown:
        assert shown.height > shown.width
        top, bottom = (
            shown.getpixel((shown.width // 2, 4)),
            shown.getpixel((shown.width // 2, shown.height - 4)),
        )
    assert all(abs(a - b) < 30 for a, b in zip(top, RED, strict=True))
    assert all(abs(a - b) < 30 for a, b in zip(bottom, BLUE, strict=True))
    # and the photo without one has no preview named (the report says why)
    assert "thumbnail" not in got["in/plain.jpg"]
    # when the shard runs again / then no preview is written again
    layer = fault_server.layer
    layer.reset_counts()
    assert run.run(_config()) == errors.EXIT_OK
    assert layer.count("S3.PutObject") == 1  # the run summary only


def test_the_emf_lines_of_a_run_carry_the_counts_its_summary_reports(aws, capsys):
    # given good and hostile images
    from tests.job.core import emf_spec

    world({**_corpus_objects(), **_hostile()})
    # when one child of the deployment "photos-prod" runs the prefix, logging progress every 3 images
    assert run.run(_config(progress_every="3", deployment="photos-prod")) == errors.EXIT_OK
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    summary = run_summary()
    # then every line is valid EMF for this deployment and the Batch path
    assert docs and all(emf_spec.problems(d) == [] for d in docs)
    assert {d["Deployment"] for d in docs} == {"photos-prod"}
    totals = [d for d in docs if "ImagesDone" in d]
    assert len(totals) > 1 and {d["Path"] for d in totals} == {"batch"}
    # and, added up over the run's flushes, they are the summary's counts
    assert sum(d["ImagesDone"] for d in totals) == summary["outcomes"]["done"]
    assert sum(d["ImagesErrored"] for d in totals) == summary["outcomes"]["error"] == len(_hostile())
    assert sum(d["RekognitionCalls"] for d in totals) == summary["rekognition_calls"]
    assert sum(d["BytesRead"] for d in totals) == summary["bytes_read"]
    by_class: dict[str, int] = {}
    for d in docs:
        if "ErrorClass" in d:
            by_class[d["ErrorClass"]] = by_class.get(d["ErrorClass"], 0) + d["ImagesErrored"]
    assert by_class == summary["errors_by_class"]
    latencies = [v for d in docs for v in d.get("ImageLatency", [])]
    assert len(latencies) == summary["outcomes"]["done"] + summary["outcomes"]["error"]
