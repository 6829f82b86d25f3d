"""Submitter settings from the environment Terraform sets, checked up front so a bad deploy fails loudly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from job.core import label_index
from job.core.errors import ConfigError
from job.core.inventory import DEFAULT_EXTENSIONS
from job.worker import config as worker_config

FEATURES = ("labels", "text", "custom-labels")
REQUIRED_TO_SUBMIT = ("BUCKETLENS_JOB_QUEUE", "BUCKETLENS_JOB_DEFINITION", "BUCKETLENS_MANIFESTS_BUCKET")
MAX_SHARD_SIZE = 100_000
FAST_PATH_IMAGES = 20  # default: SQS batches of up to this many images are labelled in the Lambda
MAX_FAST_PATH_IMAGES = 100


@dataclass(frozen=True)
class SubmitterConfig:
    """Everything the submitter needs; queue, definition and bucket are empty only for a dry run."""

    job_queue: str
    job_definition: str
    manifests_bucket: str
    manifests_prefix: str = "manifests"
    table: str = "bucketlens-results"
    features: tuple[str, ...] = ("labels",)
    shard_size: int = 1000
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    label_table: str = "bucketlens-results" + label_index.SUFFIX
    opensearch_endpoint: str | None = None
    opensearch_index: str = "bucketlens"
    vector_bucket: str | None = None  # the S3 Vectors bucket of the embeddings: a delete removes its vectors
    project_version_arn: str | None = None  # with custom-labels: nothing is submitted unless it RUNs
    fast_path_images: int = FAST_PATH_IMAGES
    tps_quota: float | None = None  # the account's Rekognition TPS, shared by every job (job/core/quota.py)
    tps_quota_source: str = "BUCKETLENS_TPS_QUOTA"
    labeller: worker_config.RunConfig | None = None  # the fast path's worker settings; None: it is off
    labeler: str = "rekognition"  # or onnx, clip: the user's models label (on the fast path too)
    gpu_job_queue: str | None = None  # with the onnx labeler on GPUs, where its jobs go
    gpu_job_definition: str | None = None

    @property
    def target(self) -> tuple[str, str]:
        """The job queue and definition a job goes to: the GPU ones for the onnx labeler when deployed."""
        if self.labeler in worker_config.OWN_MODELS and self.gpu_job_queue and self.gpu_job_definition:
            return self.gpu_job_queue, self.gpu_job_definition
        return self.job_queue, self.job_definition

    @property
    def client_pool(self) -> int:
        """Connections per client: the fast path's threads share the S3, DynamoDB and Rekognition ones."""
        return max(10, self.fast_path_images)

    @property
    def needs_model(self) -> bool:
        return "custom-labels" in self.features and bool(self.project_version_arn)


def parse_features(value: str) -> tuple[str, ...]:
    """Sorted and de-duplicated, so the same set always gives the same manifest id."""
    names = sorted({name.strip().lower() for name in value.split(",") if name.strip()})
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise ConfigError(f"BUCKETLENS_FEATURES={value!r}: use a subset of {','.join(FEATURES)}")
    return tuple(names)


def parse_extensions(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(e.strip().lower().lstrip(".") for e in value.split(",") if e.strip()))
    if not names:
        raise ConfigError(f"BUCKETLENS_EXTENSIONS={value!r}: list at least one extension, e.g. jpg,png")
    return names


def conditional_writes_missing(model: Any = None) -> str | None:
    """Why this botocore cannot send S3's If-None-Match (the once-only manifest and claim writes), or None.

    A botocore older than S3 conditional writes drops the parameter with a validation error, or (an older
    Lambda runtime's bundled SDK) never sends it: two submitters could then both submit the same work."""
    import botocore
    import botocore.session

    model = model or botocore.session.get_session().get_service_model("s3")
    if "IfNoneMatch" in model.operation_model("PutObject").input_shape.members:
        return None
    return (
        f"botocore {botocore.__version__} cannot make S3 conditional writes (PutObject IfNoneMatch): "
        "install boto3>=1.35 (pip install -U boto3); on Lambda, a runtime whose bundled SDK is older needs it in the zip"
    )


