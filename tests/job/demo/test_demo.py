"""`make demo` end to end on a small image set: the demo's own code path, resources by the setup path."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from job.demo import emulator
from job.demo import pipeline as demo
from job.demo.samples import make_samples

SMALL_SET = (
    "cameras/canon/paris.jpg",
    "cameras/nikon/rio.jpg",
    "phones/pixel/no-gps.jpg",
    "broken/truncated.jpg",
    "broken/not-an-image.png",
)


@pytest.fixture(scope="module")
def small_images() -> dict[str, bytes]:
    samples = make_samples()
    return {key: samples[key] for key in SMALL_SET}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _real_folder(root, images: dict[str, bytes]):
    """A folder as people have them: images in subfolders, a linked folder, a link back up the tree, a
    zero-byte photo, and the files cameras, phones and editors leave beside them."""
    for key, body in images.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    for junk in (".DS_Store", "cameras/canon/paris.xmp", "clip.MOV", "notes.txt"):
        (root / junk).write_bytes(b"not an image")
    (root / "empty.jpg").write_bytes(b"")
    (root / "linked").symlink_to(root / "phones")  # the same photos under a second name
    (root / "phones" / "loop").symlink_to(root)  # a link back up: walked once, not forever
    (root / "gone.jpg").symlink_to(root / "missing.jpg")
    return root


def test_folder_files_sorts_images_from_the_rest_and_says_why(tmp_path, small_images):
    # given a real-looking folder / when it is read
    found = demo.folder_files(_real_folder(tmp_path, small_images))
    # then the images (zero-byte one included) are found through subfolders and the linked folder
    assert set(found.images) == set(SMALL_SET) | {"empty.jpg", "linked/pixel/no-gps.jpg"}
    assert found.images["empty.jpg"] == b""
    # and everything else is skipped with its reason
    assert found.skipped == {
        ".DS_Store": "no extension",
        "cameras/canon/paris.xmp": "not an image extension (.xmp)",
        "clip.MOV": "not an image extension (.MOV)",
        "notes.txt": "not an image extension (.txt)",
        "gone.jpg": "a broken symlink",
    }


def test_demo_runs_the_whole_pipeline_and_leaves_nothing_behind(tmp_path, small_images):
    # given a real folder holding a small image set with two corrupt files and an empty one, non-images
    # and symlinks, and an output folder holding a stale report
    folder = _real_folder(tmp_path / "photos", small_images)
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    (tmp_path / "report.html").write_text("stale")
    opts = demo.Options(out_dir=tmp_path, images_dir=folder, resources="setup", parallel=2)
    out = io.StringIO()
    # when the demo runs
    outcome = demo.run_demo(opts, out)
    text = out.getvalue()
    # then every step passed
    assert outcome.exit_code == 0, text
    assert outcome.resources == "setup"
    by_key = {item["key"]: item for item in outcome.items}
    # and every image has its result, the corrupt ones as errors
    assert {k for k in SMALL_SET if k != outcome.deleted} <= {
        k for k, i in by_key.items() if i["status"] != "deleted"
    }
    assert by_key["broken/truncated.jpg"]["status"] == "error"
    assert by_key["broken/not-an-image.png"]["status"] == "error"
    assert by_key["empty.jpg"]["status"] == "error"
    # and the camera JPEGs' own EXIF previews were kept by the worker, beside the results
    assert by_key["cameras/nikon/rio.jpg"]["thumbnail"].startswith("s3://")
    # and the files that are not images are skipped, said so, and not a failure
    assert len(outcome.skipped) == 5 and "skipped notes.txt: not an image extension (.txt)" in text
    assert not {k for k in by_key if k.endswith((".txt", ".xmp", ".MOV", ".DS_Store"))}
    assert all(
        by_key[k]["status"] == "done"
        for k in SMALL_SET
        if not k.startswith("broken/") and k != outcome.deleted
    )
    # and the image uploaded through the event path was processed, the deleted one is a tombstone
    assert outcome.uploaded_later in SMALL_SET and by_key[outcome.uploaded_later]["status"] == "done"
    assert outcome.uploaded_later not in outcome.backfill_keys  # it came from the S3 event, not the backfill
    # and the emulator's S3 delivered the notifications itself: the demo's fallback did not stand in
    assert outcome.events_delivered_by == "emulator"
    assert "delivered by S3" in text and "sent by the demo" not in text
    assert by_key[outcome.deleted]["status"] == "deleted"
    # and every timed upload was labelled by the submitter itself (the fast path): no Batch job for them
    assert len(outcome.upload_to_indexed_s) == demo.EVENT_UPLOADS and outcome.event_jobs == 0
    assert all(by_key[k]["status"] == "done" for k in by_key if k.startswith("events/"))
    assert "labelled by the submitter itself (fast path): upload to indexed p50" in text
    assert '"_aws"' not in text  # the in-process handler's metric lines are for CloudWatch, not the console
    # and the backfill paid for Rekognition, the second backfill did not
    assert outcome.backfill_rekognition_calls > 0
    assert outcome.rerun_rekognition_calls == 0
    # and a search by meaning with the demo's tiny colour model finds the sunset for "red", says the model is
    # a stand-in, and labelling from prompts made no Rekognition call
    assert (
        outcome.meaning_hits[0] == "cameras/nikon/rio.jpg" and outcome.like_hits[0] == "cameras/nikon/rio.jpg"
    )
    assert outcome.meaning_rekognition_calls == 0 and "a tiny one built for the demo" in text
    # and the report and results were (re)written
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {r["uri"].split("/", 3)[3] for r in rows} == set(by_key)
    page = (tmp_path / "report.html").read_text()
    assert "data:image/jpeg;base64," in page and "openstreetmap.org/?mlat=-22.95" in page
    assert "canned Rekognition answers" in text
    # and no process is left: the emulator's port is closed and every child is gone
    assert not emulator.port_open(outcome.endpoint)
    assert outcome.child_pids and not [pid for pid in outcome.child_pids if _alive(pid)]
    assert os.environ.get("AWS_ENDPOINT_URL") is None  # the caller's environment is restored


def test_a_failing_step_exits_non_zero_and_still_stops_everything(tmp_path):
    # given images the demo cannot use (only corrupt files: nothing to upload later or delete)
    opts = demo.Options(out_dir=tmp_path, images={"broken/x.jpg": b"x"}, resources="setup")
    out = io.StringIO()
    # when the demo runs
    outcome = demo.run_demo(opts, out)
    # then it fails, says why, and the emulator is stopped
    assert outcome.exit_code == demo.EXIT_FAILED
    assert "demo FAILED" in out.getvalue() and "two images" in out.getvalue()
    assert outcome.endpoint and not emulator.port_open(outcome.endpoint)


def test_ctrl_c_stops_the_children_and_the_emulator(tmp_path):
    # given the demo as its own process, with a log of the processes it starts
    code = f"""
