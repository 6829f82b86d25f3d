"""The quota the jobs and the fast path share, read from Service Quotas, and handed to every job."""

from __future__ import annotations

from dataclasses import replace

from job.core.manifest import ObjectRef
from job.worker.config import from_args
from lambda_submitter import account_quota, submit
from tests.job.core.test_quota import _quota, _stubbed
from tests.lambda_submitter.conftest import job_details

APPLIED = ([_quota("DetectLabels", 50.0, "L-A1")], [_quota("DetectLabels", 120.0, "L-A1")])


def test_the_applied_quota_replaces_the_configured_one_for_jobs_and_the_fast_path(cfg) -> None:
    # given the variable's 50 TPS, a fast path, and an account whose DetectLabels quota was raised to 120
    labeller = from_args({"source": "s3://events/", "tps_quota": "50"}, env={})
    configured = replace(cfg, tps_quota=50.0, labeller=labeller)
    client, stub = _stubbed(APPLIED)
    # when resolved twice within the cache's life
    now = [1000.0]
    first = account_quota.resolve(configured, client, clock=lambda: now[0])
    now[0] += account_quota.CACHE_S / 2
    second = account_quota.resolve(configured, client, clock=lambda: now[0])
    # then both use 120 and say where it came from, and Service Quotas was read once
    for resolved in (first, second):
        assert (resolved.tps_quota, resolved.tps_quota_source) == (
            120.0,
            "Service Quotas L-A1 (DetectLabels)",
        )
        assert resolved.labeller.tps_quota == 120.0
        assert resolved.labeller.to_log()["tps_quota_source"] == "Service Quotas L-A1 (DetectLabels)"
    stub.assert_no_pending_responses()


def test_without_service_quotas_the_configured_quota_stays(cfg) -> None:
    # given a role that may not read Service Quotas
    client, _ = _stubbed("AccessDeniedException")
    # when resolved / then the configured value is used, and says so
    resolved = account_quota.resolve(replace(cfg, tps_quota=50.0), client)
    assert (resolved.tps_quota, resolved.tps_quota_source) == (50.0, "BUCKETLENS_TPS_QUOTA")


def test_every_job_carries_the_quota_and_its_source(stack: dict, cfg) -> None:
    # given a submitter that found 120 TPS in Service Quotas
    resolved = replace(cfg, tps_quota=120.0, tps_quota_source="Service Quotas L-A1 (DetectLabels)")
    refs = [ObjectRef("b", f"k{i}.jpg") for i in range(3)]
    # when it submits work
    result = submit.submit_work(stack["s3"], stack["batch"], resolved, "quota-test", refs, {})
    # then the job's environment overrides the definition's quota with it (Batch containerOverrides)
    (job,) = job_details(stack["batch"], result.job_ids)
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["BUCKETLENS_TPS_QUOTA"] == "120"
    assert env["BUCKETLENS_TPS_QUOTA_SOURCE"] == "Service Quotas L-A1 (DetectLabels)"
