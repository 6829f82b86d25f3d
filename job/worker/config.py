"""RunConfig: every `run` option from the CLI, else BUCKETLENS_* env vars, else defaults, checked once.

The Batch job definition can only pass a few `Ref::` parameters on the command line, so every option
also has an environment variable; the CLI wins so a hand-run command can override the container.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from job.core import inventory, label_index
from job.core.errors import ConfigError
from job.core.summary import parent_job_id

ENV_PREFIX = "BUCKETLENS_"
FEATURES = ("labels", "text", "custom-labels")
LABELERS = ("rekognition", "onnx", "clip")
OWN_MODELS = ("onnx", "clip")  # labelers that run the user's models (onnxruntime), never Rekognition
DEFAULT_TABLE = "bucketlens-results"
DEFAULT_EXTENSIONS = ",".join(inventory.DEFAULT_EXTENSIONS)  # the submitter's and the inventory's list


LATENCY_BUDGET_S = 0.5  # a Rekognition call takes ~0.15 s; threads cover calls up to this long in flight


def default_workers(
    tps_quota: float | None = None, max_tps: float | None = None, labeler: str = "rekognition"
) -> int:
    """Threads enough for the rate this child may reach (in flight = rate x latency), 4..64; without a
    quota, 8 per CPU (Rekognition calls wait ~150 ms on the network, so threads outnumber cores). The
    onnx labeler's threads download and decode for the model: 2 per CPU keep it fed."""
    if labeler in OWN_MODELS:
        from job.worker.convert import cpu_limit  # the container's CPUs, not the host's

        return min(64, max(4, cpu_limit() * 2))
    rate = min(r for r in (tps_quota, max_tps) if r) if (tps_quota or max_tps) else None
    if rate is None:
        return min(64, max(4, (os.cpu_count() or 1) * 8))
    return min(64, max(4, math.ceil(rate * LATENCY_BUDGET_S)))


@dataclass(frozen=True)
class TextIf:
    """Run DetectText only when a label of this name reaches this confidence."""

    label: str
    confidence: float


