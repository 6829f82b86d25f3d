"""A tiny CLIP-shaped model that knows only colours, built with the onnx helper API: the demo's stand-in for
a real embedding model (it says so), and the tests' model, so neither downloads one.

The image encoder gives an image's mean colour (after CLIP's normalisation, the embedding model's default);
the text encoder looks each word up in a table where a colour word is that colour's vector and every other
word is zero, and averages them. "red" then lies nearest the red images. It needs the `onnx` package (a test
and demo tool, not a runtime dependency).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from job.worker.embeddings import CLIP_MEAN, CLIP_STD


def save(graph: onnx.GraphProto) -> bytes:
    """The graph as a model file onnxruntime 1.20 and later read, checked by onnx first."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.20 and later read
    onnx.checker.check_model(model)
    return model.SerializeToString()


WORDS = ("[PAD]", "[UNK]", "a", "photo", "of", "red", "green", "blue")
PIXELS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}
CLIP = (CLIP_MEAN, CLIP_STD)


def colour_vector(rgb: tuple[float, float, float]) -> np.ndarray:
    """Where the image encoder puts a picture of one colour (channels in 0..1)."""
    mean, std = (np.asarray(v, np.float32) for v in CLIP)
    return (np.asarray(rgb, np.float32) - mean) / std


def colour_image_encoder(size: int = 224, dimension: int = 3) -> bytes:
    """(N, 3, size, size) -> GlobalAveragePool -> Flatten -> MatMul -> (N, dimension): the mean colour."""
    weights = np.eye(3, dimension, dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["pixel_values"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "projection"], ["image_embeds"]),
        ],
        "colour_image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["N", dimension])],
        [numpy_helper.from_array(weights, "projection")],
    )
    return save(graph)


def colour_text_encoder(rows: int = len(WORDS), dimension: int = 3, context: int | str = "L") -> bytes:
    """(N, L) int64 ids -> Gather from a (rows, dimension) table -> mean over L -> (N, dimension)."""
    table = np.zeros((rows, dimension), dtype=np.float32)
    for word, rgb in PIXELS.items():
        if WORDS.index(word) < rows:
            table[WORDS.index(word), :3] = colour_vector(rgb)[:dimension]
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["tokens"], axis=0),
            helper.make_node("ReduceMean", ["tokens"], ["text_embeds"], axes=[1], keepdims=0),
        ],
        "colour_text",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", context])],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["N", dimension])],
        [numpy_helper.from_array(table, "table")],
    )
    return save(graph)


def word_tokenizer(words: tuple[str, ...] = WORDS) -> bytes:
    """A word-level tokenizer.json (lower-cased, split on whitespace), as the `tokenizers` package writes."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer.to_str().encode()
