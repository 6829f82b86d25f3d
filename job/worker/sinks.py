"""Secondary indexes fed after a result write wins: the DynamoDB label index and, when configured, OpenSearch.

The results table is the source of truth: a sink that fails is logged and counted (`index_errors` in the
run summary), never fails the image, and searches re-read every hit from the results table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Sink(Protocol):
    """One secondary index; implementations are thread-safe (worker threads call them concurrently)."""

    name: str

    def add(
        self, item: dict[str, Any], previous: dict[str, Any] | None, vector: Sequence[float] | None = None
    ) -> None:
        """After a write won: `item` is the stored result, `previous` the item it replaced when known, and
        `vector` the image's embedding when the run has an embedding model."""

    def remove(self, previous: dict[str, Any]) -> None:
        """After a result was deleted or tombstoned by job-side code (reconcile --fix)."""

    def flush(self) -> None:
        """Send what is buffered; records failures instead of raising."""


def build(ddb: Any, label_table: str, opensearch: Any = None) -> tuple[Sink, ...]:
    """The label index always; OpenSearch when settings (job.core.opensearch.Settings) are given."""
    from job.core.label_index import LabelIndexSink

    found: list[Sink] = [LabelIndexSink(ddb, label_table)]
    if opensearch is not None:
        from job.worker.opensearch_sink import OpenSearchSink

        found.append(OpenSearchSink.from_settings(opensearch))
    return tuple(found)
