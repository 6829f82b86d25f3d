"""Where image embeddings live: one S3 Vectors bucket per deployment, one index per embedding model.

A vector's key is its object's (`bucket/key`, or its SHA-256 when that is longer than a vector key may be),
so an overwrite replaces the vector and a delete removes it. Its filterable metadata carries what searches
filter on (the year taken, the camera, the label names), within the service's 2 KB; the object's URI and
version ride along unfiltered. The index's dimension is the model's: a model that disagrees with an existing
index is a configuration error before any image is read. These are the writer's calls (the worker's, in a
Batch job or on the fast path); listing is job/commands/vector_listing.py's, querying
job/commands/vector_query.py's and deleting lambda_submitter/deletions.py's, so each role is granted only what
its code calls.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from job.core.errors import ConfigError

KEY_MAX = 1024  # characters of a vector key (the PutVectors API reference)
FILTERABLE_MAX = 2048  # bytes of filterable metadata a vector (S3 Vectors, "Limitations and restrictions")
PUT_BATCH = 500
METRIC = "cosine"
UNFILTERED = ("uri", "version")  # returned with a result, never filtered on: outside the 2 KB
ALREADY_THERE = ("ConflictException",)


@dataclass(frozen=True)
class VectorRecord:
    """One image's embedding as stored: its key, the vector, and its metadata."""

    key: str
    data: tuple[float, ...]
    metadata: Mapping[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {"key": self.key, "data": {"float32": list(self.data)}, "metadata": dict(self.metadata)}


def vector_key(bucket: str, key: str) -> str:
    """The object's vector key: `bucket/key`, or `sha256:<hex>` of it when longer than a key may be."""
    joined = f"{bucket}/{key}"
    return joined if len(joined) <= KEY_MAX else "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


def index_name(model_digest: str) -> str:
    """One index per model: vectors of two models are never compared."""
    return f"embed-{model_digest[:16]}"


def metadata_for(item: Mapping[str, Any]) -> dict[str, Any]:
    """A result item's filterable fields (year, camera, label names) and unfiltered URI and version; label
    names are dropped from the least confident up until the filterable part fits in 2 KB."""
    exif = item.get("exif") or {}
    taken = str(exif.get("datetime_original") or "")
    filterable: dict[str, Any] = {}
    if taken[:4].isdigit():
        filterable["year"] = int(taken[:4])
    camera = " ".join(str(exif.get(k) or "").strip() for k in ("make", "model")).strip()
    if camera:
        filterable["camera"] = camera
    ranked = sorted(item.get("labels") or (), key=lambda label: -float(label.get("confidence") or 0))
    names = list(dict.fromkeys(str(label["name"]) for label in ranked if label.get("name")))
    while names and _size({**filterable, "labels": names}) > FILTERABLE_MAX:
        names.pop()
    if names:
        filterable["labels"] = names
    unfiltered = {"uri": f"s3://{item['bucket']}/{item['key']}", "version": str(item.get("version_id") or "")}
    return {**filterable, **unfiltered}


def _size(metadata: Mapping[str, Any]) -> int:
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


def encryption(kms_key_arn: str | None) -> dict[str, str]:
    """The vector bucket's encryption: the deployment's customer-managed key (SSE-KMS) where there is one,
    else the service's own keys (SSE-S3, its default)."""
    return {"sseType": "aws:kms", "kmsKeyArn": kms_key_arn} if kms_key_arn else {"sseType": "AES256"}


def ensure_index(
    client: Any, bucket: str, index: str, dimension: int, kms_key_arn: str | None = None
) -> None:
    """The vector bucket (encrypted as `encryption` says) and the model's index, created where missing
    (idempotent); ConfigError when the bucket exists encrypted otherwise (a bucket's encryption cannot
    change), or the index with another dimension (a different model under the same name)."""
    wanted = encryption(kms_key_arn)
    for create in (
        lambda: client.create_vector_bucket(vectorBucketName=bucket, encryptionConfiguration=wanted),
        lambda: client.create_index(
            vectorBucketName=bucket,
            indexName=index,
            dataType="float32",
            dimension=dimension,
            distanceMetric=METRIC,
            metadataConfiguration={"nonFilterableMetadataKeys": list(UNFILTERED)},
        ),
    ):
        try:
            create()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ALREADY_THERE:
                raise
    encrypted = client.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"].get(
        "encryptionConfiguration"
    )
    if (encrypted or {"sseType": "AES256"}) != wanted:
        raise ConfigError(
            f"vector bucket {bucket} is encrypted with {encrypted}, the deployment asks for {wanted}: a vector "
            "bucket's encryption cannot change; delete the bucket (its vectors are made again by a backfill) "
            "or name another"
        )
    found = client.get_index(vectorBucketName=bucket, indexName=index)["index"]
    if int(found["dimension"]) != dimension:
        raise ConfigError(
            f"vector index {bucket}/{index} holds {found['dimension']}-dimension vectors; the model gives "
            f"{dimension}: point the deployment at a new index or delete this one"
        )


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    return (items[start : start + size] for start in range(0, len(items), size))


def put(client: Any, bucket: str, index: str, records: Sequence[VectorRecord]) -> None:
    """Write (or replace) vectors, at most 500 a call."""
    for part in _chunks(records, PUT_BATCH):
        client.put_vectors(vectorBucketName=bucket, indexName=index, vectors=[r.to_api() for r in part])
