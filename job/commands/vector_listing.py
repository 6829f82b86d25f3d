"""Listing an index's vectors, a page at a time, in parallel segments: what `relabel` (as a Batch job) and
`reconcile --vectors` (as the operator) walk. Apart from the writer's and the searcher's calls, so the
Lambda, which only writes, is never granted a listing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def pages(
    client: Any, bucket: str, index: str, segment: int = 0, segments: int = 1, data: bool = True
) -> Iterator[list[dict[str, Any]]]:
    """One segment of the index's vectors with their metadata (and data, unless not wanted), a page of 100
    at a time: what one BatchGetItem of their results covers."""
    token = None
    while True:
        answer = client.list_vectors(
            vectorBucketName=bucket,
            indexName=index,
            maxResults=100,
            returnData=data,
            returnMetadata=True,
            **({"segmentCount": segments, "segmentIndex": segment} if segments > 1 else {}),
            **({"nextToken": token} if token else {}),
        )
        if answer.get("vectors"):
            yield answer["vectors"]
        token = answer.get("nextToken")
        if not token:
            return
