"""Embeddings in a real run: each image's vector stored in the model's index beside its labels, found by a
text, never computed twice for one object version, and a model that cannot be used stops the run (78)."""

from __future__ import annotations

import pytest

from job.commands import vector_query
from job.core import clients, errors, vectors
from job.demo import vector_search
from job.worker import embeddings, run
from job.worker.config import from_args
from tests.job.worker_helpers import BLUE, BUCKET, RED, RESULTS, TABLE, image_bytes, items, run_summary, world
from tests.onnx_models import colour_image_encoder, colour_text_encoder, word_tokenizer

VECTORS = "bl-vectors"
IMAGES = {
    "in/red.jpg": image_bytes("JPEG", (640, 480), RED),
    "in/red.heic": image_bytes("HEIF", (400, 300), RED),
    "in/blue.png": image_bytes("PNG", (300, 500), BLUE),
    "in/blue.webp": image_bytes("WEBP", (400, 300), BLUE),
}
FILES = {
    "image.onnx": colour_image_encoder,
    "text.onnx": colour_text_encoder,
    "tokenizer.json": word_tokenizer,
}


def _upload_model(**replaced: bytes) -> None:
    s3 = clients.client("s3")
    for name, build in FILES.items():
        s3.put_object(Bucket=RESULTS, Key=f"models/{name}", Body=replaced.get(name) or build())


def _config(**options):
    base = {
        "source": f"s3://{BUCKET}/in/",
        "table": TABLE,
        "results_uri": f"s3://{RESULTS}/runs",
        "embed_image_uri": f"s3://{RESULTS}/models/image.onnx",
        "embed_text_uri": f"s3://{RESULTS}/models/text.onnx",
        "embed_tokenizer_uri": f"s3://{RESULTS}/models/tokenizer.json",
        "vector_bucket": VECTORS,
    }
    return from_args({**base, **options}, env={})


def _encoders() -> embeddings.Encoders:
    return embeddings.load(colour_image_encoder(), colour_text_encoder(), word_tokenizer(), "image")


def test_every_image_is_embedded_beside_its_labels_and_a_text_finds_it(aws):
    # given red and blue photos, and an embedding model in S3
    vector_search.install()
    world({**IMAGES, "in/not-really.jpg": b"plain text"})
    _upload_model()
    # when a child runs with Rekognition labels and the embedding model
    assert run.run(_config()) == errors.EXIT_OK
    # then every image is done, its feature key names the model, and its vector is in the model's index
    model = _encoders()
    index = vectors.index_name(model.digest)
    store = clients.client("s3vectors")
    stored = items()
    for key in IMAGES:
        assert stored[key]["status"] == "done" and stored[key]["features"] == f"labels,embed@{model.digest}"
        vector = vector_query.get(store, VECTORS, index, vectors.vector_key(BUCKET, key))
        assert vector is not None and vector.metadata["uri"] == f"s3://{BUCKET}/{key}"
    # and the file that is no image is a recorded error with no vector
    assert stored["in/not-really.jpg"]["status"] == "error"
    assert vector_query.get(store, VECTORS, index, vectors.vector_key(BUCKET, "in/not-really.jpg")) is None
    # and a search for "red" finds the red photos first
    (query,) = embeddings.embed_texts(model, ["red"])
    hits = vector_query.query(store, VECTORS, index, query, top_k=4)
    assert {h.key for h in hits[:2]} == {f"{BUCKET}/in/red.jpg", f"{BUCKET}/in/red.heic"}
    assert run_summary()["calls"]["onnx.Embed"] == len(IMAGES)


def test_a_rerun_embeds_nothing_and_an_overwrite_replaces_the_vector(aws):
    # given a finished run
    vector_search.install()
    world(IMAGES)
    _upload_model()
    assert run.run(_config()) == errors.EXIT_OK
    # when it runs again / then nothing is embedded again
    assert run.run(_config()) == errors.EXIT_OK
    summary = run_summary()
    assert "onnx.Embed" not in summary["calls"] and summary["outcomes"]["skipped_done"] == len(IMAGES)
    # when red.jpg is overwritten by a blue picture and the child runs / then its one vector is blue now
    clients.client("s3").put_object(
        Bucket=BUCKET, Key="in/red.jpg", Body=image_bytes("JPEG", (640, 480), BLUE)
    )
    assert run.run(_config()) == errors.EXIT_OK
    model = _encoders()
    index = vectors.index_name(model.digest)
    store = clients.client("s3vectors")
    (blue,) = embeddings.embed_texts(model, ["blue"])
    hits = vector_query.query(store, VECTORS, index, blue, top_k=10)
    assert len(hits) == len(IMAGES)
    assert {h.key for h in hits[:3]} == {
        f"{BUCKET}/in/red.jpg",
        f"{BUCKET}/in/blue.png",
        f"{BUCKET}/in/blue.webp",
    }