def from_env(environ: Mapping[str, str] | None = None, submit: bool = True) -> SubmitterConfig:
    """Read BUCKETLENS_* variables; `submit=False` (dry run) does not need queue, definition or bucket."""
    env = os.environ if environ is None else environ
    if submit and (why := conditional_writes_missing()):
        raise ConfigError(why)
    missing = [name for name in REQUIRED_TO_SUBMIT if submit and not env.get(name, "").strip()]
    if missing:
        raise ConfigError(
            "missing environment variable(s): "
            + ", ".join(missing)
            + " (Terraform sets them on the Lambda; export them to run the submitter by hand)"
        )
    shard_size = _whole_number(env, "BUCKETLENS_SHARD_SIZE", 1000, 1, MAX_SHARD_SIZE)
    prefix = env.get("BUCKETLENS_MANIFESTS_PREFIX", "").strip().strip("/") or "manifests"
    labeler = env.get("BUCKETLENS_LABELER", "").strip() or "rekognition"
    if labeler not in worker_config.LABELERS:
        raise ConfigError(f"BUCKETLENS_LABELER={labeler!r}: one of {', '.join(worker_config.LABELERS)}")
    gpu = (
        env.get("BUCKETLENS_GPU_JOB_QUEUE", "").strip(),
        env.get("BUCKETLENS_GPU_JOB_DEFINITION", "").strip(),
    )
    if bool(gpu[0]) != bool(gpu[1]):
        raise ConfigError(
            "BUCKETLENS_GPU_JOB_QUEUE and BUCKETLENS_GPU_JOB_DEFINITION go together: set both or neither"
        )
    fast_path_images = _whole_number(
        env, "BUCKETLENS_FAST_PATH_IMAGES", FAST_PATH_IMAGES, 0, MAX_FAST_PATH_IMAGES
    )
    cfg = SubmitterConfig(
        job_queue=env.get("BUCKETLENS_JOB_QUEUE", "").strip(),
        job_definition=env.get("BUCKETLENS_JOB_DEFINITION", "").strip(),
        manifests_bucket=env.get("BUCKETLENS_MANIFESTS_BUCKET", "").strip(),
        manifests_prefix=prefix,
        table=env.get("BUCKETLENS_TABLE", "").strip() or "bucketlens-results",
        features=parse_features(env.get("BUCKETLENS_FEATURES", "") or "labels"),
        shard_size=shard_size,
        extensions=parse_extensions(env.get("BUCKETLENS_EXTENSIONS", "") or ",".join(DEFAULT_EXTENSIONS)),
        label_table=env.get("BUCKETLENS_LABEL_TABLE", "").strip()
        or label_index.table_name(env.get("BUCKETLENS_TABLE", "").strip() or "bucketlens-results"),
        project_version_arn=env.get("BUCKETLENS_PROJECT_VERSION_ARN", "").strip() or None,
        opensearch_endpoint=env.get("BUCKETLENS_OPENSEARCH_ENDPOINT", "").strip() or None,
        opensearch_index=env.get("BUCKETLENS_OPENSEARCH_INDEX", "").strip() or "bucketlens",
        vector_bucket=env.get("BUCKETLENS_VECTOR_BUCKET", "").strip() or None,
        fast_path_images=fast_path_images,
        tps_quota=_positive_number(env, "BUCKETLENS_TPS_QUOTA"),
        labeler=labeler,
        gpu_job_queue=gpu[0] or None,
        gpu_job_definition=gpu[1] or None,
    )
    if not (submit and fast_path_images):
        return cfg
    # the worker reads the same BUCKETLENS_* names (table, features, quota...): checked now, at start
    try:
        labeller = worker_config.from_args({"source": "s3://events/"}, env)
    except ConfigError as exc:
        raise ConfigError(f"fast path (BUCKETLENS_FAST_PATH_IMAGES={fast_path_images}): {exc}") from exc
    if (labeller.labeler in worker_config.OWN_MODELS or labeller.embeds) and not _has_onnxruntime():
        raise ConfigError(
            f"fast path with your models (BUCKETLENS_LABELER={labeller.labeler}, embeddings "
            f"{'on' if labeller.embeds else 'off'}): this package has no onnxruntime; Terraform builds it "
            "from lambda_submitter/requirements-models.txt (or set BUCKETLENS_FAST_PATH_IMAGES=0)"
        )
    return replace(cfg, labeller=labeller)


def _has_onnxruntime() -> bool:
    """Whether this package can run the user's models (the zip built with requirements-models.txt)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _positive_number(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r}: a positive number (Rekognition calls per second)")
    return value


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r}: a whole number from {low} to {high}")
    return value