import os, signal, json
from job.demo import emulator
from job.demo import pipeline as demo
from job.demo.samples import make_samples
orig = demo.run_children
def interrupted(children, parallel, logs_dir, outcome, tick, timeout_s=300):
    def ctrl_c_once_started(done):  # the first tick comes right after the first children started
        if not outcome.failures and outcome.child_pids:
            os.kill(os.getpid(), signal.SIGINT)
        tick(done)
    return orig(children, parallel, logs_dir, outcome, ctrl_c_once_started, timeout_s)
demo.run_children = interrupted
samples = make_samples()
images = {{k: samples[k] for k in {list(SMALL_SET)!r}}}
o = demo.run_demo(demo.Options(out_dir=__import__('pathlib').Path({str(tmp_path)!r}), images=images, resources="setup"))
print(json.dumps({{"code": o.exit_code, "pids": o.child_pids, "url": o.endpoint, "failures": o.failures}}))
"""
    # when it is interrupted while the array children run
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=emulator.REPO
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # then it exits non-zero, and neither a child nor the emulator is left
    assert result["code"] == demo.EXIT_FAILED and "interrupted" in result["failures"]
    assert result["pids"] and not [pid for pid in result["pids"] if _alive(pid)]
    assert not emulator.port_open(result["url"])


def test_substitute_replaces_whole_ref_arguments_only():
    # given the job definition's command and a job's parameters
    command = ["python", "-m", "job", "run", "--source", "Ref::source", "--note", "xRef::source"]
    # when Batch substitutes them / then only whole Ref:: arguments change
    assert demo.substitute(command, {"source": "s3://m/manifest.json"}) == [
        "python", "-m", "job", "run", "--source", "s3://m/manifest.json", "--note", "xRef::source",
    ]  # fmt: skip


def test_child_environment_is_the_definition_over_ours_plus_the_array_index():
    # given our environment and the definition's variables
    base = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "BUCKETLENS_TABLE": "mine",
        "AWS_BATCH_JOB_ARRAY_INDEX": "9",
    }
    definition = [{"name": "BUCKETLENS_TABLE", "value": "bucketlens-results"}]
    # when a child's environment is built
    array_child = demo.child_environment(base, definition, "job-1", 3)
    single = demo.child_environment(base, definition, "job-2", None)
    # then the definition wins, the endpoint stays, and the index is set only for array children
    assert array_child["BUCKETLENS_TABLE"] == "bucketlens-results"
    assert array_child["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert (array_child["AWS_BATCH_JOB_ARRAY_INDEX"], array_child["AWS_BATCH_JOB_ID"]) == ("3", "job-1:3")
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in single and single["AWS_BATCH_JOB_ID"] == "job-2"


def test_event_images_are_two_different_readable_images():
    # given keys with corrupt files among them / when chosen
    held, deleted = demo.choose_event_images(["broken/a.jpg", "b.jpg", "a.jpg", "c.png"])
    # then neither is corrupt and they differ
    assert (held, deleted) == ("c.png", "a.jpg")
    with pytest.raises(ValueError):
        demo.choose_event_images(["broken/a.jpg", "a.jpg"])


def test_fallback_notifications_have_the_shape_the_submitter_parses(aws):
    # given an object in a bucket (moto in-process)
    from job.core import clients
    from lambda_submitter import events

    s3 = clients.client("s3")
    s3.create_bucket(Bucket="demo-bucket")
    s3.put_object(Bucket="demo-bucket", Key="new photos/a+b.jpg", Body=b"x")
    # when the demo builds the created and removed records S3 would send
    created = demo.s3_event("demo-bucket", "new photos/a+b.jpg", "ObjectCreated", s3)
    removed = demo.s3_event("demo-bucket", "gone.jpg", "ObjectRemoved", s3)
    # then the submitter reads them back as the same keys and kinds, with sequencers for ordering
    (c,) = events.parse_notification(created)
    (r,) = events.parse_notification(removed)
    assert (c.key, c.size, r.key) == ("new photos/a+b.jpg", 1, "gone.jpg")
    assert c.sequencer and r.sequencer
    assert demo._event_keys(json.dumps(created)) == {("ObjectCreated", "new photos/a+b.jpg")}


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_terminal_and_plain_lines_otherwise():
    # given a terminal and a pipe
    tty, pipe = _Tty(), io.StringIO()
    # when both show the same progress twice
    for out in (tty, pipe):
        progress = demo.Progress(out, "backfill", 4)
        progress.show(1, 10, 1, force=True)
        progress.show(4, 20, 2, force=True)
        progress.finish()
    # then the terminal got carriage-return updates on one line, the pipe two separate lines
    assert tty.getvalue().count("\r") == 2 and tty.getvalue().count("\n") == 1
    assert "children 4/4  images 20 (errors 2)" in tty.getvalue()
    assert pipe.getvalue().count("\n") == 2 and "\r" not in pipe.getvalue()
