"""The vector store: one index per model, a vector per object (an overwrite replaces it), metadata that
always fits the service's 2 KB, and a model that disagrees with its index refused. (A delete removing it:
tests/lambda_submitter/test_handler.py.)"""

from __future__ import annotations

import pytest

from job.commands import vector_query
from job.core import clients, vectors
from job.core.errors import ConfigError
from job.demo import vector_search

BUCKET, INDEX = "deploy-vectors", vectors.index_name("ab" * 32)


@pytest.fixture
def s3vectors(aws):
    vector_search.install()
    client = clients.client("s3vectors")
    vectors.ensure_index(client, BUCKET, INDEX, 3)
    return client


def _item(key: str, labels: list[tuple[str, float]], taken: str = "2021-06-01T10:00:00") -> dict:
    return {
        "bucket": "photos",
        "key": key,
        "version_id": "v1",
        "exif": {"datetime_original": taken, "make": "Canon", "model": "EOS 5D"},
        "labels": [{"name": n, "confidence": c} for n, c in labels],
    }


def test_metadata_keeps_year_camera_and_the_most_confident_labels_within_2_kb():
    # given an item with 300 labels of long names, the least confident last
    item = _item("a.jpg", [(f"label-{i:03d}-" + "x" * 20, 100 - i * 0.1) for i in range(300)])
    # when its vector metadata is built
    meta = vectors.metadata_for(item)
    # then the filterable part fits, keeps the most confident labels, and the URI and version ride along
    filterable = {k: v for k, v in meta.items() if k not in vectors.UNFILTERED}
    assert vectors._size(filterable) <= vectors.FILTERABLE_MAX
    assert meta["labels"][0].startswith("label-000") and 0 < len(meta["labels"]) < 300
    assert (meta["year"], meta["camera"]) == (2021, "Canon EOS 5D")
    assert (meta["uri"], meta["version"]) == ("s3://photos/a.jpg", "v1")


def test_a_key_too_long_for_a_vector_key_becomes_its_digest():
    assert vectors.vector_key("photos", "a.jpg") == "photos/a.jpg"
    long_key = vectors.vector_key("photos", "k" * 1100)
    assert long_key.startswith("sha256:") and len(long_key) == 7 + 64


def test_vectors_are_found_by_meaning_filtered_by_metadata_and_replaced_by_an_overwrite(s3vectors):
    # given a red and a blue image, each with its metadata (the metadata of 300 labels too: it fits)
    red = vectors.VectorRecord(
        "photos/red.jpg", (1.0, 0.0, 0.0), vectors.metadata_for(_item("red.jpg", [("Car", 99)]))
    )
    blue = vectors.VectorRecord(
        "photos/blue.jpg",
        (0.0, 0.0, 1.0),
        vectors.metadata_for(
            _item("blue.jpg", [(f"l{i}-" + "y" * 30, 90) for i in range(300)], "2019-01-01")
        ),
    )
    vectors.put(s3vectors, BUCKET, INDEX, [red, blue])
    # when asked for red things, and for red things taken in 2019
    hits = vector_query.query(s3vectors, BUCKET, INDEX, (0.9, 0.1, 0.0), top_k=2)
    old = vector_query.query(s3vectors, BUCKET, INDEX, (0.9, 0.1, 0.0), top_k=2, where={"year": 2019})
    # then red comes first with its URI, and the filter leaves only the 2019 one
    assert [h.uri for h in hits] == ["s3://photos/red.jpg", "s3://photos/blue.jpg"]
    assert hits[0].distance < hits[1].distance
    assert [h.key for h in old] == ["photos/blue.jpg"]
    # when red.jpg is overwritten by a blue picture / then its one vector is the new one
    vectors.put(s3vectors, BUCKET, INDEX, [vectors.VectorRecord(red.key, (0.0, 0.1, 0.9), red.metadata)])
    assert vector_query.get(s3vectors, BUCKET, INDEX, red.key).data == pytest.approx((0.0, 0.1, 0.9))


def test_ensuring_the_index_twice_is_harmless_and_a_model_of_another_dimension_is_refused(s3vectors):
    # when the same model ensures its index again / then nothing changes
    vectors.ensure_index(s3vectors, BUCKET, INDEX, 3)
    # when a model of 512 dimensions meets the 3-dimension index / then it is a configuration error
    with pytest.raises(ConfigError, match="holds 3-dimension vectors; the model gives 512"):
        vectors.ensure_index(s3vectors, BUCKET, INDEX, 512)


def test_a_result_count_the_service_refuses_is_a_configuration_error(s3vectors):
    with pytest.raises(ConfigError, match="between 1 and 100"):
        vector_query.query(s3vectors, BUCKET, INDEX, (1.0, 0.0, 0.0), top_k=101)


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_the_vector_bucket_is_made_with_the_deployment_key_and_one_made_otherwise_is_refused(aws):
    # given no vector bucket yet / when the index is ensured with the deployment's key
    vector_search.install()
    client = clients.client("s3vectors")
    vectors.ensure_index(client, "keyed-vectors", INDEX, 3, KEY)
    # then the bucket is encrypted with that key (SSE-KMS), and ensuring again is harmless
    bucket = client.get_vector_bucket(vectorBucketName="keyed-vectors")["vectorBucket"]
    assert bucket["encryptionConfiguration"] == {"sseType": "aws:kms", "kmsKeyArn": KEY}
    vectors.ensure_index(client, "keyed-vectors", INDEX, 3, KEY)
    # when a bucket made without a key (SSE-S3) meets a deployment with one, or the other way round
    vectors.ensure_index(client, BUCKET, INDEX, 3)
    # then it is a configuration error that says why: a vector bucket's encryption cannot change
    with pytest.raises(ConfigError, match="encryption cannot change"):
        vectors.ensure_index(client, BUCKET, INDEX, 3, KEY)
    with pytest.raises(ConfigError, match="encryption cannot change"):
        vectors.ensure_index(client, "keyed-vectors", INDEX, 3)
