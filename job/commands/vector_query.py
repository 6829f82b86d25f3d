"""Reading the vector store: one object's stored vector (for "more like this one") and the vectors closest
to a query, filtered by metadata. Searches run with the user's credentials, never the worker's role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from job.core.errors import ConfigError
from job.core.vectors import VectorRecord

TOP_K_MAX = 100  # results a QueryVectors may ask for (S3 Vectors, "Limitations and restrictions")


@dataclass(frozen=True)
class Hit:
    """One search result: the object, how far from the query (smaller is closer), and its metadata."""

    key: str
    distance: float
    metadata: Mapping[str, Any]

    @property
    def uri(self) -> str:
        return str(self.metadata.get("uri") or f"s3://{self.key}")


def get(client: Any, bucket: str, index: str, key: str) -> VectorRecord | None:
    """The stored vector of one object, or None when it has none."""
    found = client.get_vectors(
        vectorBucketName=bucket, indexName=index, keys=[key], returnData=True, returnMetadata=True
    )["vectors"]
    if not found:
        return None
    (vector,) = found
    return VectorRecord(vector["key"], tuple(vector["data"]["float32"]), vector.get("metadata") or {})


def query(
    client: Any,
    bucket: str,
    index: str,
    vector: Sequence[float],
    top_k: int = 20,
    where: Mapping[str, Any] | None = None,
) -> list[Hit]:
    """The closest vectors to `vector` that pass the metadata filter, closest first."""
    if not 1 <= top_k <= TOP_K_MAX:
        raise ConfigError(f"--limit must be between 1 and {TOP_K_MAX} for a vector search")
    answer = client.query_vectors(
        vectorBucketName=bucket,
        indexName=index,
        topK=top_k,
        queryVector={"float32": [float(x) for x in vector]},
        returnDistance=True,
        returnMetadata=True,
        **({"filter": dict(where)} if where else {}),
    )
    return [Hit(v["key"], float(v["distance"]), v.get("metadata") or {}) for v in answer["vectors"]]
