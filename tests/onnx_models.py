"""Tiny ONNX image classifiers built with the onnx helper API, so no test downloads a model."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from job.demo.tiny_model import (  # noqa: F401 - the tests' colour-aware CLIP pair is the demo's
    CLIP,
    PIXELS,
    WORDS,
    colour_image_encoder,
    colour_text_encoder,
    colour_vector,
    save,
    word_tokenizer,
)

COLOURS = ("red", "blue")


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
