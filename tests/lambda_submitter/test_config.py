"""Configuration from the environment: defaults, validation, and one error naming every missing variable."""

from __future__ import annotations

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
    ],
)
def test_bad_values_are_config_errors(name: str, value: str) -> None:
    # given one bad value
    env = {**ENV, name: value}
    # then the error names the variable
    with pytest.raises(ConfigError, match=name):
        config.from_env(env)
