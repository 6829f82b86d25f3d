"""The operator's OpenSearch search: one query for every filter (openmock; no cluster here)."""

from __future__ import annotations

import openmock
import pytest

from job.commands import opensearch_search
from job.commands.filters import Filters
from job.worker.opensearch_sink import OpenSearchSink
from tests.job.core.test_opensearch import ITEM


@pytest.fixture
def client():
    return openmock.FakeOpenSearch()


def test_queries_for_every_filter(client):
    # the query shape for the clauses openmock cannot evaluate (nested, geo_distance, match_phrase)
    q = opensearch_search.query(
        Filters(label="Car", min_confidence=90, text="stop", near=(48.86, 2.33, 5.0))
    )["bool"]["filter"]
    nested = q[1]["nested"]
    assert nested["path"] == "labels"
    assert nested["query"]["bool"]["filter"] == [
        {"term": {"labels.name": "car"}},
        {"range": {"labels.confidence": {"gte": 90}}},
    ]
    assert {"match_phrase": {"text_lines": "stop"}} in q
    assert {"geo_distance": {"distance": "5.0km", "location": {"lat": 48.86, "lon": 2.33}}} in q
    assert (
        opensearch_search.query(Filters(label="custom:Logo"))["bool"]["filter"][1]["nested"]["path"]
        == "custom_labels"
    )
    # and the ones it can (term, range) run against indexed documents
    sink = OpenSearchSink(client, "bl")
    sink.add({**ITEM, "key": "canon.jpg"})
    sink.add(
        {
            **ITEM,
            "key": "nikon.jpg",
            "exif": {**ITEM["exif"], "make": "nikon", "datetime_original": "2020-01-01T00:00:00"},
        }
    )
    sink.flush()
    by_camera = [i["key"] for i in opensearch_search.search(client, "bl", Filters(camera="canon"), 10)]
    assert by_camera == ["canon.jpg"]
    by_time = [
        i["key"]
        for i in opensearch_search.search(
            client, "bl", Filters(taken_from="2024-01-01", taken_to="2024-12-31"), 10
        )
    ]
    assert by_time == ["canon.jpg"]
