"""`search --meaning TEXT` and `search --like s3://bucket/key`: images by meaning, through the user's
embedding model and the vector store, with every other filter of `search`.

The text encoder runs here, where the query runs. The year and the label are filtered in the store
(metadata); the rest (camera, exact time, place, detected text, confidence) on the results table's items,
which are also what makes a hit count: an image deleted or changed since its vector was stored drops out.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator, Mapping
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


def search(
    s3: Any, ddb: Any, s3vectors: Any, table: str, args: argparse.Namespace, f: Filters, limit: int
) -> Iterator[dict]:
    """Results closest first, each a result item with `score` (1 - cosine distance) and `preview` (a link)."""
    from job.worker import embeddings

    model = options.load_embeddings(s3, args, "a search by meaning")
    index = vectors.index_name(model.digest)
    if args.like:
        bucket, key = split_s3_uri(args.like)
        stored = vector_query.get(s3vectors, args.vector_bucket, index, vectors.vector_key(bucket, key))
        if stored is None:
            raise ValueError(f"{args.like} has no vector of this model: it is not (yet) embedded")
        query = stored.data
    else:
        (query,) = embeddings.embed_texts(model, [args.meaning])
    top_k = min(vector_query.TOP_K_MAX, max(limit, limit * OVERFETCH))
    hits = vector_query.query(s3vectors, args.vector_bucket, index, query, top_k, store_filter(f))
    refs = [split_s3_uri(h.uri) for h in hits]
    items = export.fetch_items(ddb, table, refs) if refs else {}
    sent = 0
    for hit, ref in zip(hits, refs, strict=True):
        item = items.get(ref)
        if not item or item.get("status") != "done" or not matches(item, f):
            continue
        link = s3.generate_presigned_url(
            "get_object", Params={"Bucket": ref[0], "Key": ref[1]}, ExpiresIn=PREVIEW_SECONDS
        )
        yield {**item, "score": round(1.0 - hit.distance, 4), "preview": link}
        sent += 1
        if sent >= limit:
            return


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
