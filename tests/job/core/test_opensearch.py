"""OpenSearch shared pieces: documents, the index mapping and the signed client (openmock; no cluster here)."""

from __future__ import annotations

from decimal import Decimal

import openmock
import pytest

from job.core import opensearch as osi

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
