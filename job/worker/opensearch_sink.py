"""The worker's OpenSearch sink: one document per image, written in bulk after each winning result write
and removed on delete, and with an embedding model the image's vector in the k-NN index beside it; refused
documents are recorded, never fail the image."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from job.core.opensearch import (
    Settings,
    connect,
    doc_id,
    document,
    ensure_index,
    ensure_vector_field,
    vector_document,
    vectors_index,
)

log = logging.getLogger(__name__)

BULK_DOCS = 200
RETRIES = 3
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenSearchSink:
    """The worker's OpenSearch sink (job.sinks.Sink): bulk requests, per-document failure handling."""

    name = "opensearch"

    def __init__(
        self,
        client: Any,
        index: str,
        batch: int = BULK_DOCS,
        sleep: Any = time.sleep,
    ) -> None:
        self.client, self.index, self.batch, self.sleep = client, index, batch, sleep
        self.errors = 0
        self._docs: list[tuple[str, str, dict]] = []  # (index, id, document)
        self._lock = threading.Lock()
        self._ready = False
        self.vectors: tuple[str, int] | None = None  # the model's (field, dimension), once use_vectors says

    def use_vectors(self, field: str, dimension: int) -> None:
        """Write each image's vector too (job.core.opensearch.vector_field of the embedding model)."""
        self.vectors = (field, dimension)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenSearchSink:
        return cls(connect(settings), settings.index)

    def add(
        self,
        item: dict[str, Any],
        previous: dict[str, Any] | None = None,
        vector: Sequence[float] | None = None,
    ) -> None:
        if item.get("status") == "deleted":
            self.remove(item)
            return
        _id = doc_id(item["bucket"], item["key"])
        with self._lock:
            self._docs.append((self.index, _id, document(item)))
            if vector is not None and self.vectors is not None:
                self._docs.append(
                    (vectors_index(self.index), _id, vector_document(item, self.vectors[0], vector))
                )
            full = len(self._docs) >= self.batch
        if full:
            self.flush()

    def remove(self, previous: dict[str, Any]) -> None:
        _id = doc_id(previous["bucket"], previous["key"])
        for index in (self.index, vectors_index(self.index)) if self.vectors else (self.index,):
            try:
                self.client.delete(index=index, id=_id)
            except Exception as exc:  # noqa: BLE001 - NotFoundError is fine; others are counted
                if getattr(exc, "status_code", None) != 404 and "not_found" not in str(exc).lower():
                    self.errors += 1
                    log.warning(
                        "search document not removed",
                        extra={"key": previous.get("key"), "index": index, "error": str(exc)},
                    )

    def flush(self) -> None:
        with self._lock:
            docs, self._docs = self._docs, []
        if not docs:
            return
        try:
            if not self._ready:
                ensure_index(self.client, self.index)
                if self.vectors is not None:
                    ensure_vector_field(self.client, vectors_index(self.index), *self.vectors)
                self._ready = True
            self._send(docs)
        except Exception as exc:  # noqa: BLE001 - the results table has them; reconcile can re-index
            self.errors += len(docs)
            log.warning(
                "search documents not indexed",
                extra={"documents": len(docs), "error": f"{type(exc).__name__}: {exc}"},
            )

    def _send(self, docs: list[tuple[str, str, dict]]) -> None:
        """Bulk, then the failed documents again while the cluster says try later; the rest recorded."""
        for attempt in range(RETRIES + 1):
            body: list[dict] = []
            for index, _id, doc in docs:
                body += [{"index": {"_index": index, "_id": _id}}, doc]
            answer = self.client.bulk(body=body)
            if not answer.get("errors"):
                return
            retry, failed = [], []
            for entry, result in zip(docs, answer.get("items", ()), strict=False):
                outcome = result.get("index") or next(iter(result.values()), {})
                if "error" not in outcome:
                    continue
                (retry if outcome.get("status") in RETRY_STATUSES else failed).append((entry, outcome))
            for (_, _, doc), outcome in failed:
                self.errors += 1
                log.warning(
                    "search document refused",
                    extra={"key": doc.get("key"), "error": json.dumps(outcome.get("error"))[:500]},
                )
            if not retry:
                return
            if attempt == RETRIES:
                for (_, _, doc), outcome in retry:
                    self.errors += 1
                    log.warning(
                        "search document not indexed after retries",
                        extra={"key": doc.get("key"), "status": outcome.get("status")},
                    )
                return
            self.sleep(min(5.0, 0.5 * 2**attempt))
            docs = [entry for entry, _ in retry]
