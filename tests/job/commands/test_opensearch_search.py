"""The operator's OpenSearch search: one query for every filter (openmock; no cluster here)."""

from __future__ import annotations

import openmock
import pytest

from job.commands import opensearch_search
from job.commands.filters import Filters
from job.worker.opensearch_sink import OpenSearchSink
from tests import search_standin
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


ADMIN = "arn:aws:iam::123456789012:role/search-admin"
FIELD = "embedding_0123456789abcdef"


@pytest.fixture
def domain() -> search_standin.Domain:
    return search_standin.Domain(master_arn=ADMIN)


@pytest.fixture
def master(domain):
    """A client of the stand-in domain as its master user (every method, every index)."""
    every = frozenset(f"es:ESHttp{m}" for m in ("Delete", "Get", "Head", "Post", "Put"))
    return search_standin.client(domain, search_standin.Principal(ADMIN, every))


def _photo(key: str, make: str, lat: float, text: str, label: str, confidence: int) -> dict:
    return {
        **ITEM,
        "key": key,
        "labels": [{"name": label, "confidence": confidence}],
        "text": [{"text": text}],
        "exif": {**ITEM["exif"], "make": make, "gps": {"latitude": lat, "longitude": 2.35}},
    }


PHOTOS = [  # (item, vector): two reddish Canon photos in Paris, a red Nikon one in Lyon, a blue one
    (_photo("red-canon.jpg", "Canon", 48.86, "STOP here", "Car", 95), [1.0, 0.0, 0.0]),
    (_photo("pink-canon.jpg", "Canon", 48.85, "no stopping", "Car", 60), [0.9, 0.3, 0.0]),
    (_photo("red-nikon.jpg", "Nikon", 45.76, "stop here", "Flower", 90), [0.8, 0.2, 0.1]),
    (_photo("blue-canon.jpg", "Canon", 48.86, "STOP", "Car", 99), [0.0, 0.1, 1.0]),
]


def _indexed(master) -> OpenSearchSink:
    sink = OpenSearchSink(master, "bl")
    sink.use_vectors(FIELD, 3)
    for item, vector in PHOTOS:
        sink.add(item, None, vector)
    sink.flush()
    assert sink.errors == 0
    return sink


def test_every_filter_holds_on_the_indexed_documents(master):
    # given four photos indexed / when each filter is searched alone / then it selects what it says
    _indexed(master)

    def keys(**filters) -> set[str]:
        return {i["key"] for i in opensearch_search.search(master, "bl", Filters(**filters), 10)}

    assert keys(label="car", min_confidence=90) == {"red-canon.jpg", "blue-canon.jpg"}
    assert keys(text="stop here") == {"red-canon.jpg", "red-nikon.jpg"}  # a phrase, not "no stopping"
    assert keys(near=(45.76, 2.35, 50.0)) == {"red-nikon.jpg"}  # Lyon, not Paris (390 km away)
    assert keys(camera="nikon") == {"red-nikon.jpg"}


def test_a_search_by_meaning_filters_during_the_knn_search_not_after_it(master):
    # given the photos and their vectors in the k-NN index
    _indexed(master)
    red = [1.0, 0.05, 0.0]
    # when the one nearest red is asked for, with no filter / then it is the red Canon, scored as a cosine
    (best,) = opensearch_search.nearest(master, "bl-vectors", FIELD, red, Filters(), 1)
    assert best["key"] == "red-canon.jpg" and best["score"] == pytest.approx(0.9988, abs=1e-3)
    # when the one nearest red is asked for among Nikon photos / then it is found although two Canon photos
    # are nearer: the filter is applied during the search (a filter after it would leave nothing)
    (nikon,) = opensearch_search.nearest(master, "bl-vectors", FIELD, red, Filters(camera="nikon"), 1)
    assert nikon["key"] == "red-nikon.jpg" and FIELD not in nikon
    # and with a label and confidence: the nearest confident Car is the red Canon, then the blue one
    cars = opensearch_search.nearest(
        master, "bl-vectors", FIELD, red, Filters(label="Car", min_confidence=90), 5
    )
    assert [h["key"] for h in cars] == ["red-canon.jpg", "blue-canon.jpg"]
    # and an image's own vector is found by its id
    stored = opensearch_search.stored_vector(master, "bl-vectors", FIELD, "b", "red-nikon.jpg")
    assert stored == [0.8, 0.2, 0.1]
    assert opensearch_search.stored_vector(master, "bl-vectors", FIELD, "b", "gone.jpg") is None


def test_a_vector_the_index_cannot_take_is_refused_and_counted_and_the_rest_are_indexed(master, domain):
    # given a k-NN index of 3-dimension vectors
    sink = _indexed(master)
    # when a 4-dimension vector and a zero vector are indexed beside a good one
    sink.add({**ITEM, "key": "long.jpg"}, None, [1.0, 0.0, 0.0, 0.0])
    sink.add({**ITEM, "key": "zero.jpg"}, None, [0.0, 0.0, 0.0])
    sink.add({**ITEM, "key": "fine.jpg"}, None, [0.0, 1.0, 0.0])
    sink.flush()
    # then both are refused (recorded), their documents in the document index are there, and the good one is in
    assert sink.errors == 2
    vectors = {d["key"] for d in domain.indices["bl-vectors"].values()}
    assert "fine.jpg" in vectors and not {"long.jpg", "zero.jpg"} & vectors
    assert {"long.jpg", "zero.jpg", "fine.jpg"} <= {d["key"] for d in domain.indices["bl"].values()}
    # and a query the k-NN plugin refuses is an error, not an empty answer
    with pytest.raises(Exception, match="invalid dimension"):
        opensearch_search.nearest(master, "bl-vectors", FIELD, [1.0, 0.0], Filters(), 1)
    with pytest.raises(Exception, match="requires k"):
        opensearch_search.nearest(master, "bl-vectors", FIELD, [1.0, 0.0, 0.0], Filters(), 10_001)
