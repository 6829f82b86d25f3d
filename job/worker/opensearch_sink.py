"""The worker's OpenSearch sink: one document per image, written in bulk after each winning result write
and removed on delete; refused documents are recorded, never fail the image."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from job.core.opensearch import Settings, connect, doc_id, document, ensure_index

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
