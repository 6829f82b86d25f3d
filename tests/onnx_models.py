"""Tiny ONNX image classifiers built with the onnx helper API, so no test downloads a model."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

COLOURS = ("red", "blue")


def save(graph: onnx.GraphProto) -> bytes:
    """The graph as a model file onnxruntime 1.20 and later read, checked by onnx first."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.20 and later read
    onnx.checker.check_model(model)
    return model.SerializeToString()


def red_blue(size: int = 224, classes: int = 2, strength: float = 2.0, batch: int | str = "N") -> bytes:
    """(N, 3, size, size) -> GlobalAveragePool -> Flatten -> MatMul -> (N, classes) logits: the red channel
    minus the blue one says "red", the opposite says "blue" (after ImageNet normalisation). `batch`: a
    fixed batch size, as torch.onnx.export without dynamic_axes writes 1."""
    weights = np.zeros((3, classes), dtype=np.float32)
    weights[0, 0], weights[2, 0] = strength, -strength
    weights[0, 1], weights[2, 1] = -strength, strength
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        ],
        "red_blue",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])],
        [numpy_helper.from_array(weights, "weights")],
    )
    return save(graph)


def flat_input(features: int = 3 * 224 * 224) -> bytes:
    """A classifier whose input is a flat vector (rank 2): not an image model bucketlens can feed."""
    weights = np.zeros((features, 2), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "weights"], ["logits"])],
        "flat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(weights, "weights")],
    )
    return save(graph)


# A CLIP-shaped pair that knows colours: the image encoder gives an image's mean colour (after CLIP's
# normalisation, the embedding model's default), the text encoder looks each word up in a table where a colour word is that colour's vector
# and every other word is zero, and averages them. "red" then lies nearest the red images.
WORDS = ("[PAD]", "[UNK]", "a", "photo", "of", "red", "green", "blue")
PIXELS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}
CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


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
