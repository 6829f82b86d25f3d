"""Search through OpenSearch: every filter (label + confidence, text, camera, time, place) in one query, and
by meaning: the k-NN index's closest vectors that pass the same filters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from job.commands.filters import Filters

MAX_RESULTS = 10_000  # OpenSearch's default max_result_window


def query(f: Filters) -> dict[str, Any]:
    """The OpenSearch query for the filters (every one of them; all must hold)."""
    clauses: list[dict[str, Any]] = [{"term": {"status": "done"}}]
    if f.label:
        custom = f.label.lower().startswith("custom:")
        path = "custom_labels" if custom else "labels"
        name = f.label.split(":", 1)[1] if custom else f.label
        clauses.append(
            {
                "nested": {
                    "path": path,
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {f"{path}.name": name.lower()}},
                                {"range": {f"{path}.confidence": {"gte": f.min_confidence}}},
                            ]
                        }
                    },
                }
            }
        )
    if f.text:
        clauses.append({"match_phrase": {"text_lines": f.text}})
    if f.camera:
        make, _, model = f.camera.partition("/")
        clauses.append({"term": {"camera_make": make.strip().lower()}})
        if model.strip():
            clauses.append({"term": {"camera_model": model.strip().lower()}})
    if f.taken_from or f.taken_to:
        span: dict[str, str] = {}
        if f.taken_from:
            span["gte"] = f.taken_from
        if f.taken_to:
            span["lte"] = f.taken_to if len(f.taken_to) > 10 else f.taken_to + "T23:59:59"
        clauses.append({"range": {"taken_at": span}})
    if f.near:
        lat, lon, km = f.near
        clauses.append({"geo_distance": {"distance": f"{km}km", "location": {"lat": lat, "lon": lon}}})
    return {"bool": {"filter": clauses}}


def search(client: Any, index: str, f: Filters, limit: int) -> Iterator[dict]:
    """Matching results, best label confidence first; at most 10,000 (the default result window)."""
    size = min(limit, MAX_RESULTS)
    answer = client.search(index=index, body={"query": query(f), "size": size})
    for hit in answer.get("hits", {}).get("hits", ()):
        source = hit.get("_source") or {}
        yield source.get("result") or source


def nearest(
    client: Any, index: str, field: str, vector: Sequence[float], f: Filters, k: int
) -> list[dict[str, Any]]:
    """The k-NN index's documents closest to `vector` among those passing every filter, closest first, each
    with `score`, its cosine similarity (Lucene filters during the search: k hits whenever k match)."""
    from job.core.opensearch import similarity

    body = {
        "size": k,
        "_source": {"excludes": [field]},
        "query": {"knn": {field: {"vector": [float(x) for x in vector], "k": k, "filter": query(f)}}},
    }
    answer = client.search(index=index, body=body)
    return [
        {**(hit.get("_source") or {}), "score": similarity(hit["_score"])}
        for hit in answer.get("hits", {}).get("hits", ())
    ]


def stored_vector(client: Any, index: str, field: str, bucket: str, key: str) -> list[float] | None:
    """One image's vector in the k-NN index, or None (a search by id: the reader's POST, no GET needed)."""
    from job.core.opensearch import doc_id

    body = {"size": 1, "_source": [field], "query": {"ids": {"values": [doc_id(bucket, key)]}}}
    for hit in client.search(index=index, body=body).get("hits", {}).get("hits", ()):
        vector = (hit.get("_source") or {}).get(field)
        if vector:
            return [float(x) for x in vector]
    return None