@dataclass(frozen=True)
class RunConfig:
    """Everything one array child needs to know; built by `from_args`, never mutated."""

    source: str
    index: int = 0
    shards: int = 1
    shard_offset: int = 0
    table: str = DEFAULT_TABLE
    label_table: str | None = None  # None: <table>-label-index
    features: tuple[str, ...] = ("labels",)
    min_confidence: float = 70.0
    max_labels: int = 50
    text_if: TextIf | None = None
    project_version_arn: str | None = None
    custom_min_confidence: float | None = None  # None: --min-confidence
    max_tps: float | None = None  # an optional cap per child and operation
    tps_quota: float | None = None  # the account's quota per operation, shared through the limiter table
    tps_quota_source: str | None = None  # where the quota came from (Service Quotas, the variable): logged
    limiter_table: str | None = None  # None: <table>-limiter
    workers: int = 8
    results_uri: str | None = None
    extensions: frozenset[str] = frozenset(DEFAULT_EXTENSIONS.split(","))
    job_id: str = "local"
    progress_every: int = 500
    progress_seconds: float = 30.0
    grace_seconds: float = 10.0
    opensearch_endpoint: str | None = None
    opensearch_index: str = "bucketlens"
    opensearch_auth: str = "sigv4"
    opensearch_secret_arn: str | None = None
    deployment: str = "bucketlens"  # the Deployment dimension of the EMF metrics (job/core/metrics.py)
    # or onnx: the user's own classifier (job/worker/onnx_labels.py); or clip: labels from prompts compared
    # with each image's embedding (job/worker/prompts.py)
    labeler: str = "rekognition"
    model_uri: str | None = None
    model_labels_uri: str | None = None
    # the model's settings where given; None takes job.worker.onnx_labels.Settings' default
    model_size: int | None = None
    model_mean: tuple[float, float, float] | None = None
    model_std: tuple[float, float, float] | None = None
    model_top_k: int | None = None
    model_min_confidence: float | None = None
    model_batch: int | None = None
    model_device: str | None = None
    # the user's embedding model (job/worker/embeddings.py) and where its vectors go (job/core/vectors.py)
    embed_image_uri: str | None = None
    embed_text_uri: str | None = None
    embed_tokenizer_uri: str | None = None
    vector_bucket: str | None = None
    vector_kms_key_arn: str | None = None  # the vector bucket's SSE-KMS key; None: SSE-S3
    embed_size: int | None = None  # None: 224
    embed_mean: tuple[float, float, float] | None = None  # None: CLIP's
    embed_std: tuple[float, float, float] | None = None
    prompts_uri: str | None = None  # labeler clip: the prompt list (job/worker/prompts.py)

    @property
    def embeds(self) -> bool:
        """Whether each image is also embedded and its vector stored."""
        return self.embed_image_uri is not None

    @property
    def opensearch(self) -> Any:
        """job.core.opensearch.Settings when an endpoint is configured, else None."""
        if not self.opensearch_endpoint:
            return None
        from job.core.opensearch import Settings

        return Settings(
            self.opensearch_endpoint, self.opensearch_index, self.opensearch_auth, self.opensearch_secret_arn
        )

    @property
    def limiters_table(self) -> str:
        return self.limiter_table or self.table + "-limiter"

    @property
    def labels_table(self) -> str:
        return label_index.table_name(self.table, self.label_table)

    @property
    def feature_key(self) -> str:
        """The stored form of the feature set: sorted names joined by ','."""
        return ",".join(sorted(self.features))

    @property
    def model_settings(self) -> Any:
        """job.worker.onnx_labels.Settings of the onnx labeler (numpy loads only when it is used)."""
        from job.worker.onnx_labels import Settings

        given = {
            "size": self.model_size,
            "mean": self.model_mean,
            "std": self.model_std,
            "top_k": self.model_top_k,
            "min_confidence": self.model_min_confidence,
            "batch": self.model_batch,
            "device": self.model_device,
        }
        return Settings(**{name: value for name, value in given.items() if value is not None})

    @property
    def embed_settings(self) -> Any:
        """How images are prepared for the embedding model: CLIP's transform unless --embed-size, --embed-mean
        or --embed-std say otherwise (SigLIP: 0.5,0.5,0.5 for both); batches and device as the labeler's."""
        from job.worker import embeddings

        labeler = self.model_settings
        return replace(
            labeler,
            size=self.embed_size or 224,
            mean=self.embed_mean or embeddings.CLIP_MEAN,
            std=self.embed_std or embeddings.CLIP_STD,
            crop=embeddings.CLIP_CROP,
        )

    @property
    def labels_features(self) -> str:
        """The feature key before any model's digest joins it. `clip` names itself (its labels come from the
        embedding, whose digest follows; a changed prompt list is `relabel`'s work, never a reason to read the
        images again); onnx adds its model's digest when loaded."""
        if self.labeler == "clip":
            return self.feature_key.replace("labels", "labels@clip")
        return self.feature_key

    def to_log(self) -> dict:
        model = (
            {"model_uri": self.model_uri, "model_labels_uri": self.model_labels_uri}
            if self.labeler == "onnx"
            else {}
        )
        embedding = (
            {"embed_image_uri": self.embed_image_uri, "vector_bucket": self.vector_bucket}
            if self.embeds
            else {}
        )
        if self.labeler == "clip":
            embedding["prompts_uri"] = self.prompts_uri
        return {
            "source": self.source,
            "labeler": self.labeler,
            **model,
            **embedding,
            "index": self.index,
            "shards": self.shards,
            "shard_offset": self.shard_offset,
            "table": self.table,
            "features": self.feature_key,
            "min_confidence": self.min_confidence,
            "max_labels": self.max_labels,
            "text_if": f"{self.text_if.label}:{self.text_if.confidence:g}" if self.text_if else None,
            "max_tps": self.max_tps,
            "tps_quota": self.tps_quota,
            "tps_quota_source": (self.tps_quota_source or "BUCKETLENS_TPS_QUOTA") if self.tps_quota else None,
            "workers": self.workers,
            "results_uri": self.results_uri,
            "job_id": self.job_id,
        }


