"""One rule in every command: what no retry can cure exits 78 with one line that names the fix, what a retry
can cure exits 75, and no command ever shows a traceback."""

from __future__ import annotations

import pytest

from job import cli as job_cli
from job.core import clients
from job.core.errors import EXIT_CONFIG, EXIT_TRANSIENT, failure
from lambda_submitter import cli as submitter_cli
from tests.lambda_submitter.conftest import ENV as SUBMITTER_ENV

MISSING = "bucketlens-no-such-bucket"
# every command a user runs, each pointed at things that do not exist
COMMANDS = {
    "job run": (job_cli.main, ["run", "--source", f"s3://{MISSING}/photos/", "--table", "no-table"]),
    "job status": (job_cli.main, ["status", "no-such-job"]),
    "job export": (job_cli.main, ["export", "--table", "no-table"]),
    "job search": (job_cli.main, ["search", "--label", "Car", "--table", "no-table"]),
    "job report": (job_cli.main, ["report", "--label", "Car", "--table", "no-table"]),
    "job reconcile": (job_cli.main, ["reconcile", "--inventory", f"s3://{MISSING}/inv/manifest.json"]),
    "submitter backfill": (submitter_cli.main, ["backfill", "--bucket", MISSING]),
    "submitter inventory": (submitter_cli.main, ["inventory", f"s3://{MISSING}/inv/manifest.json"]),
    "job reindex": (job_cli.main, ["reindex", "--table", "no-table"]),
    "submitter eventbridge": (submitter_cli.main, ["eventbridge", "--bucket", MISSING]),
}
# commands that create what is missing: only credentials and the region can stop them
CREATING = {"job setup": (job_cli.main, ["setup", "--table", "no-table", "--bucket", MISSING])}


@pytest.fixture
def submitter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SUBMITTER_ENV.items():
        monkeypatch.setenv(name, value)


def _run(name: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    main, argv = {**COMMANDS, **CREATING}[name]
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("name", sorted({**COMMANDS, **CREATING}))
def test_no_credentials_is_a_configuration_error_that_says_so(
    name, monkeypatch, capsys, submitter_env, tmp_path
):
    # given no credentials anywhere botocore looks (environment, files, instance metadata)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients.reset()
    # when the command runs
    code, output = _run(name, capsys)
    # then it exits 78 with the fix, and no traceback
    assert code == EXIT_CONFIG, output
    assert "no AWS credentials" in output and "Traceback" not in output


@pytest.mark.parametrize("name", sorted({**COMMANDS, **CREATING}))
def test_no_region_is_a_configuration_error_that_says_so(name, monkeypatch, capsys, submitter_env, tmp_path):
    # given credentials but no region
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    clients.reset()
    # when the command runs / then it exits 78 naming the variables to set
    code, output = _run(name, capsys)
    assert code == EXIT_CONFIG, output
    assert "no AWS region" in output and "Traceback" not in output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_what_does_not_exist_is_a_configuration_error(name, aws, capsys, submitter_env):
    # given an account (moto) without the bucket, table or job the command names
    # when the command runs / then it exits 78, saying what is missing, and no traceback
    code, output = _run(name, capsys)
    assert code == EXIT_CONFIG, output
    assert any(w in output for w in ("NoSuchBucket", "ResourceNotFoundException", "no Batch job")), output
    assert "Traceback" not in output


def test_a_bucket_given_as_a_uri_is_refused_with_the_fix(aws, capsys, submitter_env):
    # given `--bucket s3://my-images` (a URI where a name belongs)
    code = submitter_cli.main(["backfill", "--bucket", "s3://my-images", "--dry-run"])
    err = capsys.readouterr().err
    # then it is a configuration error that says to give the name
    assert code == EXIT_CONFIG and "not an s3:// URI" in err and "Traceback" not in err


def test_throttling_and_lost_connections_are_transient():
    # given the failures a retry can cure / then each is 75; a missing table stays 78
    from botocore.exceptions import ClientError, EndpointConnectionError

    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "Query")
    assert failure(throttled)[0] == EXIT_TRANSIENT
    assert failure(EndpointConnectionError(endpoint_url="https://dynamodb"))[0] == EXIT_TRANSIENT
    assert failure(missing)[0] == EXIT_CONFIG


def test_a_search_cluster_that_does_not_answer_is_transient(capsys):
    # given a cluster address where nothing listens (a port on this machine's loopback)
    argv = [
        "search-setup",
        "--opensearch-endpoint",
        "https://127.0.0.1:9",
        "--writer",
        "arn:aws:iam::1:role/j",
    ]
    # when search-setup runs / then it exits 75 (a retry may find it up), saying so, with no traceback
    code = job_cli.main(argv)
    captured = capsys.readouterr()
    assert code == EXIT_TRANSIENT, captured.err
    assert "Traceback" not in captured.out + captured.err and captured.err.strip()


def test_nothing_deployed_is_a_configuration_error(tmp_path, capsys):
    # given a Terraform directory where nothing was applied, and no terraform binary either
    code = job_cli.main(["deployed", "region", "--dir", str(tmp_path), "--terraform", str(tmp_path / "none")])
    # then 78, with what to install, and no traceback
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG and "install Terraform" in err and "Traceback" not in err