@pytest.mark.parametrize(
    ("replaced", "says"),
    [
        ({"text.onnx": colour_text_encoder(dimension=4)}, "the image encoder gives 3-dimension vectors"),
        ({"text.onnx": colour_text_encoder(rows=5)}, "does not fit the text encoder"),
    ],
    ids=["dimensions-disagree", "tokenizer-does-not-fit"],
)
def test_a_model_that_cannot_be_used_ends_the_run_as_configuration_before_any_image(aws, replaced, says):
    # given images and an embedding model with one part that does not fit
    vector_search.install()
    world(IMAGES)
    _upload_model(**replaced)
    # when the child runs / then it exits 78 with the reason, and no image was touched
    assert run.run(_config()) == errors.EXIT_CONFIG
    assert says in run_summary()["fatal"]
    assert items() == {}


def test_the_first_job_makes_the_vector_bucket_with_the_deployment_key(aws):
    # given images, the model, and a deployment with a customer-managed key
    vector_search.install()
    world(IMAGES)
    _upload_model()
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    # when the first child runs / then it made the vector bucket with that key and embedded every image
    assert run.run(_config(vector_kms_key_arn=key)) == errors.EXIT_OK
    bucket = clients.client("s3vectors").get_vector_bucket(vectorBucketName=VECTORS)["vectorBucket"]
    assert bucket["encryptionConfiguration"] == {"sseType": "aws:kms", "kmsKeyArn": key}
    assert run_summary()["calls"]["onnx.Embed"] == len(IMAGES)


def test_a_missing_model_file_ends_the_run_as_configuration(aws):
    vector_search.install()
    world(IMAGES)
    assert run.run(_config()) == errors.EXIT_CONFIG
    assert "--embed-image-uri s3://bl-results-bucket/models/image.onnx: NoSuchKey" in run_summary()["fatal"]


def test_a_model_of_another_dimension_than_its_index_is_refused(aws):
    # given the model's index already made for 5-dimension vectors (another model under that name)
    vector_search.install()
    world(IMAGES)
    _upload_model()
    vectors.ensure_index(clients.client("s3vectors"), VECTORS, vectors.index_name(_encoders().digest), 5)
    # when the child runs / then it exits 78 before any image
    assert run.run(_config()) == errors.EXIT_CONFIG
    assert "holds 5-dimension vectors; the model gives 3" in run_summary()["fatal"]
    assert items() == {}


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"vector_bucket": None}, "--vector-bucket"),
        ({"embed_text_uri": "text.onnx"}, "--embed-text-uri s3://bucket/key"),
        ({"vector_kms_key_arn": "alias/bucketlens"}, "--vector-kms-key-arn must be a KMS key ARN"),
        ({"embed_size": "8"}, "--embed-size must be between 16 and 4096"),
    ],
)
def test_embedding_settings_are_checked_before_any_aws_call(options, says):
    from job.core.errors import ConfigError

    with pytest.raises(ConfigError, match=says):
        _config(**options)


def test_an_image_overwritten_while_it_is_embedded_is_left_to_its_next_event(aws, monkeypatch):
    # given photos whose red.jpg is overwritten between its labels and its whole read for the embedding
    from job.worker import s3 as worker_s3

    vector_search.install()
    world(IMAGES)
    _upload_model()
    whole_read = worker_s3.get_bytes

    def changed(client, ref, max_bytes):
        if ref.key == "in/red.jpg":
            raise worker_s3.ObjectChanged(ref.key)
        return whole_read(client, ref, max_bytes)

    monkeypatch.setattr(worker_s3, "get_bytes", changed)
    # when the child runs / then red.jpg has neither a result nor a vector (its overwrite's event does it),
    # and the others are done
    assert run.run(_config()) == errors.EXIT_OK
    stored = items()
    assert "in/red.jpg" not in stored and all(
        stored[k]["status"] == "done" for k in IMAGES if k != "in/red.jpg"
    )
    index = vectors.index_name(_encoders().digest)
    store = clients.client("s3vectors")
    assert vector_query.get(store, VECTORS, index, vectors.vector_key(BUCKET, "in/red.jpg")) is None
    assert run_summary()["outcomes"]["skipped_changed"] == 1


