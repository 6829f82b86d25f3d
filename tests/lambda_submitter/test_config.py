"""Configuration from the environment: defaults, validation, and one error naming every missing variable."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from job.core.errors import ConfigError
from lambda_submitter import config
from tests.lambda_submitter.conftest import ENV


def test_all_variables_are_read() -> None:
    # given the variables Terraform sets
    env = {**ENV, "BUCKETLENS_FEATURES": "text, labels", "BUCKETLENS_EXTENSIONS": ".JPG,png"}
    # when read
    cfg = config.from_env(env)
    # then each lands in its field, normalised
    assert cfg.job_queue == "bucketlens-queue"
    assert cfg.manifests_bucket == "bucketlens-manifests"
    assert cfg.features == ("labels", "text")
    assert cfg.shard_size == 2
    assert cfg.extensions == ("jpg", "png")


def test_defaults() -> None:
    # given only the required variables
    env = {k: ENV[k] for k in config.REQUIRED_TO_SUBMIT}
    # then the documented defaults apply
    cfg = config.from_env(env)
    assert (cfg.manifests_prefix, cfg.table, cfg.features, cfg.shard_size) == (
        "manifests",
        "bucketlens-results",
        ("labels",),
        1000,
    )
    assert "heic" in cfg.extensions


def test_every_missing_variable_is_named() -> None:
    # given an empty environment
    # when read for submitting
    with pytest.raises(ConfigError) as caught:
        config.from_env({})
    # then the error names all three required variables
    for name in config.REQUIRED_TO_SUBMIT:
        assert name in str(caught.value)


def test_dry_run_needs_nothing() -> None:
    # given an empty environment, when read for a dry run, then defaults suffice
    assert config.from_env({}, submit=False).job_queue == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BUCKETLENS_SHARD_SIZE", "0"),
        ("BUCKETLENS_SHARD_SIZE", "ten"),
        ("BUCKETLENS_FEATURES", "labels,faces"),
        ("BUCKETLENS_EXTENSIONS", " , "),
        ("BUCKETLENS_LABELER", "clip-v2"),
        ("BUCKETLENS_GPU_JOB_QUEUE", "gpu-queue-without-its-definition"),
    ],
)
def test_bad_values_are_config_errors(name: str, value: str) -> None:
    # given one bad value
    env = {**ENV, name: value}
    # then the error names the variable
    with pytest.raises(ConfigError, match=name):
        config.from_env(env)


def test_a_botocore_without_s3_conditional_writes_is_a_configuration_error(monkeypatch) -> None:
    # given the S3 model of a botocore from before conditional writes (PutObject without IfNoneMatch)
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    members = dict(model.operation_model("PutObject").input_shape.members)
    without = {k: v for k, v in members.items() if k != "IfNoneMatch"}
    old = SimpleNamespace(
        operation_model=lambda name: SimpleNamespace(input_shape=SimpleNamespace(members=without))
    )
    # when checked / then it says what to install; the installed botocore has them
    assert "install boto3>=1.35" in config.conditional_writes_missing(old)
    assert config.conditional_writes_missing() is None
    # and a submitter started on such a botocore stops with a configuration error before any call
    monkeypatch.setattr(config, "conditional_writes_missing", lambda model=None: "botocore too old")
    with pytest.raises(ConfigError, match="botocore too old"):
        config.from_env(ENV)


MODELS = {  # what Terraform sets for each labeler's models (terraform/main.tf)
    "onnx": {"BUCKETLENS_MODEL_URI": "s3://m/model.onnx", "BUCKETLENS_MODEL_LABELS_URI": "s3://m/labels.txt"},
    "clip": {
        "BUCKETLENS_EMBED_IMAGE_URI": "s3://m/image.onnx",
        "BUCKETLENS_EMBED_TEXT_URI": "s3://m/text.onnx",
        "BUCKETLENS_EMBED_TOKENIZER_URI": "s3://m/tokenizer.json",
        "BUCKETLENS_VECTOR_BUCKET": "bucketlens-vectors",
        "BUCKETLENS_PROMPTS_URI": "s3://m/prompts.json",
    },
}


@pytest.mark.parametrize("labeler", ["onnx", "clip"])
def test_the_own_model_labelers_go_to_the_gpu_queue_and_run_on_the_fast_path_with_onnxruntime(
    labeler, monkeypatch
) -> None:
    # given the variables Terraform sets for the onnx (or clip) labeler on GPUs, with the fast path asked for
    env = {
        **ENV,
        **MODELS[labeler],
        "BUCKETLENS_LABELER": labeler,
        "BUCKETLENS_GPU_JOB_QUEUE": "bucketlens-gpu-queue",
        "BUCKETLENS_GPU_JOB_DEFINITION": "bucketlens-gpu-worker",
        "BUCKETLENS_FAST_PATH_IMAGES": "20",
    }
    # when read in a package that has onnxruntime (this one, as the zip built from requirements-models.txt)
    cfg = config.from_env(env)
    # then jobs go to the GPU queue and definition, and a small batch is labelled by the model in the Lambda
    assert cfg.target == ("bucketlens-gpu-queue", "bucketlens-gpu-worker")
    assert cfg.fast_path_images == 20 and cfg.labeller is not None and cfg.labeller.labeler == labeler
    # and without a GPU deployment the onnx jobs go to the CPU queue; Rekognition's always do
    cpu_only = {k: v for k, v in env.items() if "GPU" not in k}
    assert config.from_env(cpu_only).target == (ENV["BUCKETLENS_JOB_QUEUE"], ENV["BUCKETLENS_JOB_DEFINITION"])
    rekognition = {**env, "BUCKETLENS_LABELER": "rekognition"}
    assert config.from_env(rekognition).target == (
        ENV["BUCKETLENS_JOB_QUEUE"],
        ENV["BUCKETLENS_JOB_DEFINITION"],
    )
    # and a package without onnxruntime (the default zip) refuses to start, naming the one that has it
    monkeypatch.setattr(config, "_has_onnxruntime", lambda: False)
    with pytest.raises(ConfigError, match="requirements-models.txt"):
        config.from_env(env)
