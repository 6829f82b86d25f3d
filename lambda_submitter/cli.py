"""`python -m lambda_submitter backfill|inventory|eventbridge`: the Lambda's work from a terminal, with a dry
run, and the one step of the EventBridge route that Terraform leaves to the user."""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from collections.abc import Iterable
from typing import TextIO

from job.core import clients, logs
from job.core.errors import EXIT_OK, EXIT_TRANSIENT, EXIT_USAGE, ConfigError, failure
from job.core.manifest import ObjectRef, split_s3_uri
from lambda_submitter import account_quota, config, pricing, submit, triggers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lambda_submitter", description=__doc__)
    parser.add_argument("--log-level", default="WARNING", help="log level of the JSON lines on stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    bf = sub.add_parser("backfill", help="index every image under a prefix")
    bf.add_argument("--bucket", required=True)
    bf.add_argument("--prefix", default="")
    bf.add_argument("--request-id", default=None, help="reuse to make a retried request submit nothing new")
    bf.add_argument("--dry-run", action="store_true", help="count and price the work; submit nothing")
    inv = sub.add_parser("inventory", help="index the images of an S3 Inventory report")
    inv.add_argument("manifest", help="s3://inventory-bucket/.../manifest.json")
    inv.add_argument("--dry-run", action="store_true", help="count and price the work; submit nothing")
    eb = sub.add_parser(
        "eventbridge",
        help="turn on the bucket's EventBridge delivery, keeping every notification it already has",
    )
    eb.add_argument("--bucket", required=True)
    return parser


def with_eventbridge(configuration: dict) -> dict:
    """The bucket's notification configuration plus EventBridge delivery; every existing entry is kept."""
    kept = {k: v for k, v in configuration.items() if k != "ResponseMetadata"}
    return {**kept, "EventBridgeConfiguration": {}}


def enable_eventbridge(s3, bucket: str, out: TextIO) -> int:
    """Read, add EventBridge, write back: S3 replaces the whole configuration on every write."""
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    if "EventBridgeConfiguration" in current:
        print(f"{bucket}: EventBridge delivery is already on", file=out)
        return EXIT_OK
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=with_eventbridge(current), SkipDestinationValidation=True
    )
    kept = sum(len(v) for k, v in current.items() if k.endswith("Configurations"))
    print(f"{bucket}: EventBridge delivery on; {kept} existing notification(s) kept", file=out)
    return EXIT_OK


def dry_run_report(refs: Iterable[ObjectRef], cfg: config.SubmitterConfig, out: TextIO) -> int:
    """Count without holding the list; prints images, shards, array jobs and the estimated cost."""
    images = sum(1 for _ in refs)
    shards = math.ceil(images / cfg.shard_size)
    jobs = submit.plan_jobs("dry-run", shards)
    print(f"images found:  {images}", file=out)
    print(f"shards:        {shards} (at most {cfg.shard_size} images each)", file=out)
    print(f"batch jobs:    {len(jobs)} ({', '.join(str(j.size) for j in jobs) or 'none'} children)", file=out)
    print(f"features:      {','.join(cfg.features)}", file=out)
    if cfg.labeler != "rekognition":
        queue = cfg.target[0].rsplit("/", 1)[-1] or "(not set)"
        own = "your own model" if cfg.labeler == "onnx" else "prompts with your embedding model"
        print(f"labeler:       {cfg.labeler}, {own}: no Rekognition charge; jobs go to {queue}", file=out)
        print("dry run: nothing submitted", file=out)
        return EXIT_OK
    cost = pricing.estimate(images, cfg.features)
    for name, usd in cost.by_feature.items():
        print(f"  {name:<12} ${usd:,.2f}", file=out)
    print(
        f"estimated Rekognition cost: ${cost.total_usd:,.2f} "
        f"(list prices {cost.region}, as of {cost.prices_as_of}; images already indexed are skipped)",
        file=out,
    )
    if cost.custom_labels_hourly_usd is not None:
        print(f"  plus Custom Labels: ${cost.custom_labels_hourly_usd:.2f} per inference unit hour", file=out)
    print("dry run: nothing submitted", file=out)
    return EXIT_OK


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "eventbridge":
        return enable_eventbridge(clients.client("s3"), args.bucket, out)
    cfg = config.from_env(submit=not args.dry_run)
    s3 = clients.client("s3")
    if args.command == "backfill":
        request_id = args.request_id or uuid.uuid4().hex
        manifest_id, refs, source = triggers.backfill_work(s3, cfg, args.bucket, args.prefix, request_id)
    else:
        try:
            bucket, key = split_s3_uri(args.manifest)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        try:
            manifest_id, refs, source = triggers.inventory_work(s3, cfg, bucket, key)
        except ValueError as exc:
            raise ConfigError(f"{args.manifest}: {exc}") from exc
    try:  # the rows are read here, lazily: a data file no reader can parse is a bad report, not a bug
        if args.dry_run:
            return dry_run_report(refs, cfg, out)
        cfg = account_quota.resolve(cfg, account_quota.quotas_client())
        result = submit.submit_work(s3, clients.client("batch"), cfg, manifest_id, refs, source)
    except ValueError as exc:
        raise ConfigError(f"{source['uri']}: {exc}") from exc
    print(f"manifest: {result.manifest_uri}", file=out)
    print(f"images: {result.images}  shards: {result.shards}", file=out)
    if not result.job_ids:
        print("no images found: nothing submitted", file=out)
        return EXIT_OK
    state = "already submitted" if result.already_submitted else "submitted"
    print(f"{state}: {' '.join(result.job_ids)}", file=out)
    print(f"follow with: aws batch describe-jobs --jobs {' '.join(result.job_ids)}", file=out)
    return EXIT_OK


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    logs.configure(args.log_level)
    try:
        return run(args, out)
    except submit.SubmissionInProgress as exc:
        print(f"error: another submitter is working on this manifest: {exc}", file=sys.stderr)
        return EXIT_TRANSIENT
    except Exception as exc:  # noqa: BLE001 - the one rule of every command (job.core.errors.failure)
        code, message = failure(exc)
        print(f"error: {message}", file=sys.stderr)
        return code
