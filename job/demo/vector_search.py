"""S3 Vectors as the emulator answers it: moto stores vectors but has no QueryVectors, and does not enforce
the service's documented limits. `install()` adds both to moto (in-process and server alike), so the demo and
the tests search offline with AWS's distance metrics and metadata filter language.

Sources: Amazon S3 User Guide, "Metadata filtering" (the operators and their input types; `$eq` against a
list matches any element) and "Limitations and restrictions" (top-K <= 100, <= 500 vectors a PutVectors
and DeleteVectors, <= 100 a GetVectors, <= 50 metadata keys, filterable metadata <= 2 KB a vector); the
API reference of QueryVectors (cosine distance is 1 - cosine similarity), of CreateIndex (an existing
name is a ConflictException, where moto replaced the index and its vectors) and of ListVectors (pages of at
most 1,000, 500 by default, with a nextToken; segmentCount 1 to 16 and segmentIndex below it, each given only
with the other, split the vectors between parallel readers; moto returns every vector in one page).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

TOP_K_MAX = 100
LIST_DEFAULT, LIST_MAX = 500, 1000  # vectors a ListVectors page (its API reference: maxResults)
SEGMENTS_MAX = 16  # segmentCount, 1 to 16 (the same page)
PUT_MAX = DELETE_MAX = 500
GET_MAX = 100
METADATA_KEYS_MAX = 50
FILTERABLE_BYTES_MAX = 2048
COMPARISONS = ("$gt", "$gte", "$lt", "$lte")


class FilterError(ValueError):
    """A filter AWS would refuse (400 ValidationException)."""


def distance(metric: str, a: Sequence[float], b: Sequence[float]) -> float:
    """The distance QueryVectors returns: smaller is closer."""
    if metric == "euclidean":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - (dot / norms if norms else 0.0)


def _primitive(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _compare(op: str, stored: Any, wanted: Any) -> bool:
    """One operator on one field; a stored list matches when any element does (`$eq`, `$in`, ranges)."""
    values = stored if isinstance(stored, list) else [stored]
    if op == "$eq":
        if not _primitive(wanted):
            raise FilterError("$eq takes a string, number or boolean")
        return wanted in values
    if op == "$ne":
        if not _primitive(wanted):
            raise FilterError("$ne takes a string, number or boolean")
        return wanted not in values
    if op in ("$in", "$nin"):
        if not isinstance(wanted, list) or not wanted or not all(_primitive(v) for v in wanted):
            raise FilterError(f"{op} takes a non-empty list of strings, numbers or booleans")
        found = any(v in wanted for v in values)
        return found if op == "$in" else not found
    if op in COMPARISONS:
        if isinstance(wanted, bool) or not isinstance(wanted, (int, float)):
            raise FilterError(f"{op} takes a number")
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        test = {"$gt": float.__gt__, "$gte": float.__ge__, "$lt": float.__lt__, "$lte": float.__le__}[op]
        return any(test(float(v), float(wanted)) for v in numbers)
    raise FilterError(f"unknown operator {op}")


def matches(query: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether a vector's metadata satisfies a filter: fields ANDed, `{"f": v}` meaning `$eq`."""
    for name, condition in query.items():
        if name in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise FilterError(f"{name} takes a non-empty list of filters")
            results = [matches(part, metadata) for part in condition]
            if not (all(results) if name == "$and" else any(results)):
                return False
            continue
        if name.startswith("$"):
            raise FilterError(f"unknown operator {name}")
        if not isinstance(condition, Mapping):
            condition = {"$eq": condition}
        for op, wanted in condition.items():
            if op == "$exists":
                if not isinstance(wanted, bool):
                    raise FilterError("$exists takes a boolean")
                if (name in metadata) != wanted:
                    return False
            elif name not in metadata:
                if op not in ("$ne", "$nin"):
                    return False
            elif not _compare(op, metadata[name], wanted):
                return False
    return True


