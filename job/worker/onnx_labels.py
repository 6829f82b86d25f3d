"""The `onnx` labeler: the user's own image classifier (ONNX, ImageNet-style), run by onnxruntime in batches.

Worker threads decode and resize their images (`preprocess`) while one thread per model runs the batches
(`Batcher`), so decoding overlaps inference. Answers have Rekognition's shape (`Label`) with a `source`,
so the results table, the label index, search and the report take them unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from job.core.errors import ConfigError
from job.worker import convert

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP = 0.875  # ImageNet evaluation: the shorter side resized to size / 0.875, then a centre crop of size
DIGEST_CHARS = 12  # of the SHA-256 in each label's `source`; the feature key keeps all 64


class ModelError(ConfigError):
    """The model or its labels file cannot be used as configured: no retry can help (exit 78)."""


@dataclass(frozen=True)
class Settings:
    """How images are prepared for the model and which of its answers are kept."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    top_k: int = 5
    min_confidence: float = 1.0  # percent, after softmax
    batch: int = 16
    # auto: CUDA when the GPU build of onnxruntime finds a GPU, else the CPU; cuda: the GPU or nothing (the
    # GPU job definition sets it, so a job that lands without CUDA stops instead of running on the CPU at
    # GPU prices); cpu: never the GPU
    device: str = "auto"
    crop: float = CROP  # the share of the resized shorter side kept: ImageNet's 0.875, CLIP's 1.0


@dataclass(frozen=True)
class OnnxLabel:
    """One class the model saw, in the stored label's shape, with the model that said so."""

    name: str
    confidence: float
    source: str

    def to_dict(self) -> dict:
        return {"name": self.name, "confidence": self.confidence, "source": self.source}


