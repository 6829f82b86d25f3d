"""The onnx labeler's model and classes, and the embedding model's three files, read from S3 once per process
and checked before any image: a Batch child loads them once, and so does a warm Lambda environment, whose
fast path then labels each batch without reading or checking them again."""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from collections.abc import Callable
from typing import Any

from job.core.manifest import split_s3_uri
from job.worker import onnx_labels, sources
from job.worker.config import RunConfig

log = logging.getLogger(__name__)

_loaded: dict[tuple, Any] = {}  # what this process loaded, by the files (URI, ETag, version) and settings
_loading = threading.Lock()


def _once(key: tuple, load: Callable[[], Any]) -> Any:
    """`load()` the first time `key` is asked for in this process, its answer every time after."""
    with _loading:
        if key not in _loaded:
            _loaded[key] = load()
        return _loaded[key]


def open_model(s3: Any, config: RunConfig, providers: list[str] | None = None) -> onnx_labels.Batcher:
    """The model at --model-uri with the classes at --model-labels-uri, loaded and running; raises
    ConfigError (onnx_labels.ModelError) when either is missing or they do not fit each other."""
    assert config.model_uri and config.model_labels_uri
    model_uri, labels_uri, settings = config.model_uri, config.model_labels_uri, config.model_settings

    def load() -> onnx_labels.Model:
        started = time.monotonic()
        data = sources.read_uri(s3, model_uri, "--model-uri")
        classes = sources.read_uri(s3, labels_uri, "--model-labels-uri")
        name = posixpath.basename(split_s3_uri(model_uri)[1]).removesuffix(".onnx") or "model"
        model = onnx_labels.load(
            data, onnx_labels.parse_labels(classes, labels_uri), name, settings, providers
        )
        log.info(
            "model loaded",
            extra={
                "model": model.source,
                "sha256": model.digest,
                "classes": len(model.labels),
                "bytes": len(data),
                "providers": model.session.get_providers(),
                "seconds": round(time.monotonic() - started, 2),
            },
        )
        return model

    files = tuple(
        sources.identity_of(s3, uri, what)
        for uri, what in ((model_uri, "--model-uri"), (labels_uri, "--model-labels-uri"))
    )
    model = _once(("classifier", model_uri, labels_uri, files, settings, tuple(providers or ())), load)
    return onnx_labels.Batcher(model, settings)


def open_embeddings(
    s3: Any,
    image_uri: str,
    text_uri: str,
    tokenizer_uri: str,
    settings: onnx_labels.Settings | None = None,
    providers: list[str] | None = None,
) -> Any:
    """The embedding model's image encoder, text encoder and tokenizer.json (as --embed-*-uri name them),
    loaded and checked (job.worker.embeddings.Encoders); raises ConfigError when a file is missing or they
    do not fit. The worker and `search --meaning` both load it here."""
    from job.worker import embeddings

    def load() -> Any:
        started = time.monotonic()
        image = sources.read_uri(s3, image_uri, "--embed-image-uri")
        text = sources.read_uri(s3, text_uri, "--embed-text-uri")
        tokenizer = sources.read_uri(s3, tokenizer_uri, "--embed-tokenizer-uri")
        name = posixpath.basename(split_s3_uri(image_uri)[1]).removesuffix(".onnx") or "embed"
        encoders = embeddings.load(image, text, tokenizer, name, settings, providers)
        log.info(
            "embedding model loaded",
            extra={
                "model": encoders.source,
                "sha256": encoders.digest,
                "dimension": encoders.dimension,
                "seconds": round(time.monotonic() - started, 2),
            },
        )
        return encoders

    files = tuple(
        sources.identity_of(s3, uri, what)
        for uri, what in (
            (image_uri, "--embed-image-uri"),
            (text_uri, "--embed-text-uri"),
            (tokenizer_uri, "--embed-tokenizer-uri"),
        )
    )
    key = ("embeddings", image_uri, text_uri, tokenizer_uri, files, settings, tuple(providers or ()))
    return _once(key, load)


def read_prompts(s3: Any, uri: str) -> tuple[Any, ...]:
    """The clip labeler's prompt list (job.worker.prompts.Prompt); raises ConfigError when it is missing,
    empty or malformed."""
    from job.worker import prompts

    listed = prompts.parse(sources.read_uri(s3, uri, "--prompts-uri"), uri)
    log.info("prompt list read", extra={"uri": uri, "prompts": len(listed)})
    return listed
