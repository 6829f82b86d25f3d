"""The emulator's S3 Vectors: QueryVectors with AWS's metrics and filter language, and the documented limits
moto leaves out, through boto3 as our code will call them."""

from __future__ import annotations

import math

import pytest
from botocore.exceptions import ClientError

from job.core import clients
from job.demo import vector_search

# The metadata filter examples of the S3 User Guide, "Metadata filtering", and what each must match
MOVIES = {
    "doc-1": {"genre": "documentary", "year": 2019, "tags": ["nature", "ocean"]},
    "doc-2": {"genre": ["documentary", "romance"], "year": 2023},
    "drama": {"genre": "drama", "year": 2021, "rated": True},
}
FILTERS = [
    ({"genre": "documentary"}, {"doc-1", "doc-2"}),  # simple equality; a list matches any element
    ({"genre": {"$ne": "documentary"}}, {"drama"}),
    ({"year": {"$gt": 2019}}, {"doc-2", "drama"}),
    ({"year": {"$gte": 2019, "$lt": 2023}}, {"doc-1", "drama"}),
    ({"genre": {"$in": ["drama", "romance"]}}, {"doc-2", "drama"}),
    ({"genre": {"$nin": ["drama", "romance"]}}, {"doc-1"}),
    ({"rated": {"$exists": True}}, {"drama"}),
    ({"$and": [{"genre": "documentary"}, {"year": {"$lte": 2020}}]}, {"doc-1"}),
    ({"$or": [{"tags": "ocean"}, {"rated": True}]}, {"doc-1", "drama"}),
    ({"genre": "documentary", "year": 2023}, {"doc-2"}),  # fields are ANDed
]


@pytest.mark.parametrize(("where", "expected"), FILTERS, ids=[str(f) for f, _ in FILTERS])
def test_each_documented_filter_matches_what_the_guide_says(where, expected):
    # given the movies / when each filter is applied / then exactly the expected ones pass
    assert {key for key, meta in MOVIES.items() if vector_search.matches(where, meta)} == expected


@pytest.mark.parametrize(
    "where",
    [
        {"year": {"$gt": "2019"}},
        {"genre": {"$in": []}},
        {"$or": []},
        {"genre": {"$regex": "doc"}},
        {"x": {"$exists": 1}},
    ],
)
def test_a_filter_aws_refuses_is_refused(where):
    with pytest.raises(vector_search.FilterError):
        vector_search.matches(where, MOVIES["doc-1"])


def test_distances_are_the_services():
    # given two vectors at 90 degrees / then cosine distance is 1 and euclidean is their straight-line gap
    assert vector_search.distance("cosine", [1, 0], [0, 2]) == pytest.approx(1.0)
    assert vector_search.distance("cosine", [1, 1], [2, 2]) == pytest.approx(0.0)
    assert vector_search.distance("euclidean", [1, 0], [0, 2]) == pytest.approx(math.sqrt(5))


def _index(client, dimension: int, metric: str):
    """A vector bucket `vectors` with one index, `images`."""
    client.create_vector_bucket(vectorBucketName="vectors")
    client.create_index(
        vectorBucketName="vectors",
        indexName="images",
        dataType="float32",
        dimension=dimension,
        distanceMetric=metric,
    )
    return client


@pytest.fixture
def index(aws):
    vector_search.install()
    return _index(clients.client("s3vectors"), 3, "cosine")


def test_query_vectors_ranks_by_distance_and_filters_by_metadata(index):
    # given three vectors: red, nearly red, blue, with the year each was taken
    index.put_vectors(
        vectorBucketName="vectors",
        indexName="images",
        vectors=[
            {"key": "red", "data": {"float32": [1.0, 0.0, 0.0]}, "metadata": {"year": 2020}},
            {"key": "reddish", "data": {"float32": [0.9, 0.1, 0.0]}, "metadata": {"year": 2024}},
            {"key": "blue", "data": {"float32": [0.0, 0.0, 1.0]}, "metadata": {"year": 2024}},
        ],
    )
    # when asked for what is closest to red
    answer = index.query_vectors(
        vectorBucketName="vectors",
        indexName="images",
        topK=2,
        queryVector={"float32": [1.0, 0.0, 0.0]},
        returnDistance=True,
        returnMetadata=True,
    )
    # then red and reddish come first, closest first, with their distances and metadata
    assert [v["key"] for v in answer["vectors"]] == ["red", "reddish"]
    assert answer["vectors"][0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert answer["vectors"][1]["metadata"] == {"year": 2024} and answer["distanceMetric"] == "cosine"
    # and a filter keeps only what it matches
    recent = index.query_vectors(
        vectorBucketName="vectors",
        indexName="images",
        topK=5,
        queryVector={"float32": [1.0, 0.0, 0.0]},
        filter={"year": {"$gte": 2024}},
    )
    assert [v["key"] for v in recent["vectors"]] == ["reddish", "blue"]


def test_the_documented_limits_are_enforced(index):
    def put(vectors):
        index.put_vectors(vectorBucketName="vectors", indexName="images", vectors=vectors)

    one = {"key": "k", "data": {"float32": [1.0, 0.0, 0.0]}}
    # then over 500 vectors a call, over 2 KB of filterable metadata, over 100 results, and an index
    # created twice are refused as AWS refuses them
    with pytest.raises(ClientError, match="ValidationException"):
        put([{**one, "key": f"k{i}"} for i in range(501)])
    with pytest.raises(ClientError, match="ValidationException"):
        put([{**one, "metadata": {"note": "x" * 2100}}])
    with pytest.raises(ClientError, match="ValidationException"):
        index.query_vectors(
            vectorBucketName="vectors", indexName="images", topK=101, queryVector={"float32": [1.0, 0.0, 0.0]}
        )
    with pytest.raises(ClientError, match="ConflictException"):
        index.create_index(
            vectorBucketName="vectors",
            indexName="images",
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
        )


def test_the_demo_emulator_answers_query_vectors_over_http():
    # given the emulator the demo and the multi-process tests start
    import boto3

    from job.demo.emulator import Emulator

    with Emulator() as account:
        client = _index(boto3.client("s3vectors", endpoint_url=account.url), 2, "euclidean")
        client.put_vectors(
            vectorBucketName="vectors",
            indexName="images",
            vectors=[
                {"key": k, "data": {"float32": v}} for k, v in (("near", [1.0, 1.0]), ("far", [9.0, 9.0]))
            ],
        )
        # when it is queried over HTTP / then it answers as the service does
        answer = client.query_vectors(
            vectorBucketName="vectors",
            indexName="images",
            topK=1,
            queryVector={"float32": [0.0, 0.0]},
            returnDistance=True,
        )
    assert [(v["key"], round(v["distance"], 3)) for v in answer["vectors"]] == [("near", 1.414)]
