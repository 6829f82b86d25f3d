"""The Lambda entry point: decide which trigger this is, run it, answer in the shape the trigger needs."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from job.core import clients, logs
from job.core.manifest import split_s3_uri
from lambda_submitter import account_quota, config, submit, triggers

log = logging.getLogger(__name__)
logs.configure(os.environ.get("BUCKETLENS_LOG_LEVEL", "INFO"))


class EventFailed(Exception):
    """A direct (async) invocation failed; raising lets Lambda retry it and then send it to its DLQ."""


def make_clients(pool: int = 10) -> triggers.Clients:
    """`pool`: SubmitterConfig.client_pool, for the fast path's threads."""
    return triggers.Clients(
        s3=clients.client("s3", pool=pool),
        batch=clients.client("batch"),
        dynamodb=clients.client("dynamodb", pool=pool),
        rekognition=clients.client("rekognition"),
        sqs=clients.client("sqs"),
    )


def _summary(s: submit.Submission) -> dict:
    return {"manifest": s.manifest_uri, "images": s.images, "shards": s.shards, "job_ids": list(s.job_ids)}


def handler(event: dict, context: Any = None) -> dict:
    """SQS batch -> partial batch response; S3 notification, backfill or inventory request -> a summary."""
    cfg = config.from_env()
    c = make_clients(pool=cfg.client_pool)
    cfg = account_quota.resolve(cfg, account_quota.quotas_client())
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        seconds_left = context.get_remaining_time_in_millis() / 1000 if context is not None else None
        outcome = triggers.handle_events(c, cfg, records, seconds_left)
        log.info(
            "sqs batch done",
            extra={
                "records": len(records),
                "failed": len(outcome.failed),
                "tombstones": outcome.tombstones,
                "stale_deletes": outcome.stale_deletes,
                "skipped_creates": outcome.skipped_creates,
                "waiting_for_model": outcome.waiting_for_model,
                "submissions": [_summary(s) for s in outcome.submissions],
                "labelled_here": outcome.labelled,
            },
        )
        return {"batchItemFailures": [{"itemIdentifier": m} for m in outcome.failed]}
    if records or event.get("Event") == "s3:TestEvent":
        outcome = triggers.handle_events(c, cfg, [{"messageId": "direct", "body": json.dumps(event)}])
        if outcome.failed:
            raise EventFailed("S3 notification failed; see the log lines above")
        return {"submissions": [_summary(s) for s in outcome.submissions], "tombstones": outcome.tombstones}
    request_id = str(event.get("request_id") or getattr(context, "aws_request_id", "") or "")
    if "inventory" in event:
        bucket, key = split_s3_uri(event["inventory"])
        seconds_left = context.get_remaining_time_in_millis() / 1000 if context is not None else None
        return _summary(triggers.submit_inventory(c.s3, c.batch, cfg, bucket, key, seconds_left))
    if "bucket" in event:
        if not request_id:
            raise ValueError("a backfill needs request_id (the Lambda request id is used when invoked)")
        manifest_id, refs, source = triggers.backfill_work(
            c.s3, cfg, event["bucket"], event.get("prefix", ""), request_id
        )
    else:
        raise ValueError(
            "unknown event: expected SQS records, an S3 notification, {bucket, prefix} or {inventory}"
        )
    return _summary(submit.submit_work(c.s3, c.batch, cfg, manifest_id, refs, source))
