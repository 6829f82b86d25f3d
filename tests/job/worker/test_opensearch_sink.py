"""The worker's OpenSearch sink: bulk writes with partial failures, and deletes (openmock; no cluster here)."""

from __future__ import annotations

import openmock
import pytest

from job.core import opensearch as osi
from job.worker.opensearch_sink import OpenSearchSink
from tests.job.core.test_opensearch import ITEM


@pytest.fixture
def client():
    return openmock.FakeOpenSearch()


def test_sink_bulk_indexes_then_removes(client):
    # given a sink with a batch of 2
    sink = OpenSearchSink(client, "bl", batch=2)
    # when three results are added and the sink flushed
    for key in ("a.jpg", "b.jpg", "c.jpg"):
        sink.add({**ITEM, "key": key})
    sink.flush()
    # then all three documents are there under their deterministic ids, and none failed
    assert client.count(index="bl")["count"] == 3 and sink.errors == 0
    assert client.get(index="bl", id=osi.doc_id("b", "b.jpg"))["_source"]["key"] == "b.jpg"
    # when one is deleted / then it is gone, and deleting it again is no error
    sink.remove({"bucket": "b", "key": "b.jpg"})
    sink.remove({"bucket": "b", "key": "b.jpg"})
    assert client.count(index="bl")["count"] == 2 and sink.errors == 0


class PartialBulk:
    """A cluster that throttles one document once and refuses another for good."""

    def __init__(self) -> None:
        self.bodies: list[list] = []
        self.indices = self

    def exists(self, index):
        return True

    def bulk(self, body):
        self.bodies.append(body)
        docs = body[1::2]
        items = []
        for doc in docs:
            if doc["key"] == "bad.jpg":
                items.append({"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}})
            elif doc["key"] == "busy.jpg" and len(self.bodies) == 1:
                items.append({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}})
            else:
                items.append({"index": {"status": 201}})
        return {"errors": any("error" in i["index"] for i in items), "items": items}


def test_partial_bulk_failures_retry_the_throttled_and_record_the_refused():
    cluster = PartialBulk()
    sink = OpenSearchSink(cluster, "bl", batch=10, sleep=lambda s: None)
    for key in ("ok.jpg", "busy.jpg", "bad.jpg"):
        sink.add({**ITEM, "key": key})
    sink.flush()
    # then the second bulk carried only the throttled document, and one refusal was recorded
    assert [d["key"] for d in cluster.bodies[1][1::2]] == ["busy.jpg"]
    assert len(cluster.bodies) == 2 and sink.errors == 1
