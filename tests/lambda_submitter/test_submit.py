"""Manifests and Batch jobs: array sizes and splitting, one-shard jobs, idempotency, throttling, round trip."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from job.core import manifest as manifest_format
from job.core.manifest import ObjectRef, split_s3_uri
from job.worker import sources
from lambda_submitter import submit
from tests.lambda_submitter.conftest import MANIFESTS, job_details


def _refs(n: int) -> list[ObjectRef]:
    return [
        ObjectRef("bucketlens-images", f"photos/img {i:04d}+é.jpg", etag=f"e{i}", size=10) for i in range(n)
    ]


def test_plan_jobs_splits_at_ten_thousand() -> None:
    # given 25,001 shards
    specs = submit.plan_jobs("m", 25_001)
    # then three array jobs cover them, each starting where the last ended
    assert [(s.shard_offset, s.size) for s in specs] == [(0, 10_000), (10_000, 10_000), (20_000, 5_001)]
    assert [s.name for s in specs] == ["bucketlens-m-0", "bucketlens-m-1", "bucketlens-m-2"]


def test_plan_jobs_edges() -> None:
    # given one shard, exactly 10,000 and 10,001
    # then: one plain job; one array job; an array job plus a single job
    assert [(s.shard_offset, s.size) for s in submit.plan_jobs("m", 1)] == [(0, 1)]
    assert [(s.shard_offset, s.size) for s in submit.plan_jobs("m", 10_000)] == [(0, 10_000)]
    assert [(s.shard_offset, s.size) for s in submit.plan_jobs("m", 10_001)] == [(0, 10_000), (10_000, 1)]
    assert submit.plan_jobs("m", 0) == []


def test_manifest_ids_are_deterministic_and_distinguish_work() -> None:
    # given the same refs in two orders, and a different version of one object
    refs = _refs(3)
    changed = [*refs[:2], replace(refs[2], etag="other")]
    # then order does not matter, content and features do
    assert submit.events_manifest_id(refs, ["labels"]) == submit.events_manifest_id(refs[::-1], ["labels"])
    assert submit.events_manifest_id(refs, ["labels"]) != submit.events_manifest_id(changed, ["labels"])
    assert submit.events_manifest_id(refs, ["labels"]) != submit.events_manifest_id(refs, ["labels", "text"])
    assert submit.backfill_manifest_id("b", "p/", ["labels"], "r1") != submit.backfill_manifest_id(
        "b", "p/", ["labels"], "r2"
    )
    assert submit.inventory_manifest_id("b", "k", "etag", ["labels"]).startswith("inv-")


def test_array_job_per_shard_count(stack: dict, cfg) -> None:
    # given 5 images and a shard size of 2
    # when submitted
    result = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-test", _refs(5), {"kind": "test"})
    # then one array job of 3 children points at the manifest
    assert (result.images, result.shards, len(result.job_ids)) == (5, 3, 1)
    (job,) = job_details(stack["batch"], result.job_ids)
    assert job["arrayProperties"]["size"] == 3
    assert job["jobName"] == "bucketlens-ev-test-0"
    assert job["parameters"]["source"] == f"s3://{MANIFESTS}/manifests/ev-test/manifest.json"
    assert job["parameters"]["shard_offset"] == "0"
    assert job["parameters"]["features"] == "labels"


def test_onnx_jobs_are_routed_to_the_gpu_queue_without_the_rekognition_quota(stack: dict, cfg) -> None:
    # given a GPU queue and job definition beside the CPU ones, the onnx labeler and a Rekognition quota
    from tests.batch_queue import job_queue

    job_queue("bucketlens-gpu-queue", "gpu")
    stack["batch"].register_job_definition(
        jobDefinitionName="bucketlens-gpu-worker",
        type="container",
        containerProperties={"image": "bucketlens:test-gpu", "vcpus": 4, "memory": 14336},
    )
    onnx = replace(
        cfg,
        labeler="onnx",
        gpu_job_queue="bucketlens-gpu-queue",
        gpu_job_definition="bucketlens-gpu-worker",
        tps_quota=50.0,
    )
    # when work is submitted
    result = submit.submit_work(stack["s3"], stack["batch"], onnx, "ev-gpu", _refs(3), {})
    # then the job runs on the GPU queue with the GPU definition, told nothing about Rekognition's quota
    (job,) = job_details(stack["batch"], result.job_ids)
    assert job["jobQueue"].endswith("/bucketlens-gpu-queue")
    assert "bucketlens-gpu-worker" in job["jobDefinition"]
    environment = {e["name"] for e in job.get("container", {}).get("environment", [])}
    assert "BUCKETLENS_TPS_QUOTA" not in environment


def test_one_shard_is_a_plain_job(stack: dict, cfg) -> None:
    # given 2 images (one shard)
    result = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-one", _refs(2), {})
    # then the job has no array properties
    (job,) = job_details(stack["batch"], result.job_ids)
    assert not job.get("arrayProperties", {}).get("size")


def test_more_shards_than_an_array_holds_become_several_jobs(stack: dict, cfg, monkeypatch) -> None:
    # given an array limit of 2 (standing in for 10,000) and 5 shards
    real = submit.plan_jobs
    monkeypatch.setattr(submit, "plan_jobs", lambda mid, n: real(mid, n, max_array=2))
    # when submitted
    result = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-split", _refs(10), {})
    # then three jobs with offsets 0, 2, 4 cover the five shards
    jobs = job_details(stack["batch"], result.job_ids)
    assert [(j["parameters"]["shard_offset"], j.get("arrayProperties", {}).get("size")) for j in jobs] == [
        ("0", 2),
        ("2", 2),
        ("4", None),
    ]


def test_duplicate_submission_submits_once(stack: dict, cfg) -> None:
    # given work submitted once
    first = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-dup", _refs(3), {})
    # when the same work arrives again
    second = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-dup", _refs(3), {})
    # then the recorded job ids come back and the queue holds one job
    assert second.job_ids == first.job_ids and second.already_submitted
    listed = stack["batch"].list_jobs(jobQueue=cfg.job_queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])
    parents = {j["jobId"] for j in listed["jobSummaryList"] if ":" not in j["jobId"]}
    assert parents == set(first.job_ids)


def test_a_fresh_claim_without_a_record_is_in_progress(stack: dict, cfg) -> None:
    # given a manifest another invocation has just claimed but not yet submitted
    key, manifest = submit.write_once(stack["s3"], cfg, "ev-claimed", _refs(2), {})
    folder = key.rsplit("/", 1)[0]
    assert submit._claim(stack["s3"], cfg, folder, datetime.now(UTC))
    # when another invocation tries, then it is told to come back later and submits nothing
    with pytest.raises(submit.SubmissionInProgress):
        submit.submit_manifest(stack["s3"], stack["batch"], cfg, key, manifest)
    # and once the claim is stale it takes over
    later = datetime.now(UTC) + timedelta(seconds=submit.CLAIM_STALE_SECONDS + 1)
    job_ids, already = submit.submit_manifest(stack["s3"], stack["batch"], cfg, key, manifest, now=later)
    assert len(job_ids) == 1 and not already


def test_existing_manifest_is_not_rewritten(stack: dict, cfg) -> None:
    # given a manifest already written for an id
    submit.write_once(stack["s3"], cfg, "ev-keep", _refs(3), {})
    # when different refs arrive under the same id (a redelivery in another grouping cannot do this,
    # but a bug could)
    _, manifest = submit.write_once(stack["s3"], cfg, "ev-keep", _refs(1), {})
    # then the first manifest stands
    assert manifest.total == 3


def test_conditional_create_loses_to_a_concurrent_writer(stack: dict, cfg, monkeypatch) -> None:
    # given a manifest.json that appears between our existence check and our write
    real_read = submit._read
    calls = {"n": 0}

    def racing_read(s3, bucket, key):
        calls["n"] += 1
        if calls["n"] == 1 and key.endswith("manifest.json"):
            other = manifest_format.Manifest("ev-race", ("x.jsonl.gz",), 7)
            s3.put_object(Bucket=bucket, Key=key, Body=other.to_json().encode())
            return None
        return real_read(s3, bucket, key)

    monkeypatch.setattr(submit, "_read", racing_read)
    # when we write
    _, manifest = submit.write_once(stack["s3"], cfg, "ev-race", _refs(2), {})
    # then the If-None-Match create fails and the other writer's manifest is used
    assert manifest.total == 7


class _Throttled:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def submit_job(self, **request):
        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, "SubmitJob")
        return {"jobId": "job-1"}


def test_submit_backs_off_on_too_many_requests() -> None:
    # given a Batch API that throttles twice
    batch, slept = _Throttled(2), []
    # when a job is submitted
    job_id = submit.submit_with_backoff(batch, {"jobName": "x"}, sleep=slept.append)
    # then it succeeds on the third call after two jittered, growing-cap waits
    assert job_id == "job-1" and batch.calls == 3
    assert len(slept) == 2 and 0 <= slept[0] <= 0.5 and 0 <= slept[1] <= 1.0


def test_submit_gives_up_after_the_attempts() -> None:
    # given a Batch API that always throttles
    batch = _Throttled(100)
    # then the last error is raised after the configured attempts
    with pytest.raises(ClientError):
        submit.submit_with_backoff(batch, {}, attempts=3, sleep=lambda _: None)
    assert batch.calls == 3


def test_round_trip_through_the_job_manifest_reader(stack: dict, cfg) -> None:
    # given 5 refs with awkward keys written by the submitter
    refs = _refs(5)
    result = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-rt", refs, {})
    # when the worker's manifest module reads every shard the array children would read
    bucket, key = split_s3_uri(result.manifest_uri)
    s3 = stack["s3"]
    manifest = manifest_format.Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    read_back = []
    for index in range(len(manifest.shards)):
        name = manifest_format.shard_key(key, manifest, index)
        read_back += manifest_format.decode_shard(s3.get_object(Bucket=bucket, Key=name)["Body"].read())
    # then exactly the same refs come back, in order
    assert read_back == refs
    assert json.loads(
        s3.get_object(Bucket=bucket, Key=key.replace("manifest.json", "submitted.json"))["Body"].read()
    )["job_ids"] == list(result.job_ids)


def test_round_trip_through_the_worker_source_reader(stack: dict, cfg) -> None:
    # given a manifest written by the submitter
    refs = _refs(5)
    result = submit.submit_work(stack["s3"], stack["batch"], cfg, "ev-src", refs, {})
    # when each array child opens the source as the job definition passes it
    read_back = []
    for index in range(result.shards):
        _, items = sources.open_source(stack["s3"], result.manifest_uri, index, result.shards, 0)
        read_back += [(r.bucket, r.key) for r in items]
    # then the children together see exactly the submitted keys
    assert read_back == [(r.bucket, r.key) for r in refs]
