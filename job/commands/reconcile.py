"""`python -m job reconcile --inventory s3://…/manifest.json [--fix]`: is anything missing from the index?

Compares an S3 Inventory report with the results table: **missing** (an image in the report with no
result, or only a tombstone), **stale** (the stored result is of another ETag than the report's, and not
newer than the report), **orphaned** (a done/error result for an object the report does not list, last
modified before the report was taken). The report's rows go to a temporary SQLite file and the table is
read bucket by bucket with Query, so memory stays flat for any bucket size (disk: ~100 bytes a row).

`--fix` submits one Batch job for the missing and stale images (a bucketlens manifest with a deterministic
id: a second `--fix` before the job ran submits nothing new) and deletes the orphans' results (only if
unchanged since read) and their label index rows.

`--vectors` compares the vector store with the results table instead (job/commands/vector_reconcile.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from job.commands import export
from job.core import errors, label_index, store
from job.core.manifest import ObjectRef, split_s3_uri
from job.core.ordering import iso_time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    kind: str  # missing | stale | orphaned
    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None
    size: int | None = None
    last_modified: str | None = None
    stored_etag: str | None = None

    def ref(self) -> ObjectRef:
        return ObjectRef(self.bucket, self.key, self.version_id, self.etag, self.size, self.last_modified)


def snapshot_time(manifest: dict) -> str | None:
    """The report's creationTimestamp (ms since the epoch) as our sortable time string."""
    raw = manifest.get("creationTimestamp")
    if not raw:
        return None
    return iso_time(datetime.fromtimestamp(int(raw) / 1000, tz=UTC))


def classify(stored: dict | None, listed: dict | None, snapshot: str | None) -> str | None:
    """Pure: the finding for one key from its stored result and its inventory row (either may be absent)."""
    newer = bool(
        stored and snapshot and (stored.get("last_modified") or stored.get("order_time") or "") > snapshot
    )
    if listed is not None:
        if stored is None or stored.get("status") == "deleted":
            return None if newer else "missing"
        if stored.get("etag") != listed.get("etag") and not newer:
            return "stale"
        return None
    if stored is not None and stored.get("status") in store.TERMINAL and not newer:
        return "orphaned"
    return None