@dataclass(frozen=True)
class Model:
    """A loaded classifier: its session, its input, its classes and the SHA-256 of its bytes."""

    name: str
    digest: str
    input_name: str
    labels: tuple[str, ...]
    session: Any = field(repr=False, compare=False)
    # the batch size the model declares when it is fixed (torch.onnx.export without dynamic_axes gives 1),
    # None when any size runs: every inference then gets exactly that many images (the last padded)
    fixed_batch: int | None = None

    @property
    def source(self) -> str:
        """What each label records as its origin: `<model name>@<digest prefix>`."""
        return f"{self.name}@{self.digest[:DIGEST_CHARS]}"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_labels(data: bytes, name: str = "labels") -> tuple[str, ...]:
    """Class names by output index: a JSON list, a JSON object {"0": "tench", ...}, or one name per line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{name}: not UTF-8 text") from exc
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{name}: not valid JSON: {exc}") from exc
        if isinstance(parsed, dict):
            try:
                by_index = {int(k): v for k, v in parsed.items()}
            except ValueError as exc:
                raise ModelError(f"{name}: a JSON object's keys must be class indexes") from exc
            if sorted(by_index) != list(range(len(by_index))):
                raise ModelError(
                    f"{name}: class indexes must run from 0 to {len(by_index) - 1} without a gap"
                )
            parsed = [by_index[i] for i in range(len(by_index))]
        if not all(isinstance(v, str) and v.strip() for v in parsed):
            raise ModelError(f"{name}: every class name must be a non-empty string")
        labels = tuple(v.strip() for v in parsed)
    else:
        labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise ModelError(f"{name}: no class names")
    return labels


def load(
    data: bytes,
    labels: Sequence[str],
    name: str,
    settings: Settings = Settings(),
    providers: Sequence[str] | None = None,
) -> Model:
    """Check the model against the settings and its labels before any image is paid for."""
    session = open_session(data, name, settings.device, providers)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ModelError(f"{name}: {len(inputs)} inputs; an image classifier takes one (N, 3, H, W) tensor")
    fixed_batch = check_image_input(inputs[0], name, settings.size)
    classes = outputs[0].shape[-1] if outputs and outputs[0].shape else None
    if isinstance(classes, int) and classes != len(labels):
        raise ModelError(f"{name}: {classes} output classes, but the labels file names {len(labels)}")
    return Model(name, digest(data), inputs[0].name, tuple(labels), session, fixed_batch)


def open_session(data: bytes, name: str, device: str, providers: Sequence[str] | None = None) -> Any:
    """An onnxruntime session for the model's bytes, on `device`, threads sized to the container; a model
    onnxruntime cannot read, or a GPU that did not load when one is required, is a ModelError."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError("onnxruntime is not installed: pip install 'bucketlens[onnx]'") from exc

    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    # onnxruntime would start a thread per core of the host: 48 on a large Batch instance, whatever the
    # child's vCPUs. As many as the container may use, so the decoding threads keep their share.
    options.intra_op_num_threads = convert.cpu_limit()
    chosen = list(providers or choose_providers(ort.get_available_providers(), device))
    if "CUDAExecutionProvider" in chosen and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from their pip wheels (the image's gpu target)
    try:
        session = ort.InferenceSession(data, options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own classes (InvalidProtobuf, Fail...) for bad files
        raise ModelError(f"{name}: onnxruntime cannot load it: {type(exc).__name__}: {exc}") from exc
    if device == "cuda" and session.get_providers()[:1] != ["CUDAExecutionProvider"]:
        # onnxruntime falls back to the CPU, with a warning only, when CUDA or cuDNN does not load
        raise ModelError(
            f"{name}: CUDA did not load (onnxruntime runs {session.get_providers()}): the GPU image on a "
            "GPU instance (ECS_AL2023_NVIDIA, driver >= 580) is needed; no image was labelled on the CPU"
        )
    return session


def check_image_input(spec: Any, name: str, size: int) -> int | None:
    """An image model's one input must be (N, 3, size, size) floats; returns its fixed batch size, if any."""
    shape = list(spec.shape)
    if len(shape) != 4:
        raise ModelError(f"{name}: input {spec.name!r} has shape {shape}; expected (N, 3, H, W)")
    if isinstance(shape[1], int) and shape[1] != 3:
        raise ModelError(f"{name}: input {spec.name!r} has {shape[1]} channels; expected 3 (RGB)")
    for axis, side in (("height", shape[2]), ("width", shape[3])):
        if isinstance(side, int) and side != size:
            raise ModelError(
                f"{name}: input {axis} is {side}, the setting is {size} (set BUCKETLENS_MODEL_SIZE={side})"
            )
    fixed_batch = shape[0] if isinstance(shape[0], int) else None
    if fixed_batch is not None and fixed_batch < 1:
        raise ModelError(f"{name}: input {spec.name!r} declares a batch of {fixed_batch} images")
    if spec.type != "tensor(float)":
        raise ModelError(f"{name}: input type {spec.type}; expected tensor(float)")
    return fixed_batch


DEVICES = ("auto", "cpu", "cuda")


def choose_providers(available: Sequence[str], device: str) -> list[str]:
    """The onnxruntime execution providers for `device` among those this build offers (pure)."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelError(
                "--model-device cuda: this onnxruntime has no CUDA (it offers "
                f"{', '.join(available)}): run the image's gpu variant on a GPU instance"
            )
        return ["CUDAExecutionProvider"]
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def preprocess(image: Image.Image, settings: Settings) -> np.ndarray:
    """The evaluation transform: shorter side to size/crop (ImageNet 0.875, CLIP 1), centre crop, scale,
    normalise, CHW."""
    size = settings.size
    short = math.ceil(size / settings.crop)
    width, height = image.size
    scale = short / min(width, height)
    resized = image.convert("RGB").resize(
        (max(size, round(width * scale)), max(size, round(height * scale))), Image.Resampling.BILINEAR
    )
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    pixels = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    pixels = (pixels - np.asarray(settings.mean, np.float32)) / np.asarray(settings.std, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def prepare(data: bytes, *settings: Settings) -> tuple[np.ndarray, ...]:
    """The object's bytes as each model's input (any format convert.decode reads), decoded once for all of
    them; raises convert.BadImage."""
    image = convert.decode(data, max(math.ceil(s.size / s.crop) for s in settings))
    try:
        return tuple(preprocess(image, s) for s in settings)
    finally:
        image.close()


def _probabilities(scores: np.ndarray) -> np.ndarray:
    """Softmax, unless the model already ends in one (rows of non-negative numbers summing to 1)."""
    if np.all(scores >= 0) and np.allclose(scores.sum(axis=-1), 1.0, atol=1e-3):
        return scores
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def run_batched(session: Any, input_name: str, fixed_batch: int | None, batch: np.ndarray) -> np.ndarray:
    """A model's outputs for a batch, one row per input: in one inference, or, for a model of a fixed batch
    size, in inferences of exactly that size, the last one padded with zeros."""
    size = fixed_batch or len(batch)
    rows = []
    for start in range(0, len(batch), size):
        part = batch[start : start + size]
        if len(part) < size:
            part = np.concatenate([part, np.zeros((size - len(part), *part.shape[1:]), part.dtype)])
        rows.append(np.asarray(session.run(None, {input_name: part})[0]).reshape(size, -1))
    return np.concatenate(rows)[: len(batch)]


def _scores(model: Model, batch: np.ndarray) -> np.ndarray:
    """The classifier's outputs for a batch (N, 3, H, W), one row per image."""
    return run_batched(model.session, model.input_name, model.fixed_batch, batch)


def classify(model: Model, batch: np.ndarray, settings: Settings) -> list[tuple[OnnxLabel, ...]]:
    """Inference over a batch (N, 3, H, W): per image the top-k classes at or above the floor."""
    probabilities = _probabilities(np.asarray(_scores(model, batch), dtype=np.float64))
    answers = []
    for row in probabilities:
        best = np.argsort(row)[::-1][: settings.top_k]
        answers.append(
            tuple(
                OnnxLabel(model.labels[i], round(float(row[i]) * 100, 3), model.source)
                for i in best
                if row[i] * 100 >= settings.min_confidence
            )
        )
    return answers


def feature_key(features: str, model: Model) -> str:
    """The stored feature set names the model by its whole SHA-256: a new model re-labels, the same one
    is never run twice on the same object version."""
    return features.replace("labels", f"labels@onnx:{model.digest}")


class BatchRunner:
    """Collects inputs from many threads into batches for one inference thread; each caller gets a Future.

    A batch runs as soon as it is full, or when `linger_s` passes with fewer (the last images of a shard).
    `infer` takes the stacked batch and returns one answer per input.
    """

    def __init__(self, infer: Any, size: int, name: str, linger_s: float = 0.02) -> None:
        self.infer = infer
        self.size = size
        self.linger_s = linger_s
        self.batches = 0  # inference calls made (the run counts images in its Stats)
        self._queue: queue.Queue[tuple[np.ndarray, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, pixels: np.ndarray) -> Future:
        future: Future = Future()
        self._queue.put((pixels, future))
        return future

    def answer(self, pixels: np.ndarray) -> Any:
        """The answer for one prepared image; waits for its batch."""
        return self.submit(pixels).result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            entries = [first]
            closing = False
            while len(entries) < self.size:
                try:
                    entry = self._queue.get(timeout=self.linger_s)
                except queue.Empty:
                    break
                if entry is None:
                    closing = True
                    break
                entries.append(entry)
            self._run(entries)
            if closing:
                return

    def _run(self, entries: list[tuple[np.ndarray, Future]]) -> None:
        try:
            answers = self.infer(np.stack([pixels for pixels, _ in entries]))
            self.batches += 1
        except Exception as exc:  # onnxruntime's errors reach the image's thread, which records them
            for _, future in entries:
                future.set_exception(exc)
            return
        for (_, future), answer in zip(entries, answers, strict=True):
            future.set_result(answer)


class Batcher(BatchRunner):
    """The classifier's batches: each image's classes (`labels`)."""

    def __init__(self, model: Model, settings: Settings, linger_s: float = 0.02) -> None:
        self.model = model
        self.settings = settings
        super().__init__(
            lambda batch: classify(model, batch, settings),
            model.fixed_batch or settings.batch,
            "onnx-batcher",
            linger_s,
        )

    def labels(self, pixels: np.ndarray) -> tuple[OnnxLabel, ...]:
        """The classes for one prepared image; waits for its batch."""
        return self.answer(pixels)