# option name -> (type, help); defaults live on RunConfig so tests and CLI agree.
OPTIONS: dict[str, tuple[type, str]] = {
    "source": (str, "s3://bucket/prefix/, a bucketlens manifest.json, or an S3 Inventory manifest.json"),
    "index": (int, "array index (default AWS_BATCH_JOB_ARRAY_INDEX, else 0)"),
    "shards": (int, "number of children splitting a prefix or inventory (default 1)"),
    "shard_offset": (int, "child i reads manifest shard shard_offset + i (default 0)"),
    "table": (str, f"results table (default {DEFAULT_TABLE})"),
    "label_table": (str, "label index table (default <table>-label-index)"),
    "features": (str, "comma list of labels,text,custom-labels (default labels)"),
    "min_confidence": (float, "minimum label confidence (default 70)"),
    "max_labels": (int, "maximum labels per image (default 50)"),
    "text_if": (str, "LABEL:CONFIDENCE - run text detection only on images with this label"),
    "project_version_arn": (str, "Rekognition Custom Labels model (needed for custom-labels)"),
    "custom_min_confidence": (float, "minimum Custom Labels confidence (default --min-confidence)"),
    "max_tps": (float, "optional cap: Rekognition calls per second per operation for this child"),
    "tps_quota": (
        float,
        "the account's Rekognition TPS quota per operation, shared by every child through --limiter-table",
    ),
    "tps_quota_source": (str, "where --tps-quota came from, for the log (the submitter sets it)"),
    "limiter_table": (str, "the shared quota's table (default <table>-limiter)"),
    "workers": (int, "threads (default: the rate this child may reach x 0.5 s, 4..64)"),
    "results_uri": (str, "s3://bucket/prefix for run summaries <prefix>/<job id>/<index>.json"),
    "extensions": (str, f"image extensions to consider (default {DEFAULT_EXTENSIONS})"),
    "progress_every": (int, "log progress every N images (default 500)"),
    "progress_seconds": (float, "... and at least every S seconds (default 30)"),
    "grace_seconds": (float, "after SIGTERM, wait this long for in-flight images (default 10)"),
    "opensearch_endpoint": (str, "https://… of an OpenSearch cluster to index into (optional)"),
    "opensearch_index": (str, "OpenSearch index (default bucketlens)"),
    "opensearch_auth": (str, "sigv4 (Amazon OpenSearch Service, default) or basic"),
    "opensearch_secret_arn": (str, "basic auth: Secrets Manager secret with username and password"),
    "deployment": (str, "the deployment's name: the Deployment dimension of the CloudWatch metrics"),
    "labeler": (
        str,
        "rekognition (default); onnx: your own image classifier, --model-uri; clip: labels from --prompts-uri "
        "compared with each image's embedding (no Rekognition call)",
    ),
    "model_uri": (str, "onnx: s3://…/model.onnx, an image classifier taking (N, 3, H, W) floats"),
    "model_labels_uri": (
        str,
        "onnx: s3://…/labels.json (a list, or {index: name}) or .txt (one class a line)",
    ),
    "model_size": (int, "onnx: the model's input height and width (default 224)"),
    "model_mean": (
        str,
        "onnx: per-channel mean R,G,B of the 0..1 pixels (default ImageNet's 0.485,0.456,0.406)",
    ),
    "model_std": (str, "onnx: per-channel std R,G,B (default ImageNet's 0.229,0.224,0.225)"),
    "model_top_k": (int, "onnx: classes kept per image (default 5)"),
    "model_min_confidence": (float, "onnx: lowest probability kept, in percent (default 1)"),
    "model_batch": (int, "onnx: images per inference (default 16)"),
    "model_device": (
        str,
        "onnx: auto (default: the GPU when there is one), cpu, or cuda (the GPU or exit 78)",
    ),
    "embed_image_uri": (str, "embeddings: s3://…/image.onnx, (N, 3, H, W) floats -> (N, D) (optional)"),
    "embed_text_uri": (str, "embeddings: s3://…/text.onnx, (N, L) token ids -> (N, D)"),
    "embed_tokenizer_uri": (str, "embeddings: s3://…/tokenizer.json of the text encoder"),
    "vector_bucket": (str, "embeddings: the S3 Vectors bucket (an index per model is made in it)"),
    "vector_kms_key_arn": (
        str,
        "embeddings: the customer-managed KMS key (ARN) the vector bucket is created with (default SSE-S3)",
    ),
    "embed_size": (int, "embeddings: the image encoder's input height and width (default 224)"),
    "embed_mean": (str, "embeddings: per-channel mean R,G,B (default CLIP's 0.4815,0.4578,0.4082)"),
    "embed_std": (str, "embeddings: per-channel std R,G,B (default CLIP's 0.2686,0.2613,0.2758)"),
    "prompts_uri": (
        str,
        'labeler clip: s3://…/prompts.json, [{"name": …, "prompt": …, "threshold": 0.25}, …]',
    ),
}