def test_with_the_onnx_labeler_each_image_is_read_and_decoded_once_for_both_models(aws):
    # given the onnx labeler's colour model beside the embedding model
    from tests.onnx_models import COLOURS, red_blue

    vector_search.install()
    world(IMAGES)
    _upload_model()
    s3 = clients.client("s3")
    s3.put_object(Bucket=RESULTS, Key="models/colours.onnx", Body=red_blue())
    s3.put_object(Bucket=RESULTS, Key="models/colours.txt", Body="\n".join(COLOURS).encode())
    # when a child labels and embeds
    onnx = {
        "labeler": "onnx",
        "model_uri": f"s3://{RESULTS}/models/colours.onnx",
        "model_labels_uri": f"s3://{RESULTS}/models/colours.txt",
    }
    assert run.run(_config(**onnx)) == errors.EXIT_OK
    # then each image was labelled and embedded, from one ranged EXIF read and one whole read
    calls = run_summary()["calls"]
    assert calls["onnx.Classify"] == calls["onnx.Embed"] == len(IMAGES)
    assert calls["s3.GetObject"] == 2 * len(IMAGES)
    # and each got its own classes from the labeler's ImageNet transform and a vector from CLIP's
    stored = items()
    assert stored["in/red.jpg"]["labels"][0]["name"] == "red"
    assert stored["in/blue.png"]["labels"][0]["name"] == "blue"


PROMPTS = [  # the prompt list a user writes (job/worker/prompts.py documents its shape)
    {"name": "Red", "prompt": "a red photo", "threshold": 0.9},
    {"name": "Red", "prompt": "red", "threshold": 0.9},
    {"name": "Blue", "prompt": "a photo of blue", "threshold": 0.9},
]


def _prompts(entries) -> str:
    import json

    clients.client("s3").put_object(Bucket=RESULTS, Key="models/prompts.json", Body=json.dumps(entries))
    return f"s3://{RESULTS}/models/prompts.json"


def test_the_clip_labeler_labels_from_prompts_with_no_rekognition_call(aws):
    # given photos, the embedding model and a prompt list in S3
    vector_search.install()
    world(IMAGES)
    _upload_model()
    uri = _prompts(PROMPTS)
    # when a child runs with labeler clip
    assert run.run(_config(labeler="clip", prompts_uri=uri)) == errors.EXIT_OK
    # then each image has the label of its colour only, from the model and the prompt set
    stored = items()
    for key in IMAGES:
        colour = "Red" if "red" in key else "Blue"
        labels = stored[key]["labels"]
        assert [label["name"] for label in labels] == [colour]
        assert "+prompts@" in labels[0]["source"] and float(labels[0]["confidence"]) >= 90
        assert stored[key]["features"] == f"labels@clip,embed@{_encoders().digest}"
    # and Rekognition was never called, each image embedded once (in batches) and read whole once
    calls = run_summary()["calls"]
    assert not any(name.startswith("rekognition.") for name in calls)
    assert calls["onnx.Embed"] == len(IMAGES) and calls["s3.GetObject"] == 2 * len(IMAGES)
    # and the label index finds them by the prompt's name
    from job.core import label_index

    found = label_index.query(clients.client("dynamodb"), f"{TABLE}-label-index", "Red")
    assert {row["key"] for row in found} == {"in/red.jpg", "in/red.heic"}


@pytest.mark.parametrize(
    ("entries", "says"),
    [
        ([], "an empty prompt list"),
        ([{"name": "Red", "prompt": "", "threshold": 0.2}], "needs a non-empty prompt text"),
        ([{"name": "Red", "prompt": "red", "threshold": 2}], "needs a threshold above -1 and at most 1"),
    ],
    ids=["empty", "no-text", "threshold-out-of-range"],
)
def test_a_prompt_list_that_cannot_be_used_ends_the_run_before_any_image(aws, entries, says):
    # given photos, the model and a prompt list that cannot label anything
    vector_search.install()
    world(IMAGES)
    _upload_model()
    uri = _prompts(entries)
    # when the child runs with labeler clip / then it exits 78 with the reason and touched no image
    assert run.run(_config(labeler="clip", prompts_uri=uri)) == errors.EXIT_CONFIG
    assert says in run_summary()["fatal"]
    assert items() == {}


def test_the_clip_labeler_needs_the_model_and_a_prompt_list():
    from job.core.errors import ConfigError

    with pytest.raises(ConfigError, match="--labeler clip needs --prompts-uri"):
        _config(labeler="clip")
    with pytest.raises(ConfigError, match="--labeler clip needs the embedding model"):
        from_args({"source": f"s3://{BUCKET}/in/", "labeler": "clip", "prompts_uri": "s3://b/p.json"}, env={})
    with pytest.raises(ConfigError, match="labels only"):
        _config(labeler="clip", prompts_uri="s3://b/p.json", features="labels,text")
