import os

import pytest

from job.core.errors import ConfigError
from job.worker.config import DEFAULT_TABLE, TextIf, from_args, parse_features


def test_defaults_from_the_contract():
    # given only a source
    cfg = from_args({"source": "s3://b/p/"}, env={})
    # then the documented defaults apply
    assert cfg.table == DEFAULT_TABLE
    assert cfg.features == ("labels",)
    assert cfg.min_confidence == 70.0
    assert cfg.max_labels == 50
    assert cfg.index == 0 and cfg.shards == 1 and cfg.shard_offset == 0
    assert cfg.workers == min(64, max(4, (os.cpu_count() or 1) * 8))  # 8 per CPU without a quota
    assert "heic" in cfg.extensions and "avif" in cfg.extensions
    assert cfg.job_id == "local"


def test_env_vars_configure_every_option_and_the_cli_wins():
    # given env vars for several options and a CLI value for one of them
    env = {
        "BUCKETLENS_SOURCE": "s3://b/manifest.json",
        "BUCKETLENS_TABLE": "from-env",
        "BUCKETLENS_MAX_TPS": "12.5",
        "BUCKETLENS_FEATURES": "text,labels",
        "BUCKETLENS_TEXT_IF": "Car:80",
        "BUCKETLENS_WORKERS": "3",
        "BUCKETLENS_EXTENSIONS": "JPG,.png",
        "AWS_BATCH_JOB_ARRAY_INDEX": "7",
        "AWS_BATCH_JOB_ID": "job-1",
    }
    # when the CLI sets the table too
    cfg = from_args({"table": "from-cli"}, env=env)
    # then the CLI wins and the rest comes from the environment
    assert cfg.table == "from-cli"
    assert cfg.source == "s3://b/manifest.json"
    assert cfg.max_tps == 12.5
    assert cfg.features == ("labels", "text") and cfg.feature_key == "labels,text"
    assert cfg.text_if == TextIf("Car", 80.0)
    assert cfg.workers == 3
    assert cfg.extensions == frozenset({"jpg", "png"})
    assert cfg.index == 7 and cfg.job_id == "job-1"


def test_index_option_beats_the_batch_array_index():
    # given both --index and AWS_BATCH_JOB_ARRAY_INDEX
    cfg = from_args({"source": "s3://b/p/", "index": "2"}, env={"AWS_BATCH_JOB_ARRAY_INDEX": "5"})
    # then the option wins
    assert cfg.index == 2


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({}, "--source is required"),
        ({"source": "/local/path"}, "--source must be an s3:// URI"),
        ({"source": "s3://b/p/", "features": "labels,faces"}, r"--features: unknown \['faces'\]"),
        ({"source": "s3://b/p/", "features": "custom-labels"}, "custom-labels needs --project-version-arn"),
        ({"source": "s3://b/p/", "features": "labels", "text_if": "Car:80"}, "--text-if needs both"),
        ({"source": "s3://b/p/", "features": "labels,text", "text_if": "Car"}, "expected LABEL:CONFIDENCE"),
        ({"source": "s3://b/p/", "max_labels": "many"}, "--max-labels: cannot read 'many'"),
        ({"source": "s3://b/p/", "shards": "0"}, "--shards must be at least 1"),
        ({"source": "s3://b/p/", "min_confidence": "101"}, "--min-confidence must be between 0 and 100"),
        ({"source": "s3://b/p/", "max_tps": "0"}, "--max-tps must be positive"),
        ({"source": "s3://b/p/", "results_uri": "/tmp/x"}, "--results-uri must be an s3:// URI"),
    ],
)
def test_settings_no_retry_can_fix_are_config_errors(given, says):
    # given a broken setting / when it is read / then ConfigError, naming the setting and what is wrong
    with pytest.raises(ConfigError, match=says):
        from_args(given, env={})


def test_custom_labels_with_a_model_and_feature_parsing():
    # given custom labels with a project version
    cfg = from_args(
        {"source": "s3://b/p/", "features": " custom-labels, labels ", "project_version_arn": "arn:x"}, env={}
    )
    # then the feature key is sorted and trimmed
    assert cfg.feature_key == "custom-labels,labels"
    assert parse_features("text,text") == ("text",)