def env_name(option: str) -> str:
    return ENV_PREFIX + option.upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option defaults to None so `from_args` can tell "not given" from "given"."""
    for name, (_, help_text) in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, dest=name, default=None, help=f"{help_text} [env {env_name(name)}]")


def _convert(name: str, raw: object) -> object:
    kind = OPTIONS[name][0]
    try:
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--{name.replace('_', '-')}: cannot read {raw!r} as {kind.__name__}") from exc


def parse_features(text: str) -> tuple[str, ...]:
    names = tuple(sorted({part.strip() for part in text.split(",") if part.strip()}))
    unknown = [n for n in names if n not in FEATURES]
    if unknown or not names:
        raise ConfigError(f"--features: unknown {unknown or 'empty'}; choose from {','.join(FEATURES)}")
    return names


def parse_triple(name: str, text: str) -> tuple[float, float, float]:
    """R,G,B numbers, as --model-mean and --model-std take them."""
    try:
        numbers = tuple(float(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) != 3:
        raise ConfigError(f"--{name.replace('_', '-')}: expected three numbers R,G,B, got {text!r}")
    return numbers  # type: ignore[return-value]


def parse_text_if(text: str) -> TextIf:
    label, sep, conf = text.rpartition(":")
    if not sep or not label.strip():
        raise ConfigError(f"--text-if: expected LABEL:CONFIDENCE, got {text!r}")
    try:
        confidence = float(conf)
    except ValueError as exc:
        raise ConfigError(f"--text-if: confidence {conf!r} is not a number") from exc
    return TextIf(label.strip(), confidence)


def from_args(
    args: argparse.Namespace | Mapping[str, object], env: Mapping[str, str] | None = None
) -> RunConfig:
    """CLI value, else BUCKETLENS_<OPTION>, else the RunConfig default; raises ConfigError."""
    env = os.environ if env is None else env
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    raw: dict[str, object] = {}
    for name in OPTIONS:
        value = given.get(name)
        if value is None:
            value = env.get(env_name(name)) or None
        if value is not None:
            raw[name] = value
    if "index" not in raw and env.get("AWS_BATCH_JOB_ARRAY_INDEX"):
        raw["index"] = env["AWS_BATCH_JOB_ARRAY_INDEX"]
    if "source" not in raw:
        raise ConfigError(f"--source is required (or set {env_name('source')})")

    values: dict[str, object] = {}
    for name in (
        "source",
        "table",
        "label_table",
        "limiter_table",
        "tps_quota_source",
        "project_version_arn",
        "results_uri",
        "opensearch_endpoint",
        "opensearch_index",
        "opensearch_auth",
        "opensearch_secret_arn",
        "deployment",
        "labeler",
        "model_uri",
        "model_labels_uri",
        "model_device",
        "embed_image_uri",
        "embed_text_uri",
        "embed_tokenizer_uri",
        "vector_bucket",
        "vector_kms_key_arn",
        "prompts_uri",
    ):
        if name in raw:
            values[name] = str(raw[name])
    for name in (
        "index",
        "shards",
        "shard_offset",
        "min_confidence",
        "custom_min_confidence",
        "max_labels",
        "max_tps",
        "tps_quota",
        "workers",
        "progress_every",
        "progress_seconds",
        "grace_seconds",
        "model_size",
        "model_top_k",
        "model_min_confidence",
        "model_batch",
        "embed_size",
    ):
        if name in raw:
            values[name] = _convert(name, raw[name])
    for name in ("model_mean", "model_std", "embed_mean", "embed_std"):
        if name in raw:
            values[name] = parse_triple(name, str(raw[name]))
    if "features" in raw:
        values["features"] = parse_features(str(raw["features"]))
    if "text_if" in raw:
        values["text_if"] = parse_text_if(str(raw["text_if"]))
    if "extensions" in raw:
        exts = frozenset(
            e.strip().lower().lstrip(".") for e in str(raw["extensions"]).split(",") if e.strip()
        )
        if not exts:
            raise ConfigError("--extensions: empty list")
        values["extensions"] = exts
    values.setdefault(
        "workers",
        default_workers(values.get("tps_quota"), values.get("max_tps"), str(values.get("labeler", ""))),  # type: ignore[arg-type]
    )
    # every child of one array job writes under the job the user submitted: runs/<parent id>/<index>.json
    values["job_id"] = parent_job_id(env.get("AWS_BATCH_JOB_ID") or "local")
    config = RunConfig(**values)  # type: ignore[arg-type]
    validate(config)
    return config


def embed_settings(env: Mapping[str, str] | None = None) -> Any:
    """The embedding model's settings from BUCKETLENS_EMBED_SIZE, _MEAN and _STD: the operator commands
    (search --meaning, relabel) load the model as the jobs do."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if env.get(env_name("embed_size")):
        values["embed_size"] = _convert("embed_size", env[env_name("embed_size")])
    for name in ("embed_mean", "embed_std"):
        if env.get(env_name(name)):
            values[name] = parse_triple(name, env[env_name(name)])
    return RunConfig(source="s3://operator/", **values).embed_settings