def query(
    vectors: Sequence[tuple[str, Sequence[float], Mapping[str, Any]]],
    metric: str,
    query_vector: Sequence[float],
    top_k: int,
    where: Mapping[str, Any] | None = None,
) -> list[tuple[str, float, Mapping[str, Any]]]:
    """(key, distance, metadata) of the `top_k` closest vectors that pass the filter, closest first."""
    if not 1 <= top_k <= TOP_K_MAX:
        raise FilterError(f"topK must be between 1 and {TOP_K_MAX}")
    kept = [(key, data, meta) for key, data, meta in vectors if not where or matches(where, meta or {})]
    scored = sorted(
        ((key, distance(metric, data, query_vector), meta) for key, data, meta in kept),
        key=lambda r: (r[1], r[0]),
    )
    return scored[:top_k]


def check_metadata(key: str, metadata: Mapping[str, Any] | None, unfiltered: Sequence[str] = ()) -> None:
    """The per-vector metadata limits PutVectors enforces (the index's non-filterable keys aside)."""
    metadata = metadata or {}
    if len(metadata) > METADATA_KEYS_MAX:
        raise FilterError(f"vector {key}: {len(metadata)} metadata keys (at most {METADATA_KEYS_MAX})")
    filterable = {k: v for k, v in metadata.items() if k not in unfiltered}
    size = len(json.dumps(filterable, separators=(",", ":"), ensure_ascii=False).encode())
    if size > FILTERABLE_BYTES_MAX:
        raise FilterError(
            f"vector {key}: {size} bytes of filterable metadata (at most {FILTERABLE_BYTES_MAX})"
        )


def list_page(
    keys: Sequence[str],
    max_results: int | None,
    token: str | None,
    segment_count: int | None,
    segment_index: int | None,
) -> tuple[list[str], str | None]:
    """The keys of one ListVectors page, and the token of the next (None at the end); each key belongs to
    one segment, so parallel readers see every vector once."""
    if (segment_count is None) != (segment_index is None):
        raise FilterError("segmentCount and segmentIndex are given together")
    count, index = segment_count or 1, segment_index or 0
    if not 1 <= count <= SEGMENTS_MAX or not 0 <= index < count:
        raise FilterError(f"segmentCount must be 1 to {SEGMENTS_MAX}, segmentIndex below it")
    size = LIST_DEFAULT if max_results is None else max_results
    if not 1 <= size <= LIST_MAX:
        raise FilterError(f"maxResults must be 1 to {LIST_MAX}")
    mine = sorted(k for k in keys if int(hashlib.sha256(k.encode()).hexdigest(), 16) % count == index)
    start = 0
    if token:
        after = base64.urlsafe_b64decode(token.encode()).decode()
        start = next((n for n, k in enumerate(mine) if k > after), len(mine))
    page = mine[start : start + size]
    more = start + size < len(mine)
    return page, base64.urlsafe_b64encode(page[-1].encode()).decode() if more else None


