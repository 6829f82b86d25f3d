"""`python -m job reconcile --vectors [--fix]`: the vector store against the results table.

- **orphaned**: a vector whose image was deleted (its result is a tombstone written more than `--grace`
  seconds ago). A delete that lands while a worker embeds the same image leaves one: the vector is written
  before the result, and the result loses to the tombstone. Search never shows it (every hit is checked
  against the table), but it costs storage. `--fix` deletes it.
- **unknown**: a vector with no result at all; reported, never deleted, since a result paid for but not yet
  written (kept for the child's retry, job/worker/pending.py) looks the same for a while.
- **missing**: a `done` result that names a model (`embed@<digest>`) whose index has no vector for it;
  reported. A backfill with another model, or the image's next upload, embeds it again.

Every index of the vector bucket is walked (a model replaced long ago may still hold deleted images'
vectors); the table is read a page of 100 at a time, so memory stays flat.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from job.commands import export, vector_listing
from job.core import vectors
from job.core.manifest import split_s3_uri
from job.core.ordering import iso_time
from lambda_submitter.deletions import index_names

log = logging.getLogger(__name__)

GRACE_S = 3600  # a tombstone younger than this may still be racing a worker's vector write
GET_MAX = 100  # keys a GetVectors may ask for


@dataclass(frozen=True)
class VectorFinding:
    """One vector (or its absence) that does not match the results table."""

    kind: str  # orphaned | unknown | missing
    index: str
    key: str
    uri: str


def classify(item: Mapping[str, Any] | None, cutoff: str) -> str | None:
    """Pure: what a stored vector is, from its image's result; None when it belongs."""
    if item is None:
        return "unknown"
    if (
        item.get("status") == "deleted"
        and str(item.get("deleted_at") or item.get("order_time") or "") < cutoff
    ):
        return "orphaned"
    return None


def stored(client: Any, ddb: Any, table: str, bucket: str, grace_s: float) -> Iterator[VectorFinding]:
    """Vectors whose image is deleted (orphaned) or has no result (unknown), in every index."""
    cutoff = iso_time(datetime.now(UTC) - timedelta(seconds=grace_s))
    for index in index_names(client, bucket):
        for page in vector_listing.pages(client, bucket, index, data=False):
            uris = [str((v.get("metadata") or {}).get("uri") or "") for v in page]
            refs = [split_s3_uri(uri) if uri.startswith("s3://") else ("", "") for uri in uris]
            items = export.fetch_items(ddb, table, [r for r in refs if r[0]])
            for vector, ref, uri in zip(page, refs, uris, strict=True):
                kind = classify(items.get(ref), cutoff)
                if kind:
                    yield VectorFinding(kind, index, vector["key"], uri)


def missing(client: Any, ddb: Any, table: str, bucket: str) -> Iterator[VectorFinding]:
    """Done results of a model whose index has no vector for them."""
    known = set(index_names(client, bucket))
    waiting: dict[str, list[tuple[str, str]]] = {}
    for item in export.scan(ddb, table):
        digest = _model(str(item.get("features") or ""))
        if item.get("status") != "done" or not digest:
            continue
        index = vectors.index_name(digest)
        batch = waiting.setdefault(index, [])
        batch.append(
            (vectors.vector_key(item["bucket"], item["key"]), f"s3://{item['bucket']}/{item['key']}")
        )
        if len(batch) == GET_MAX:
            yield from _absent(client, bucket, index, batch, index in known)
            batch.clear()
    for index, batch in waiting.items():
        yield from _absent(client, bucket, index, batch, index in known)


def _model(features: str) -> str | None:
    for part in features.split(","):
        if part.startswith("embed@"):
            return part.removeprefix("embed@")
    return None


def _absent(
    client: Any, bucket: str, index: str, batch: list[tuple[str, str]], exists: bool
) -> Iterator[VectorFinding]:
    found = set()
    if exists and batch:
        answer = client.get_vectors(vectorBucketName=bucket, indexName=index, keys=[k for k, _ in batch])
        found = {v["key"] for v in answer.get("vectors", ())}
    for key, uri in batch:
        if key not in found:
            yield VectorFinding("missing", index, key, uri)


def delete(client: Any, bucket: str, findings: list[VectorFinding]) -> int:
    """Delete the orphaned vectors, at most 500 a call per index; how many."""
    by_index: dict[str, list[str]] = {}
    for finding in findings:
        by_index.setdefault(finding.index, []).append(finding.key)
    for index, keys in by_index.items():
        for start in range(0, len(keys), 500):
            client.delete_vectors(vectorBucketName=bucket, indexName=index, keys=keys[start : start + 500])
    return sum(len(keys) for keys in by_index.values())