class Listing:
    """The inventory's rows in a SQLite file: looked up by (bucket, key), the unseen ones read at the end."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE rows (bucket TEXT, key TEXT, etag TEXT, version_id TEXT, size INTEGER,"
            " last_modified TEXT, seen INTEGER DEFAULT 0, PRIMARY KEY (bucket, key))"
        )

    def load(self, refs: Iterator[ObjectRef]) -> int:
        count = 0
        batch: list[tuple] = []
        for ref in refs:
            batch.append((ref.bucket, ref.key, ref.etag, ref.version_id, ref.size, ref.last_modified))
            if len(batch) >= 10_000:
                count += self._insert(batch)
                batch = []
        count += self._insert(batch)
        self.db.commit()
        return count

    def _insert(self, batch: list[tuple]) -> int:
        self.db.executemany(
            "INSERT OR REPLACE INTO rows (bucket, key, etag, version_id, size, last_modified) VALUES (?,?,?,?,?,?)",
            batch,
        )
        return len(batch)

    def buckets(self) -> list[str]:
        return [b for (b,) in self.db.execute("SELECT DISTINCT bucket FROM rows")]

    def take(self, bucket: str, key: str) -> dict | None:
        row = self.db.execute(
            "SELECT etag, version_id, size, last_modified FROM rows WHERE bucket = ? AND key = ?",
            (bucket, key),
        ).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE rows SET seen = 1 WHERE bucket = ? AND key = ?", (bucket, key))
        return dict(zip(("etag", "version_id", "size", "last_modified"), row, strict=True))

    def unseen(self) -> Iterator[tuple]:
        yield from self.db.execute(
            "SELECT bucket, key, etag, version_id, size, last_modified FROM rows WHERE seen = 0"
        )


def stored_items(ddb: Any, table: str, bucket: str) -> Iterator[dict]:
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#b = :b",
        ExpressionAttributeNames={"#b": "bucket"},
        ExpressionAttributeValues={":b": {"S": bucket}},
    ):
        for raw in page.get("Items", ()):
            yield export._plain(store.deserialize(raw))


def compare(ddb: Any, table: str, listing: Listing, snapshot: str | None) -> Iterator[Finding]:
    for bucket in listing.buckets():
        for item in stored_items(ddb, table, bucket):
            listed = listing.take(bucket, item["key"])
            kind = classify(item, listed, snapshot)
            if kind:
                source = listed or item
                yield Finding(
                    kind,
                    bucket,
                    item["key"],
                    source.get("etag"),
                    source.get("version_id"),
                    source.get("size"),
                    source.get("last_modified"),
                    stored_etag=item.get("etag"),
                )
    for bucket, key, etag, version_id, size, last_modified in listing.unseen():
        yield Finding("missing", bucket, key, etag, version_id, size, last_modified)


def delete_orphan(ddb: Any, table: str, labels_table: str, finding: Finding) -> bool:
    """Delete the result only if it is still the one read (same ETag), then its label rows."""
    from botocore.exceptions import ClientError

    try:
        ddb.delete_item(
            TableName=table,
            Key={"bucket": {"S": finding.bucket}, "key": {"S": finding.key}},
            ConditionExpression="#e = :e" if finding.stored_etag else "attribute_not_exists(#e)",
            ExpressionAttributeNames={"#e": "etag"},
            **(
                {"ExpressionAttributeValues": {":e": {"S": finding.stored_etag}}}
                if finding.stored_etag
                else {}
            ),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    label_index.LabelIndexSink(ddb, labels_table).remove({"bucket": finding.bucket, "key": finding.key})
    return True


def check_fix(s3: Any, batch: Any, cfg: Any) -> None:
    """Before anything is deleted: the queue --fix submits to runs, and its manifests bucket is there."""
    from botocore.exceptions import ClientError

    queues = batch.describe_job_queues(jobQueues=[cfg.job_queue]).get("jobQueues") or []
    if not queues or queues[0].get("state") != "ENABLED":
        raise errors.ConfigError(f"--fix: job queue {cfg.job_queue!r} is missing or not ENABLED")
    try:
        s3.head_bucket(Bucket=cfg.manifests_bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        raise errors.ConfigError(f"--fix: manifests bucket {cfg.manifests_bucket!r}: {code}") from exc


def submit_fix(s3: Any, batch: Any, cfg: Any, findings: list[Finding], inventory_uri: str) -> dict:
    """One job over the missing and stale images, through the submitter's idempotent path."""
    from lambda_submitter import submit

    refs = sorted((f.ref() for f in findings), key=lambda r: (r.bucket, r.key))
    manifest_id = "rc-" + submit.events_manifest_id(refs, cfg.features).split("-", 1)[1]
    done = submit.submit_work(
        s3, batch, cfg, manifest_id, refs, {"kind": "reconcile", "inventory": inventory_uri}
    )
    return {
        "manifest": done.manifest_uri,
        "images": done.images,
        "job_ids": list(done.job_ids),
        "already_submitted": done.already_submitted,
    }