def validate(config: RunConfig) -> None:
    """Reject settings no retry can fix, before any AWS call."""
    if not config.source.startswith("s3://") or len(config.source) <= len("s3://"):
        raise ConfigError(f"--source must be an s3:// URI, got {config.source!r}")
    if config.shards < 1:
        raise ConfigError("--shards must be at least 1")
    if config.index < 0 or config.shard_offset < 0:
        raise ConfigError("--index and --shard-offset must not be negative")
    if not 0 <= config.min_confidence <= 100:
        raise ConfigError("--min-confidence must be between 0 and 100")
    if config.custom_min_confidence is not None and not 0 <= config.custom_min_confidence <= 100:
        raise ConfigError("--custom-min-confidence must be between 0 and 100")
    if config.max_labels < 1:
        raise ConfigError("--max-labels must be at least 1")
    if config.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if config.tps_quota is not None and config.tps_quota <= 0:
        raise ConfigError("--tps-quota must be positive")
    if config.max_tps is not None and config.max_tps <= 0:
        raise ConfigError("--max-tps must be positive")
    if "custom-labels" in config.features and not config.project_version_arn:
        raise ConfigError("--features custom-labels needs --project-version-arn")
    if config.text_if and not {"text", "labels"} <= set(config.features):
        raise ConfigError("--text-if needs both 'labels' and 'text' in --features")
    if config.opensearch_auth not in ("sigv4", "basic"):
        raise ConfigError("--opensearch-auth must be sigv4 or basic")
    if config.opensearch_auth == "basic" and config.opensearch_endpoint and not config.opensearch_secret_arn:
        raise ConfigError("--opensearch-auth basic needs --opensearch-secret-arn")
    if config.results_uri and not config.results_uri.startswith("s3://"):
        raise ConfigError("--results-uri must be an s3:// URI")
    validate_labeler(config)
    validate_embedding(config)