def install() -> None:
    """Teach moto's s3vectors QueryVectors and AWS's documented limits (idempotent)."""
    from moto.s3vectors import responses, urls
    from moto.s3vectors.models import S3VectorsBackend

    if getattr(responses.S3VectorsResponse, "_bucketlens", False):
        return
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult

    class ValidationException(ServiceException):
        code = "ValidationException"

    class ConflictException(ServiceException):
        code = "ConflictException"

    def validated(check):  # type: ignore[no-untyped-def]
        try:
            return check()
        except FilterError as exc:
            raise ValidationException(str(exc)) from exc

    def query_vectors(self):  # type: ignore[no-untyped-def]
        index = self.s3vectors_backend.get_index(
            self._get_param("vectorBucketName"),
            index_name=self._get_param("indexName"),
            index_arn=self._get_param("indexArn"),
        )
        wanted = self._get_param("queryVector")["float32"]
        if len(wanted) != index.dimension:
            raise ValidationException(
                f"query vector has {len(wanted)} dimensions, the index {index.dimension}"
            )
        stored = [(v.key, v.data["float32"], v.metadata or {}) for v in index.vectors.values()]
        found = validated(
            lambda: query(
                stored, index.distance_metric, wanted, self._get_int_param("topK"), self._get_param("filter")
            )
        )
        with_metadata = self._get_bool_param("returnMetadata", False)
        with_distance = self._get_bool_param("returnDistance", False)
        return ActionResult(
            {
                "distanceMetric": index.distance_metric,
                "vectors": [
                    {
                        "key": key,
                        **({"distance": gap} if with_distance else {}),
                        **({"metadata": meta} if with_metadata else {}),
                    }
                    for key, gap, meta in found
                ],
            }
        )

    original_put, original_get, original_delete = (
        S3VectorsBackend.put_vectors,
        S3VectorsBackend.get_vectors,
        S3VectorsBackend.delete_vectors,
    )

    def put_vectors(self, vector_bucket_name, index_name, index_arn, vectors):  # type: ignore[no-untyped-def]
        if not 1 <= len(vectors) <= PUT_MAX:
            raise ValidationException(f"PutVectors takes 1 to {PUT_MAX} vectors, not {len(vectors)}")
        index = self.get_index(vector_bucket_name, index_name=index_name, index_arn=index_arn)
        unfiltered = getattr(index, "non_filterable", ())
        for vector in vectors:
            validated(lambda v=vector: check_metadata(v["key"], v.get("metadata"), unfiltered))
        return original_put(self, vector_bucket_name, index_name, index_arn, vectors)

    def get_vectors(self, vector_bucket_name, index_name, index_arn, keys):  # type: ignore[no-untyped-def]
        if len(keys) > GET_MAX:
            raise ValidationException(f"GetVectors takes at most {GET_MAX} keys, not {len(keys)}")
        return original_get(self, vector_bucket_name, index_name, index_arn, keys)

    def delete_vectors(self, vector_bucket_name, index_name, index_arn, keys):  # type: ignore[no-untyped-def]
        if len(keys) > DELETE_MAX:
            raise ValidationException(f"DeleteVectors takes at most {DELETE_MAX} keys, not {len(keys)}")
        return original_delete(self, vector_bucket_name, index_name, index_arn, keys)

    original_create_response = responses.S3VectorsResponse.create_index

    def create_index_response(self):  # type: ignore[no-untyped-def]
        """moto ignores metadataConfiguration: keep its non-filterable keys on the index it made."""
        bucket = self.s3vectors_backend.get_vector_bucket(
            vector_bucket_name=self._get_param("vectorBucketName"),
            vector_bucket_arn=self._get_param("vectorBucketArn"),
        )
        name = self._get_param("indexName")
        if any(index.index_name == name for index in bucket.indexes.values()):
            raise ConflictException(f"an index named {name} already exists")  # moto replaced it
        result = original_create_response(self)
        (index,) = [index for index in bucket.indexes.values() if index.index_name == name]
        config = self._get_param("metadataConfiguration") or {}
        index.non_filterable = tuple(config.get("nonFilterableMetadataKeys") or ())
        return result

    def list_vectors_response(self):  # type: ignore[no-untyped-def]
        """Pages and segments, as AWS answers ListVectors (moto gives every vector at once)."""
        index = self.s3vectors_backend.get_index(
            self._get_param("vectorBucketName"),
            index_name=self._get_param("indexName"),
            index_arn=self._get_param("indexArn"),
        )
        keys, token = validated(
            lambda: list_page(
                list(index.vectors),
                self._get_int_param("maxResults"),
                self._get_param("nextToken"),
                self._get_int_param("segmentCount"),
                self._get_int_param("segmentIndex"),
            )
        )
        with_data = self._get_bool_param("returnData", False)
        with_metadata = self._get_bool_param("returnMetadata", False)
        found = []
        for key in keys:
            vector = index.vectors[key]
            found.append(
                {
                    "key": key,
                    **({"data": vector.data} if with_data else {}),
                    **({"metadata": vector.metadata or {}} if with_metadata else {}),
                }
            )
        return ActionResult({"vectors": found, **({"nextToken": token} if token else {})})

    responses.S3VectorsResponse.query_vectors = query_vectors
    responses.S3VectorsResponse.list_vectors = list_vectors_response
    S3VectorsBackend.put_vectors = put_vectors
    S3VectorsBackend.get_vectors = get_vectors
    S3VectorsBackend.delete_vectors = delete_vectors
    responses.S3VectorsResponse.create_index = create_index_response
    urls.url_paths["{0}/QueryVectors$"] = responses.S3VectorsResponse.dispatch
    responses.S3VectorsResponse._bucketlens = True