def add_parser(sub: Any, help_text: str) -> None:
    from job.commands import vector_reconcile

    p = sub.add_parser("reconcile", help=help_text)
    p.add_argument("--inventory", help="s3://…/manifest.json of an S3 Inventory report")
    p.add_argument(
        "--vectors",
        action="store_true",
        help="compare the vector store with the results instead: orphaned, unknown and missing vectors",
    )
    p.add_argument(
        "--vector-bucket",
        default=os.environ.get("BUCKETLENS_VECTOR_BUCKET"),
        help="with --vectors: the S3 Vectors bucket [env BUCKETLENS_VECTOR_BUCKET]",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=vector_reconcile.GRACE_S,
        help=f"with --vectors: a tombstone younger than this many seconds is left alone (default {vector_reconcile.GRACE_S})",
    )
    p.add_argument(
        "--table",
        default=os.environ.get("BUCKETLENS_TABLE") or "bucketlens-results",
        help="[env BUCKETLENS_TABLE]",
    )
    p.add_argument(
        "--label-table", default=os.environ.get("BUCKETLENS_LABEL_TABLE"), help="[env BUCKETLENS_LABEL_TABLE]"
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="submit a job for missing/stale, delete orphaned results (with --vectors: orphaned vectors)",
    )
    p.add_argument("--format", choices=("jsonl", "none"), default="jsonl", help="the findings on stdout")
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported

    from job.core import clients
    from job.worker import sources
    from lambda_submitter import config as submitter_config

    if args.vectors:
        return vectors_command(args, out)
    if not args.inventory:
        raise errors.ConfigError("reconcile needs --inventory s3://…/manifest.json, or --vectors")
    s3, ddb = clients.client("s3"), clients.client("dynamodb")
    # the submitter's settings: its extensions decide what is an image (notes.txt is never "missing"), and
    # with --fix its queue and bucket are checked before anything is deleted
    cfg = submitter_config.from_env(submit=args.fix)
    if args.fix:
        check_fix(s3, clients.client("batch"), cfg)
    try:
        bucket, key = split_s3_uri(args.inventory)
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        snapshot = snapshot_time(json.loads(data))
        with tempfile.TemporaryDirectory(prefix="bucketlens-reconcile-") as tmp:
            listing = Listing(os.path.join(tmp, "inventory.sqlite"))
            listed = listing.load(sources.iter_inventory(s3, data, 0, 1, cfg.extensions))
            counts: Counter[str] = Counter()
            to_submit: list[Finding] = []
            removed = 0
            for finding in compare(ddb, args.table, listing, snapshot):
                counts[finding.kind] += 1
                if args.format == "jsonl":
                    out.write(
                        json.dumps(
                            {
                                "kind": finding.kind,
                                "uri": f"s3://{finding.bucket}/{finding.key}",
                                "etag": finding.etag,
                                "stored_etag": finding.stored_etag,
                            }
                        )
                        + "\n"
                    )
                if args.fix and finding.kind == "orphaned":
                    removed += delete_orphan(
                        ddb, args.table, label_index.table_name(args.table, args.label_table), finding
                    )
                elif args.fix:
                    to_submit.append(finding)
            listing.db.close()
        summary: dict[str, Any] = {
            "listed": listed,
            "snapshot": snapshot,
            **{k: counts.get(k, 0) for k in ("missing", "stale", "orphaned")},
        }
        if args.fix:
            summary["orphans_deleted"] = removed
            summary["submitted"] = (
                submit_fix(s3, clients.client("batch"), cfg, to_submit, args.inventory) if to_submit else None
            )
    except ValueError as exc:  # a malformed URI or report; AWS failures go to job.cli's one rule
        log.error("reconcile failed", extra={"error": str(exc)})
        return errors.EXIT_CONFIG
    log.info("reconcile done", extra=summary)
    return errors.EXIT_OK


def vectors_command(args: argparse.Namespace, out: TextIO) -> int:
    """`reconcile --vectors`: the findings as JSON lines, a summary, and with --fix the orphans deleted."""
    from job.commands import vector_reconcile
    from job.core import clients

    if not args.vector_bucket:
        raise errors.ConfigError("reconcile --vectors needs --vector-bucket (or BUCKETLENS_VECTOR_BUCKET)")
    store_client, ddb = clients.client("s3vectors"), clients.client("dynamodb")
    counts: Counter[str] = Counter()
    orphans = []
    found = itertools.chain(
        vector_reconcile.stored(store_client, ddb, args.table, args.vector_bucket, args.grace),
        vector_reconcile.missing(store_client, ddb, args.table, args.vector_bucket),
    )
    for finding in found:
        counts[finding.kind] += 1
        if finding.kind == "orphaned":
            orphans.append(finding)
        if args.format == "jsonl":
            out.write(json.dumps({"kind": finding.kind, "index": finding.index, "uri": finding.uri}) + "\n")
    summary: dict[str, Any] = {k: counts.get(k, 0) for k in ("orphaned", "unknown", "missing")}
    if args.fix:
        summary["vectors_deleted"] = vector_reconcile.delete(store_client, args.vector_bucket, orphans)
    log.info("vector reconcile done", extra=summary)
    return errors.EXIT_OK