def _s3_object(uri: str | None) -> bool:
    return bool(uri) and uri.startswith("s3://") and "/" in uri[len("s3://") :].strip("/")


def validate_embedding(config: RunConfig) -> None:
    """An embedding model is its three files and a vector bucket, or nothing (a vector bucket alone is the
    submitter's: its deletes remove vectors, whoever made them)."""
    if not any([config.embed_image_uri, config.embed_text_uri, config.embed_tokenizer_uri]):
        return
    for name in ("embed_image_uri", "embed_text_uri", "embed_tokenizer_uri"):
        uri = getattr(config, name)
        if not _s3_object(uri):
            raise ConfigError(f"embeddings need --{name.replace('_', '-')} s3://bucket/key, got {uri!r}")
    if not config.vector_bucket or not 3 <= len(config.vector_bucket) <= 63:
        raise ConfigError(
            f"embeddings need --vector-bucket (3 to 63 characters), got {config.vector_bucket!r}"
        )
    key = config.vector_kms_key_arn
    if key and not (key.startswith("arn:") and ":kms:" in key and ":key/" in key):
        raise ConfigError(f"--vector-kms-key-arn must be a KMS key ARN (arn:…:kms:…:key/…), got {key!r}")
    settings = config.embed_settings
    if not 16 <= settings.size <= 4096:
        raise ConfigError("--embed-size must be between 16 and 4096")
    if any(s <= 0 for s in settings.std):
        raise ConfigError("--embed-std must be positive")
    _check_run_settings(settings)


def validate_labeler(config: RunConfig) -> None:
    """The onnx labeler's model and settings, the clip labeler's embedding model and prompts; Rekognition's
    features are Rekognition's alone."""
    if config.labeler not in LABELERS:
        raise ConfigError(f"--labeler must be one of {', '.join(LABELERS)}, got {config.labeler!r}")
    if config.labeler == "clip":
        if not config.embeds:
            raise ConfigError("--labeler clip needs the embedding model: --embed-image-uri and the rest")
        if not _s3_object(config.prompts_uri):
            raise ConfigError(
                f"--labeler clip needs --prompts-uri s3://bucket/key, got {config.prompts_uri!r}"
            )
    if config.labeler == "rekognition":
        return
    if config.features != ("labels",):
        raise ConfigError(
            f"--labeler {config.labeler} labels only: --features labels (text and custom-labels are "
            "Rekognition's)"
        )
    if config.labeler != "onnx":
        return
    for name in ("model_uri", "model_labels_uri"):
        uri = getattr(config, name)
        if not uri or not uri.startswith("s3://") or "/" not in uri[len("s3://") :]:
            raise ConfigError(f"--labeler onnx needs --{name.replace('_', '-')} s3://bucket/key, got {uri!r}")
    settings = config.model_settings
    if not 16 <= settings.size <= 4096:
        raise ConfigError("--model-size must be between 16 and 4096")
    if any(s <= 0 for s in settings.std):
        raise ConfigError("--model-std must be positive")
    if not 1 <= settings.top_k <= 100:
        raise ConfigError("--model-top-k must be between 1 and 100")
    if not 0 <= settings.min_confidence <= 100:
        raise ConfigError("--model-min-confidence must be between 0 and 100")
    _check_run_settings(settings)


def _check_run_settings(settings: Any) -> None:
    """Batch size and device, which the labeler and the embedding model share."""
    if not 1 <= settings.batch <= 1024:
        raise ConfigError("--model-batch must be between 1 and 1024")
    from job.worker.onnx_labels import DEVICES

    if settings.device not in DEVICES:
        raise ConfigError(f"--model-device must be one of {', '.join(DEVICES)}, got {settings.device!r}")
