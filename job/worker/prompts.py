"""Labels from text prompts: a list of (name, prompt, threshold) compared with each image's embedding.

A prompt's text goes through the embedding model's text encoder once; an image gets the prompt's name as
a label when the cosine similarity of its vector and the prompt's reaches the threshold. So a new category
("solar panels on a roof") applies to every image already embedded without reading one of them (`relabel`),
and `labeler = "clip"` labels new images at no Rekognition quota. Labels have Rekognition's shape, their
confidence the similarity in percent, their `source` the model and the prompt set.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from job.worker import embeddings
from job.worker.onnx_labels import DIGEST_CHARS, ModelError, OnnxLabel

PROMPT_MARK = "+prompts@"  # in a label's source: the label came from a prompt set, which relabel replaces
NAME_MAX = 100  # characters of a label name, as a Rekognition label's


@dataclass(frozen=True)
class Prompt:
    """One category: the label's name, the text that describes it, and the similarity that makes it stick."""

    name: str
    prompt: str
    threshold: float


@dataclass(frozen=True)
class PromptSet:
    """The prompts with their text vectors, under the model that embedded them."""

    prompts: tuple[Prompt, ...]
    digest: str
    source: str  # `<model>@<digest>+prompts@<digest>`, on every label it gives
    vectors: Any = field(repr=False, compare=False)  # (prompts, D) unit rows


def parse(data: bytes, where: str = "prompts") -> tuple[Prompt, ...]:
    """A JSON list of {"name", "prompt", "threshold"}; ModelError (exit 78) for anything else, an empty list
    included: a labeler with no categories would label nothing and still be paid for."""
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{where}: not a JSON list of prompts: {exc}") from exc
    if isinstance(parsed, Mapping) and "prompts" in parsed:
        parsed = parsed["prompts"]
    if not isinstance(parsed, list) or not parsed:
        raise ModelError(
            f'{where}: an empty prompt list; give [{{"name": "Solar panel", "prompt": "solar panels on a '
            'roof", "threshold": 0.25}, ...]'
        )
    prompts = []
    for number, entry in enumerate(parsed, 1):
        if not isinstance(entry, Mapping):
            raise ModelError(f"{where}: prompt {number} is not an object with name, prompt and threshold")
        name, text, threshold = entry.get("name"), entry.get("prompt"), entry.get("threshold")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
            raise ModelError(f"{where}: prompt {number} needs a name of 1 to {NAME_MAX} characters")
        if not isinstance(text, str) or not text.strip():
            raise ModelError(f"{where}: prompt {number} ({name}) needs a non-empty prompt text")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 < threshold <= 1:
            raise ModelError(
                f"{where}: prompt {number} ({name}) needs a threshold above -1 and at most 1 (a cosine "
                f"similarity; CLIP's matches are about 0.2 to 0.35), got {threshold!r}"
            )
        prompts.append(Prompt(name.strip(), text.strip(), float(threshold)))
    if len({(p.name, p.prompt) for p in prompts}) != len(prompts):
        raise ModelError(f"{where}: a name and prompt appear twice")
    return tuple(prompts)


def digest(prompts: Sequence[Prompt]) -> str:
    """The prompt set's SHA-256, whatever order or spacing its file had."""
    canonical = sorted((p.name, p.prompt, p.threshold) for p in prompts)
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


@functools.lru_cache(maxsize=8)
def compile_set(encoders: embeddings.Encoders, prompts: tuple[Prompt, ...]) -> PromptSet:
    """Each prompt's text vector, from the same model as the images'; once per process for one model and
    list (a warm Lambda's fast path encodes its prompts once, not once a batch)."""
    rows = embeddings.embed_texts(encoders, [p.prompt for p in prompts])
    whole = digest(prompts)
    return PromptSet(tuple(prompts), whole, f"{encoders.source}{PROMPT_MARK}{whole[:DIGEST_CHARS]}", rows)


def labels_for(prompt_set: PromptSet, rows: Sequence[Sequence[float]]) -> list[tuple[OnnxLabel, ...]]:
    """Per image vector, the names whose prompts it matches, most similar first: one label a name (its best
    prompt), confidence the similarity in percent."""
    similarity = np.asarray(rows, dtype=np.float64) @ np.asarray(prompt_set.vectors).T
    answers = []
    for scores in similarity:
        best: dict[str, float] = {}
        for prompt, score in zip(prompt_set.prompts, scores, strict=True):
            if score >= prompt.threshold and score > best.get(prompt.name, -2.0):
                best[prompt.name] = float(score)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        answers.append(
            tuple(OnnxLabel(name, round(score * 100, 3), prompt_set.source) for name, score in ranked)
        )
    return answers


def is_prompt_label(label: Mapping[str, Any]) -> bool:
    """A label a prompt set gave (relabel replaces these and keeps every other labeler's)."""
    return PROMPT_MARK in str(label.get("source") or "")


def merged(existing: Iterable[Mapping[str, Any]], new: Iterable[OnnxLabel]) -> list[dict[str, Any]]:
    """An item's labels with its prompt labels replaced by `new`: Rekognition's or the classifier's stay."""
    kept = [dict(label) for label in existing if not is_prompt_label(label)]
    return kept + [label.to_dict() for label in new]
