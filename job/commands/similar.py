"""`search --meaning TEXT` and `search --like s3://bucket/key`: images by meaning, through the user's
embedding model and the vector store, with every other filter of `search`.

The text encoder runs here, where the query runs. In S3 Vectors the year and the label are filtered in the
store (metadata), the rest (camera, exact time, place, detected text, confidence) on the results table's
items; with OpenSearch (`--opensearch-endpoint`) its k-NN index applies every filter during the search. The
results table's items are also what makes a hit count: an image deleted or changed since its vector was
stored drops out.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from job.commands import export, options, vector_query
from job.commands.filters import Filters, matches
from job.core import vectors
from job.core.manifest import split_s3_uri

PREVIEW_SECONDS = 3600  # how long a result's link works
OVERFETCH = 3  # vectors asked for per result wanted: some fail the filters the store cannot apply


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--meaning", help="images that match this description, e.g. 'a red car at night'")
    p.add_argument("--like", help="s3://bucket/key: images that look like this one (its stored vector)")
    options.add_embedding(p)


def wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "meaning", None) or getattr(args, "like", None))


def store_filter(f: Filters) -> dict[str, Any] | None:
    """What the store can filter itself: the label's name and the years taken."""
    where: dict[str, Any] = {}
    if f.label:
        where["labels"] = f.label
    years = {}
    if f.taken_from and f.taken_from[:4].isdigit():
        years["$gte"] = int(f.taken_from[:4])
    if f.taken_to and f.taken_to[:4].isdigit():
        years["$lte"] = int(f.taken_to[:4])
    if years:
        where["year"] = years
    return where or None


@dataclass(frozen=True)
class Found:
    """One image the store returned: where it is, how close (cosine similarity), and the ETag it was
    embedded from when the store keeps it (OpenSearch does)."""

    ref: tuple[str, str]
    score: float
    etag: str | None = None


def search(
    s3: Any,
    ddb: Any,
    s3vectors: Any,
    table: str,
    args: argparse.Namespace,
    f: Filters,
    limit: int,
    opensearch: tuple[Any, str] | None = None,
) -> Iterator[dict]:
    """Results closest first, each a result item with `score` (cosine similarity) and `preview` (a link):
    from S3 Vectors, or from OpenSearch's k-NN index when `opensearch` (client, document index) is given."""
    model = options.load_embeddings(s3, args, "a search by meaning")
    if opensearch is None:
        found = _in_vectors(s3vectors, args, model, f, limit)
    else:
        found = _in_opensearch(*opensearch, args, model, f, limit)
    items = export.fetch_items(ddb, table, [x.ref for x in found]) if found else {}
    sent = 0
    for x in found:
        item = items.get(x.ref)
        if not item or item.get("status") != "done" or not matches(item, f):
            continue
        if x.etag is not None and item.get("etag") != x.etag:
            continue  # the image changed since this vector: its own event embeds it again
        link = s3.generate_presigned_url(
            "get_object", Params={"Bucket": x.ref[0], "Key": x.ref[1]}, ExpiresIn=PREVIEW_SECONDS
        )
        yield {**item, "score": round(x.score, 4), "preview": link}
        sent += 1
        if sent >= limit:
            return


def _query_vector(args: argparse.Namespace, model: Any, stored: Any) -> Any:
    """The text's embedding, or with --like the image's stored vector (`stored(bucket, key)`)."""
    from job.worker import embeddings

    if not args.like:
        (vector,) = embeddings.embed_texts(model, [args.meaning])
        return vector
    vector = stored(*split_s3_uri(args.like))
    if vector is None:
        raise ValueError(f"{args.like} has no vector of this model: it is not (yet) embedded")
    return vector


def _in_vectors(s3vectors: Any, args: argparse.Namespace, model: Any, f: Filters, limit: int) -> list[Found]:
    """S3 Vectors: the label and the years filtered in the store, the rest on the items (over-fetched)."""
    index = vectors.index_name(model.digest)

    def stored(bucket: str, key: str) -> Any:
        record = vector_query.get(s3vectors, args.vector_bucket, index, vectors.vector_key(bucket, key))
        return None if record is None else record.data

    query = _query_vector(args, model, stored)
    top_k = min(vector_query.TOP_K_MAX, max(limit, limit * OVERFETCH))
    hits = vector_query.query(s3vectors, args.vector_bucket, index, query, top_k, store_filter(f))
    return [Found(split_s3_uri(h.uri), 1.0 - h.distance) for h in hits]


def _in_opensearch(
    client: Any, index: str, args: argparse.Namespace, model: Any, f: Filters, limit: int
) -> list[Found]:
    """OpenSearch's k-NN index: every filter applied during the search, so `limit` is all it asks for."""
    from job.commands import opensearch_search
    from job.core import opensearch

    knn, field = opensearch.vectors_index(index), opensearch.vector_field(model.digest)
    query = _query_vector(
        args, model, lambda bucket, key: opensearch_search.stored_vector(client, knn, field, bucket, key)
    )
    hits = opensearch_search.nearest(client, knn, field, query, f, min(limit, opensearch.KNN_K_MAX))
    return [Found((h["bucket"], h["key"]), h["score"], h.get("etag")) for h in hits]


def write(items: Iterator[Mapping[str, Any]], out: TextIO, fmt: str) -> int:
    """The results with their score and link first, in the format asked for."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=("score", "preview", "uri", "labels"), extrasaction="ignore")
        writer.writeheader()
    for item in items:
        row = {"score": item["score"], "preview": item["preview"], **export.row(dict(item))}
        if fmt == "csv":
            writer.writerow({**row, "labels": "; ".join(lb["name"] for lb in row["labels"])})
        elif fmt == "table":
            out.write(
                f"{row['score']:.3f}  {row['uri']}  {', '.join(lb['name'] for lb in row['labels'][:5])}\n"
            )
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
