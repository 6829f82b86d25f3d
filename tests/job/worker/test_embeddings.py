"""The user's embedding model: images and texts in one space, so "red" finds the red images and an image
finds its near copies through the vector store; a model whose parts do not fit is refused (exit 78)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from job.commands import vector_query
from job.core import clients, errors, vectors
from job.demo import vector_search
from job.worker import embeddings, onnx_labels
from job.worker.onnx_labels import ModelError, Settings
from tests import onnx_models

PICTURES = {  # key: an RGB colour, as a camera would save it
    "red.jpg": (220, 20, 20),
    "dark-red.jpg": (150, 10, 10),
    "green.jpg": (20, 200, 30),
    "blue.jpg": (10, 30, 210),
}


def _jpeg(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _pair(**text) -> embeddings.Encoders:
    return embeddings.load(
        onnx_models.colour_image_encoder(),
        onnx_models.colour_text_encoder(**text),
        onnx_models.word_tokenizer(),
        "colours",
    )


def test_a_text_finds_its_images_and_an_image_its_near_copy(aws):
    # given four photos embedded by a colour-aware CLIP-shaped pair and stored in the model's index
    vector_search.install()
    model = _pair()
    pixels = np.stack([onnx_labels.prepare(_jpeg(rgb), Settings())[0] for rgb in PICTURES.values()])
    rows = embeddings.embed_images(model, pixels)
    store = clients.client("s3vectors")
    index = vectors.index_name(model.digest)
    vectors.ensure_index(store, "vectors", index, model.dimension)
    vectors.put(
        store,
        "vectors",
        index,
        [
            vectors.VectorRecord(f"photos/{key}", tuple(row), {})
            for key, row in zip(PICTURES, rows, strict=True)
        ],
    )
    # when a person searches for "a red photo"
    (query,) = embeddings.embed_texts(model, ["a RED photo"])
    by_text = vector_query.query(store, "vectors", index, query, top_k=4)
    # then the two red photos come first
    assert {h.key for h in by_text[:2]} == {"photos/red.jpg", "photos/dark-red.jpg"}
    # when they ask for images like red.jpg, from its stored vector
    stored = vector_query.get(store, "vectors", index, "photos/red.jpg")
    like = vector_query.query(store, "vectors", index, stored.data, top_k=2)
    # then it is first (distance 0) and its near copy next
    assert [h.key for h in like] == ["photos/red.jpg", "photos/dark-red.jpg"]
    assert like[0].distance == pytest.approx(0.0, abs=1e-6)


def test_vectors_are_unit_length_and_the_model_is_named_by_all_three_files():
    # given the pair / when it embeds / then its vectors have length 1 and its size is the encoders'
    model = _pair()
    (row,) = embeddings.embed_texts(model, ["green"])
    assert model.dimension == 3 and np.linalg.norm(row) == pytest.approx(1.0)
    # and a different tokenizer is a different model: the feature key changes, so it embeds again
    other = embeddings.load(
        onnx_models.colour_image_encoder(),
        onnx_models.colour_text_encoder(),
        onnx_models.word_tokenizer((*onnx_models.WORDS[:-1], "azure")),
        "colours",
    )
    assert other.digest != model.digest
    assert embeddings.feature_key("exif,labels", model) == f"exif,labels,embed@{model.digest}"


@pytest.mark.parametrize(
    ("parts", "complaint"),
    [
        (
            lambda: (onnx_models.colour_image_encoder(), onnx_models.colour_text_encoder(dimension=4)),
            "image encoder gives 3-dimension vectors, the text encoder 4",
        ),
        (
            lambda: (onnx_models.colour_image_encoder(), onnx_models.colour_text_encoder(rows=5)),
            "tokenizer (8 tokens) does not fit the text encoder",
        ),
        (
            lambda: (onnx_models.colour_image_encoder(), onnx_models.colour_image_encoder()),
            "expected (N, L) token ids",
        ),
        (lambda: (b"not a model", onnx_models.colour_text_encoder()), "onnxruntime cannot load it"),
    ],
    ids=["dimensions disagree", "tokenizer does not fit", "text encoder takes pixels", "not onnx"],
)
def test_a_model_whose_parts_do_not_fit_is_a_configuration_error(parts, complaint):
    # given an embedding model with one thing wrong / when it is loaded
    image, text = parts()
    with pytest.raises(ModelError, match=re.escape(complaint)) as raised:
        embeddings.load(image, text, onnx_models.word_tokenizer(), "broken")
    # then the error says which, and it exits 78 (no retry helps)
    assert errors.failure(raised.value)[0] == errors.EXIT_CONFIG


def test_an_empty_text_is_refused():
    with pytest.raises(ModelError, match="must not be empty"):
        embeddings.embed_texts(_pair(), ["  "])
