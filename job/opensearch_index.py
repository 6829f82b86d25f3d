"""OpenSearch: one document per image (id from bucket + key), written in bulk after each winning result
write, removed on delete, and searched with every filter (label + confidence, text, camera, time, place).

Optional: on when an endpoint is configured (`--opensearch-endpoint` / BUCKETLENS_OPENSEARCH_ENDPOINT).
Amazon OpenSearch Service is reached with SigV4 (`AWSV4SignerAuth`); a self-managed cluster with basic
auth whose user and password live in a Secrets Manager secret (`--opensearch-secret-arn`, JSON with
`username` and `password`), never in the environment. TLS is always verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from job.search import Filters

log = logging.getLogger(__name__)

DEFAULT_INDEX = "bucketlens"
BULK_DOCS = 200
RETRIES = 3
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RESULTS = 10_000  # OpenSearch's default max_result_window

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

    from job import clients

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


class OpenSearchSink:
    """The worker's OpenSearch sink (job.sinks.Sink): bulk requests, per-document failure handling."""

    name = "opensearch"

    def __init__(self, client: Any, index: str, batch: int = BULK_DOCS, sleep: Any = time.sleep) -> None:
        self.client, self.index, self.batch, self.sleep = client, index, batch, sleep
        self.errors = 0
        self._docs: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenSearchSink:
        return cls(connect(settings), settings.index)

    def add(self, item: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
        if item.get("status") == "deleted":
            self.remove(item)
            return
        with self._lock:
            self._docs.append((doc_id(item["bucket"], item["key"]), document(item)))
            full = len(self._docs) >= self.batch
        if full:
            self.flush()

    def remove(self, previous: dict[str, Any]) -> None:
        try:
            self.client.delete(index=self.index, id=doc_id(previous["bucket"], previous["key"]))
        except Exception as exc:  # noqa: BLE001 - NotFoundError is fine; others are counted
            if getattr(exc, "status_code", None) != 404 and "not_found" not in str(exc).lower():
                self.errors += 1
                log.warning(
                    "search document not removed", extra={"key": previous.get("key"), "error": str(exc)}
                )

    def flush(self) -> None:
        with self._lock:
            docs, self._docs = self._docs, []
        if not docs:
            return
        try:
            if not self._ready:
                ensure_index(self.client, self.index)
                self._ready = True
            self._send(docs)
        except Exception as exc:  # noqa: BLE001 - the results table has them; reconcile can re-index
            self.errors += len(docs)
            log.warning(
                "search documents not indexed",
                extra={"documents": len(docs), "error": f"{type(exc).__name__}: {exc}"},
            )

    def _send(self, docs: list[tuple[str, dict]]) -> None:
        """Bulk, then the failed documents again while the cluster says try later; the rest recorded."""
        for attempt in range(RETRIES + 1):
            body: list[dict] = []
            for _id, doc in docs:
                body += [{"index": {"_index": self.index, "_id": _id}}, doc]
            answer = self.client.bulk(body=body)
            if not answer.get("errors"):
                return
            retry, failed = [], []
            for (_id, doc), result in zip(docs, answer.get("items", ()), strict=False):
                outcome = result.get("index") or next(iter(result.values()), {})
                if "error" not in outcome:
                    continue
                (retry if outcome.get("status") in RETRY_STATUSES else failed).append((_id, doc, outcome))
            for _, doc, outcome in failed:
                self.errors += 1
                log.warning(
                    "search document refused",
                    extra={"key": doc.get("key"), "error": json.dumps(outcome.get("error"))[:500]},
                )
            if not retry:
                return
            if attempt == RETRIES:
                for _, doc, outcome in retry:
                    self.errors += 1
                    log.warning(
                        "search document not indexed after retries",
                        extra={"key": doc.get("key"), "status": outcome.get("status")},
                    )
                return
            self.sleep(min(5.0, 0.5 * 2**attempt))
            docs = [(_id, doc) for _id, doc, _ in retry]
