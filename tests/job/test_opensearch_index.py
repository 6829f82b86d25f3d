"""OpenSearch: mapping, documents, bulk with partial failures, delete and queries (openmock; no cluster here)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from job import opensearch_index as osi
from job.search import Filters

openmock = pytest.importorskip("openmock")

ITEM = {
    "bucket": "b",
    "key": "photos/k.jpg",
    "etag": "e1",
    "status": "done",
    "size": 1234,
    "labels": [{"name": "Car", "confidence": Decimal("91.5"), "parents": ["Vehicle"]}],
    "custom_labels": [{"name": "Logo", "confidence": Decimal("88")}],
    "text": [{"text": "STOP here", "confidence": Decimal("99")}],
    "exif": {
        "make": "Canon",
        "model": "Canon EOS 5D",
        "datetime_original": "2024-05-01T10:00:00",
        "gps": {"latitude": Decimal("48.8584"), "longitude": Decimal("2.2945")},
    },
}


@pytest.fixture
def client():
    return openmock.FakeOpenSearch()


def test_document_has_dates_geo_points_labels_and_the_result(client):
    doc = osi.document(ITEM)
    assert doc["taken_at"] == "2024-05-01T10:00:00"
    assert doc["location"] == {"lat": 48.8584, "lon": 2.2945}
    assert doc["labels"] == [{"name": "Car", "confidence": 91.5, "parents": ["Vehicle"]}]
    assert doc["text_lines"] == ["STOP here"] and doc["camera_make"] == "canon"
    assert doc["result"]["key"] == "photos/k.jpg" and isinstance(doc["result"]["size"], int)
    assert (
        osi.doc_id("b", "photos/k.jpg") == osi.doc_id("b", "photos/k.jpg") != osi.doc_id("b", "photos/k2.jpg")
    )


def test_index_is_created_once_with_the_mapping(client):
    assert osi.ensure_index(client, "bl") is True
    assert osi.ensure_index(client, "bl") is False
    assert client.indices.exists(index="bl")


def test_sink_bulk_indexes_then_removes(client):
    # given a sink with a batch of 2
    sink = osi.OpenSearchSink(client, "bl", batch=2)
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
    sink = osi.OpenSearchSink(cluster, "bl", batch=10, sleep=lambda s: None)
    for key in ("ok.jpg", "busy.jpg", "bad.jpg"):
        sink.add({**ITEM, "key": key})
    sink.flush()
    # then the second bulk carried only the throttled document, and one refusal was recorded
    assert [d["key"] for d in cluster.bodies[1][1::2]] == ["busy.jpg"]
    assert len(cluster.bodies) == 2 and sink.errors == 1


def test_queries_for_every_filter(client):
    # the query shape for the clauses openmock cannot evaluate (nested, geo_distance, match_phrase)
    q = osi.query(Filters(label="Car", min_confidence=90, text="stop", near=(48.86, 2.33, 5.0)))["bool"][
        "filter"
    ]
    nested = q[1]["nested"]
    assert nested["path"] == "labels"
    assert nested["query"]["bool"]["filter"] == [
        {"term": {"labels.name": "car"}},
        {"range": {"labels.confidence": {"gte": 90}}},
    ]
    assert {"match_phrase": {"text_lines": "stop"}} in q
    assert {"geo_distance": {"distance": "5.0km", "location": {"lat": 48.86, "lon": 2.33}}} in q
    assert osi.query(Filters(label="custom:Logo"))["bool"]["filter"][1]["nested"]["path"] == "custom_labels"
    # and the ones it can (term, range) run against indexed documents
    sink = osi.OpenSearchSink(client, "bl")
    sink.add({**ITEM, "key": "canon.jpg"})
    sink.add(
        {
            **ITEM,
            "key": "nikon.jpg",
            "exif": {**ITEM["exif"], "make": "nikon", "datetime_original": "2020-01-01T00:00:00"},
        }
    )
    sink.flush()
    by_camera = [i["key"] for i in osi.search(client, "bl", Filters(camera="canon"), 10)]
    assert by_camera == ["canon.jpg"]
    by_time = [
        i["key"]
        for i in osi.search(client, "bl", Filters(taken_from="2024-01-01", taken_to="2024-12-31"), 10)
    ]
    assert by_time == ["canon.jpg"]


def test_connect_signs_with_sigv4_over_verified_tls_and_refuses_plain_http(aws):
    # given an Amazon OpenSearch Service endpoint / when a client is made (no request is sent)
    client = osi.connect(osi.Settings("https://search-bl.us-east-1.es.amazonaws.com"))
    # then it speaks TLS with verified certificates on 443, signing every request
    connection = client.transport.get_connection()
    assert connection.host == "https://search-bl.us-east-1.es.amazonaws.com:443"
    assert connection.session.verify not in (False, None)  # True or a CA bundle path: verified
    assert type(connection.session.auth).__name__ == "AWSV4SignerAuth"
    # and a plain-HTTP endpoint or basic auth without a secret is refused before any call
    with pytest.raises(ValueError):
        osi.connect(osi.Settings("http://localhost:9200"))
    with pytest.raises(ValueError):
        osi.connect(osi.Settings("https://search.example.com", auth="basic"))
