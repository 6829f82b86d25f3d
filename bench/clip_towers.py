"""CLIP ViT-B/32's two towers as ONNX graphs, built with the onnx helper API with random weights (which cost
the same time as trained ones), so the benches time the real shapes without downloading a model.

Text (query_bench): a 49,408-token embedding table, 77 positions, 12 pre-norm transformer layers of width
512, 8 heads, a causal mask, a 2,048-wide MLP, the projection to 512. Image (embed_bench): 32 x 32 patches of
a 224 x 224 image by one strided convolution (49 tokens), 12 layers of width 768, 12 heads, a 3,072-wide MLP,
the projection to 512; mean-pooled where CLIP prepends a class token (50 tokens instead of 49: 2 % more work
in CLIP, not counted here).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_models import save

VOCABULARY, CONTEXT, OUT = 49_408, 77, 512
TEXT = {"width": 512, "heads": 8, "layers": 12, "mlp": 2_048}
IMAGE = {"width": 768, "heads": 12, "layers": 12, "mlp": 3_072, "size": 224, "patch": 32}


class _Tower:
    """Pre-norm residual transformer blocks as ONNX nodes."""

    def __init__(self, width: int, heads: int, layers: int, mlp: int, tokens: int, seed: int) -> None:
        self.width, self.heads, self.layers, self.mlp, self.tokens = width, heads, layers, mlp, tokens
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def weight(self, *shape: int, scale: float = 0.02) -> str:
        name = self._name("w")
        self.weights.append(
            numpy_helper.from_array(self.rng.normal(0, scale, shape).astype(np.float32), name)
        )
        return name

    def const(self, value: np.ndarray) -> str:
        name = self._name("c")
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: object) -> str:
        out = self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def norm(self, x: str) -> str:
        ones = self.const(np.ones(self.width, np.float32))
        return self.op("LayerNormalization", [x, ones, self.weight(self.width)], axis=-1)

    def linear(self, x: str, cin: int, cout: int) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.weight(cin, cout)]), self.weight(cout)])

    def split_heads(self, x: str) -> str:
        """(N, L, W) -> (N, H, L, W/H)."""
        shape = np.array([0, self.tokens, self.heads, self.width // self.heads], np.int64)
        return self.op("Transpose", [self.op("Reshape", [x, self.const(shape)])], perm=[0, 2, 1, 3])

    def block(self, x: str, mask: str | None) -> str:
        h = self.norm(x)
        q, k, v = (self.split_heads(self.linear(h, self.width, self.width)) for _ in range(3))
        scores = self.op("MatMul", [q, self.op("Transpose", [k], perm=[0, 1, 3, 2])])
        scale = self.const(np.array(1 / np.sqrt(self.width // self.heads), np.float32))
        scaled = self.op("Mul", [scores, scale])
        if mask is not None:
            scaled = self.op("Add", [scaled, mask])
        attended = self.op("MatMul", [self.op("Softmax", [scaled], axis=-1), v])
        merged = self.op(
            "Reshape",
            [
                self.op("Transpose", [attended], perm=[0, 2, 1, 3]),
                self.const(np.array([0, self.tokens, self.width], np.int64)),
            ],
        )
        x = self.op("Add", [x, self.linear(merged, self.width, self.width)])
        hidden = self.linear(self.norm(x), self.width, self.mlp)
        gelu = self.op(  # CLIP's quick GELU
            "Mul",
            [hidden, self.op("Sigmoid", [self.op("Mul", [hidden, self.const(np.array(1.702, np.float32))])])],
        )
        return self.op("Add", [x, self.linear(gelu, self.mlp, self.width)])

    def finish(self, x: str, output: str, name: str, inputs: list[onnx.ValueInfoProto]) -> bytes:
        pooled = self.op("ReduceMean", [self.norm(x)], axes=[1], keepdims=0)
        self.nodes.append(helper.make_node("MatMul", [pooled, self.weight(self.width, OUT)], [output]))
        graph = helper.make_graph(
            self.nodes,
            name,
            inputs,
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", OUT])],
            self.weights,
        )
        return save(graph)


def text_encoder() -> bytes:
    """(N, 77) int64 token ids -> (N, 512)."""
    tower = _Tower(**TEXT, tokens=CONTEXT, seed=7)
    tokens = tower.op("Gather", [tower.weight(VOCABULARY, tower.width), "input_ids"], axis=0)
    x = tower.op("Add", [tokens, tower.weight(CONTEXT, tower.width, scale=0.01)])
    mask = tower.const(np.triu(np.full((CONTEXT, CONTEXT), -1e4, np.float32), 1))
    for _ in range(tower.layers):
        x = tower.block(x, mask)
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", CONTEXT])
    return tower.finish(x, "text_embeds", "clip_text", [ids])


def image_encoder() -> bytes:
    """(N, 3, 224, 224) floats -> (N, 512)."""
    size, patch = IMAGE["size"], IMAGE["patch"]
    grid = size // patch
    tower = _Tower(**{k: IMAGE[k] for k in TEXT}, tokens=grid * grid, seed=32)
    patches = tower.op(
        "Conv",
        ["pixel_values", tower.weight(tower.width, 3, patch, patch)],
        kernel_shape=[patch, patch],
        strides=[patch, patch],
    )
    flat = tower.op("Reshape", [patches, tower.const(np.array([0, tower.width, grid * grid], np.int64))])
    x = tower.op(
        "Add", [tower.op("Transpose", [flat], perm=[0, 2, 1]), tower.weight(grid * grid, tower.width)]
    )
    x = tower.norm(x)
    for _ in range(tower.layers):
        x = tower.block(x, None)
    pixels = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", 3, size, size])
    return tower.finish(x, "image_embeds", "clip_image", [pixels])
