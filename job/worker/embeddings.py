"""The user's own embedding model, CLIP-style: an image encoder (N, 3, H, W) -> (N, D), a text encoder
(N, L) -> (N, D) and its tokenizer (`tokenizer.json`, read by the `tokenizers` package), all in ONNX.

Images and texts land in one space, so a text finds images by meaning and an image finds its near copies.
Vectors are L2-normalised, so the index's cosine distance is 1 - their dot product. Everything a model could
get wrong (shapes, dimensions that disagree, a tokenizer whose ids the text encoder cannot look up) is a
ModelError (exit 78) before any image is read. The SHA-256 of the three files names the model in the
feature key, so a rerun with the same model reads and infers nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from job.worker import onnx_labels
from job.worker.onnx_labels import ModelError, Settings

PROBE_TEXT = "a photo"
TEXT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}
# OpenAI CLIP's and open_clip's evaluation transform: the shorter side resized to the input size, a centre
# crop of it (nothing more cut), these mean and std per channel
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_CROP = 1.0


@dataclass(frozen=True)
class Encoders:
    """A loaded embedding model: both sessions, the tokenizer, the vector size and the model's digest."""

    name: str
    digest: str
    dimension: int
    context: int  # tokens a text is padded or cut to
    image_input: str
    text_input: str
    text_type: Any = field(repr=False)
    image_session: Any = field(repr=False, compare=False)
    text_session: Any = field(repr=False, compare=False)
    tokenizer: Any = field(repr=False, compare=False)
    image_batch: int | None = None  # the image encoder's fixed batch size, if it declares one

    @property
    def source(self) -> str:
        """What a stored vector or a prompt label records as its origin: `<name>@<digest prefix>`."""
        return f"{self.name}@{self.digest[: onnx_labels.DIGEST_CHARS]}"


def digest(image: bytes, text: bytes, tokenizer: bytes) -> str:
    """One SHA-256 over the three files: a change to any of them is a new model."""
    whole = hashlib.sha256()
    for part in (image, text, tokenizer):
        whole.update(hashlib.sha256(part).digest())
    return whole.hexdigest()


def _check_output(session: Any, name: str, what: str) -> None:
    outputs = session.get_outputs()
    if not outputs or len(outputs[0].shape) != 2:
        shape = outputs[0].shape if outputs else None
        raise ModelError(f"{name}: the {what} encoder's output has shape {shape}; expected (N, D)")


def _tokenizer(data: bytes, name: str, context: int) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ModelError("tokenizers is not installed: pip install 'bucketlens[onnx]'") from exc
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # tokenizers raises plain Exception for a file it cannot read
        raise ModelError(f"{name}: tokenizer.json cannot be read: {exc}") from exc
    pad = tokenizer.token_to_id("[PAD]") or tokenizer.token_to_id("<pad>") or 0
    tokenizer.enable_truncation(context)
    tokenizer.enable_padding(length=context, pad_id=pad)
    return tokenizer


def load(
    image: bytes,
    text: bytes,
    tokenizer: bytes,
    name: str,
    settings: Settings | None = None,
    providers: Sequence[str] | None = None,
    context: int = 77,
) -> Encoders:
    """Both encoders and the tokenizer, checked against each other before any image is paid for."""
    settings = settings or Settings()
    image_session = onnx_labels.open_session(image, f"{name} image encoder", settings.device, providers)
    text_session = onnx_labels.open_session(text, f"{name} text encoder", settings.device, providers)
    (image_spec, *more_images), (text_spec, *more_texts) = (
        image_session.get_inputs(),
        text_session.get_inputs(),
    )
    if more_images or more_texts:
        raise ModelError(f"{name}: each encoder takes one input (pixels, token ids)")
    image_batch = onnx_labels.check_image_input(image_spec, f"{name} image encoder", settings.size)
    if len(text_spec.shape) != 2 or text_spec.type not in TEXT_TYPES:
        raise ModelError(
            f"{name}: the text encoder's input {text_spec.name!r} is {text_spec.type} {text_spec.shape}; "
            "expected (N, L) token ids, int64 or int32"
        )
    if isinstance(text_spec.shape[1], int):
        context = text_spec.shape[1]  # the encoder fixes its context length: the tokenizer follows it
    _check_output(image_session, name, "image")
    _check_output(text_session, name, "text")
    encoders = Encoders(
        name=name,
        digest=digest(image, text, tokenizer),
        dimension=0,
        context=context,
        image_input=image_spec.name,
        text_input=text_spec.name,
        text_type=TEXT_TYPES[text_spec.type],
        image_session=image_session,
        text_session=text_session,
        tokenizer=_tokenizer(tokenizer, name, context),
        image_batch=image_batch,
    )
    # a probe of each: the largest token id must be one the text encoder can look up, and both encoders
    # must give vectors of one size
    vocabulary = encoders.tokenizer.get_vocab_size()
    try:
        ids = np.full((1, context), vocabulary - 1, dtype=encoders.text_type)
        text_side = np.asarray(text_session.run(None, {text_spec.name: ids})[0]).shape[-1]
        _text_rows(encoders, [PROBE_TEXT])
    except Exception as exc:  # onnxruntime's own errors: an id out of the embedding table's range
        raise ModelError(
            f"{name}: the tokenizer ({vocabulary} tokens) does not fit the text encoder: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    pixels = np.zeros((image_batch or 1, 3, settings.size, settings.size), dtype=np.float32)
    image_side = np.asarray(image_session.run(None, {image_spec.name: pixels})[0]).shape[-1]
    if image_side != text_side:
        raise ModelError(
            f"{name}: the image encoder gives {image_side}-dimension vectors, the text encoder "
            f"{text_side}: they are not one model"
        )
    return replace(encoders, dimension=int(image_side))


def _normalised(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def _text_rows(encoders: Encoders, texts: Sequence[str]) -> np.ndarray:
    ids = np.asarray([e.ids for e in encoders.tokenizer.encode_batch(list(texts))], dtype=encoders.text_type)
    return np.asarray(encoders.text_session.run(None, {encoders.text_input: ids})[0], dtype=np.float64)


def embed_images(encoders: Encoders, batch: np.ndarray) -> np.ndarray:
    """Unit vectors for a batch of prepared images (N, 3, H, W), as `onnx_labels.prepare` makes them."""
    rows = onnx_labels.run_batched(encoders.image_session, encoders.image_input, encoders.image_batch, batch)
    return _normalised(rows.astype(np.float64))


def embed_texts(encoders: Encoders, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors for texts: what a search for them compares with the images'."""
    if not texts or not all(t.strip() for t in texts):
        raise ModelError("a text to embed must not be empty")
    return _normalised(_text_rows(encoders, texts))


class ImageBatcher(onnx_labels.BatchRunner):
    """The image encoder's batches: images from many threads, one inference a batch, a unit vector each."""

    def __init__(self, encoders: Encoders, settings: Settings, linger_s: float = 0.02) -> None:
        self.encoders = encoders
        self.settings = settings
        super().__init__(
            lambda batch: embed_images(encoders, batch),
            encoders.image_batch or settings.batch,
            "embed-batcher",
            linger_s,
        )

    def vector(self, pixels: np.ndarray) -> np.ndarray:
        """One prepared image's unit vector; waits for its batch."""
        return self.answer(pixels)


def feature_key(features: str, encoders: Encoders) -> str:
    """The stored feature set names the embedding model by its whole digest: a new model embeds again, the
    same one never twice on the same object version."""
    return f"{features},embed@{encoders.digest}"
