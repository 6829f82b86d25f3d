"""OpenSearch, the pieces the worker's sink and the operator's search share: settings, client, mapping and
the document that stands for one image (id from bucket + key), and the k-NN index of image embeddings.

Optional: on when an endpoint is configured (`--opensearch-endpoint` / BUCKETLENS_OPENSEARCH_ENDPOINT).
Amazon OpenSearch Service is reached with SigV4 (`AWSV4SignerAuth`); a self-managed cluster with basic
auth whose user and password live in a Secrets Manager secret (`--opensearch-secret-arn`, JSON with
`username` and `password`), never in the environment. TLS is always verified.

With an embedding model, each image's vector is also written to `<index>-vectors`, a k-NN index (`index.knn`
is fixed when an index is made, so the document index of an existing deployment cannot take vectors). Its
documents are the searchable fields of the document index plus one `knn_vector` field per model
(`embedding_<digest>`, Lucene HNSW, cosine), so a search by meaning applies every filter during the k-NN
search itself (Lucene's efficient filtering: k results whenever k match).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_INDEX = "bucketlens"
VECTORS_SUFFIX = "-vectors"
KNN_K_MAX = 10_000  # the k-NN query's largest k (OpenSearch k-NN query reference)

MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "bucket": {"type": "keyword"},
        "key": {"type": "keyword"},
        "etag": {"type": "keyword"},
        "version_id": {"type": "keyword"},
        "size": {"type": "long"},
        "status": {"type": "keyword"},
        "labels": {
            "type": "nested",
            "properties": {
                "name": {"type": "keyword", "normalizer": "lowercase"},
                "confidence": {"type": "float"},
                "parents": {"type": "keyword"},
            },
        },
        "custom_labels": {
            "type": "nested",
            "properties": {
                "name": {"type": "keyword", "normalizer": "lowercase"},
                "confidence": {"type": "float"},
            },
        },
        "text_lines": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 256}}},
        "camera_make": {"type": "keyword", "normalizer": "lowercase"},
        "camera_model": {"type": "keyword", "normalizer": "lowercase"},
        "lens_model": {"type": "keyword"},
        "taken_at": {"type": "date", "format": "strict_date_optional_time"},
        "location": {"type": "geo_point"},
        "exposure_time": {"type": "float"},
        "f_number": {"type": "float"},
        "iso": {"type": "integer"},
        "focal_length": {"type": "float"},
        "processed_at": {"type": "date", "format": "strict_date_optional_time"},
    },
}
SETTINGS = {"analysis": {"normalizer": {"lowercase": {"type": "custom", "filter": ["lowercase"]}}}}


@dataclass(frozen=True)
class Settings:
    """Where the cluster is and how to sign in."""

    endpoint: str
    index: str = DEFAULT_INDEX
    auth: str = "sigv4"  # sigv4 | basic
    secret_arn: str | None = None
    region: str | None = None


def add_arguments(parser: Any) -> None:
    env = os.environ
    parser.add_argument(
        "--opensearch-endpoint",
        default=env.get("BUCKETLENS_OPENSEARCH_ENDPOINT"),
        help="https://… of the cluster [env BUCKETLENS_OPENSEARCH_ENDPOINT]",
    )
    parser.add_argument(
        "--opensearch-index",
        default=env.get("BUCKETLENS_OPENSEARCH_INDEX") or DEFAULT_INDEX,
        help="[env BUCKETLENS_OPENSEARCH_INDEX]",
    )
    parser.add_argument(
        "--opensearch-auth",
        choices=("sigv4", "basic"),
        default=env.get("BUCKETLENS_OPENSEARCH_AUTH") or "sigv4",
        help="[env BUCKETLENS_OPENSEARCH_AUTH]",
    )
    parser.add_argument(
        "--opensearch-secret-arn",
        default=env.get("BUCKETLENS_OPENSEARCH_SECRET_ARN"),
        help="basic auth: Secrets Manager secret with username and password [env BUCKETLENS_OPENSEARCH_SECRET_ARN]",
    )


def settings_from(args: Any) -> Settings | None:
    endpoint = getattr(args, "opensearch_endpoint", None)
    if not endpoint:
        return None
    return Settings(endpoint, args.opensearch_index, args.opensearch_auth, args.opensearch_secret_arn)


def doc_id(bucket: str, key: str) -> str:
    """Deterministic: the same object always overwrites its own document."""
    return hashlib.sha256(f"{bucket}\0{key}".encode()).hexdigest()


def connect(settings: Settings) -> Any:
    """An opensearch-py client, made at call time (tests inject their own instead)."""
    from urllib.parse import urlparse

    import opensearchpy

    from job.core import clients

    url = urlparse(settings.endpoint if "://" in settings.endpoint else "https://" + settings.endpoint)
    if url.scheme != "https":
        raise ValueError(f"OpenSearch endpoint must be https: {settings.endpoint}")
    if settings.auth == "basic":
        if not settings.secret_arn:
            raise ValueError("basic auth needs --opensearch-secret-arn (a secret with username and password)")
        secret = json.loads(
            clients.client("secretsmanager").get_secret_value(SecretId=settings.secret_arn)["SecretString"]
        )
        auth: Any = (secret["username"], secret["password"])
    else:
        import boto3

        session = boto3.session.Session()
        region = settings.region or session.region_name
        auth = opensearchpy.AWSV4SignerAuth(session.get_credentials(), region, "es")
    return opensearchpy.OpenSearch(
        hosts=[{"host": url.hostname, "port": url.port or 443}],
        http_auth=auth,
        use_ssl=True,
        verify_certs=True,
        connection_class=opensearchpy.RequestsHttpConnection,
        timeout=30,
        max_retries=3,
        retry_on_timeout=True,
    )


def ensure_index(client: Any, index: str) -> bool:
    """Create the index with our mapping unless it exists; True when created."""
    if client.indices.exists(index=index):
        return False
    try:
        client.indices.create(index=index, body={"settings": SETTINGS, "mappings": MAPPING})
    except Exception as exc:  # noqa: BLE001 - opensearch-py raises RequestError; another writer may have won
        if "resource_already_exists_exception" not in str(exc):
            raise
        return False
    return True


def vectors_index(index: str) -> str:
    """The k-NN index beside a document index."""
    return index + VECTORS_SUFFIX


def vector_field(model_digest: str) -> str:
    """One field per model: vectors of two models are never compared (as job.core.vectors.index_name)."""
    return f"embedding_{model_digest[:16]}"


def vector_mapping(dimension: int) -> dict[str, Any]:
    """A model's vector field: Lucene's HNSW, which filters during the search, with cosine similarity."""
    return {
        "type": "knn_vector",
        "dimension": dimension,
        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
    }


def ensure_vector_field(client: Any, index: str, field: str, dimension: int) -> bool:
    """The k-NN index with the model's field: made with it when missing (True), else the field added, a
    no-op when it is there already. A field of another dimension cannot be: its name carries the model."""
    if not client.indices.exists(index=index):
        body = {
            "settings": {"index": {"knn": True}, **SETTINGS},
            "mappings": {
                **MAPPING,
                "properties": {**MAPPING["properties"], field: vector_mapping(dimension)},
            },
        }
        try:
            client.indices.create(index=index, body=body)
            return True
        except Exception as exc:  # noqa: BLE001 - another writer may have won: add the field as below
            if "resource_already_exists_exception" not in str(exc):
                raise
    client.indices.put_mapping(index=index, body={"properties": {field: vector_mapping(dimension)}})
    return False


def similarity(score: float) -> float:
    """The cosine similarity behind a `cosinesimil` hit's score, which OpenSearch gives as (2 - d) / 2 with
    d = 1 - cosine ("Spaces" in the k-NN documentation): the same score S3 Vectors' results carry."""
    return 2.0 * float(score) - 1.0


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def document(item: Mapping[str, Any]) -> dict[str, Any]:
    """The searchable form of a results-table item (plus the item itself, returned by searches)."""
    plain = _plain(dict(item))
    exif = plain.get("exif") or {}
    gps = exif.get("gps") or {}
    taken = exif.get("datetime_original")
    doc = {
        "bucket": plain["bucket"],
        "key": plain["key"],
        "etag": plain.get("etag"),
        "version_id": plain.get("version_id"),
        "size": plain.get("size"),
        "status": plain.get("status"),
        "labels": [
            {k: lb.get(k) for k in ("name", "confidence", "parents")} for lb in plain.get("labels") or ()
        ],
        "custom_labels": [
            {k: c.get(k) for k in ("name", "confidence")} for c in plain.get("custom_labels") or ()
        ],
        "text_lines": [t.get("text") if isinstance(t, Mapping) else str(t) for t in plain.get("text") or ()],
        "camera_make": str(exif["make"]).lower() if exif.get("make") else None,  # the result keeps the case
        "camera_model": str(exif["model"]).lower() if exif.get("model") else None,
        "lens_model": exif.get("lens_model"),
        "taken_at": taken[:19] if isinstance(taken, str) and len(taken) >= 19 else None,
        "location": {"lat": gps["latitude"], "lon": gps["longitude"]}
        if gps.get("latitude") is not None and gps.get("longitude") is not None
        else None,
        "exposure_time": exif.get("exposure_time"),
        "f_number": exif.get("f_number"),
        "iso": exif.get("iso"),
        "focal_length": exif.get("focal_length"),
        "processed_at": plain.get("processed_at"),
        "result": plain,  # not indexed (dynamic: false): what a search hands back
    }
    return {k: v for k, v in doc.items() if v is not None}


def vector_document(item: Mapping[str, Any], field: str, vector: Any) -> dict[str, Any]:
    """The k-NN index's document: the searchable fields (no copy of the result) and the model's vector."""
    doc = document(item)
    doc.pop("result", None)
    doc[field] = [float(x) for x in vector]
    return doc
