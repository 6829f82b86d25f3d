"""`terraform apply` of the root module against a moto server, then what was created is checked against the code."""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from python_terraform import IsFlagged

from job.core import errors as job_errors
from job.demo import emulator
from job.worker import config as job_config
from lambda_submitter import triggers
from tests.terraform import iam_calls
from tests.terraform.deployment_fixture import (
    APPLY_TIMEOUT,
    IMAGES_BUCKET,
    READER,
    REGION,
    Deployment,
    provisioned,
    terraform_cmd,
)
from tests.terraform.tf_helpers import REPO, copy_configuration, require_terraform, run

pytestmark = pytest.mark.timeout(3 * APPLY_TIMEOUT)  # init, apply, a re-apply and destroy

# The deploy roles' actions come from what their code executes: the Batch command is `python -m job run`.
WORKER_ENTRY = [REPO / "job" / "worker" / "run.py"]
SUBMITTER_DIR = REPO / "lambda_submitter"
SUBMITTER_CONTRACT_ENV = {
    "BUCKETLENS_JOB_QUEUE",
    "BUCKETLENS_JOB_DEFINITION",
    "BUCKETLENS_MANIFESTS_BUCKET",
    "BUCKETLENS_MANIFESTS_PREFIX",
    "BUCKETLENS_TABLE",
    "BUCKETLENS_FEATURES",
    "BUCKETLENS_SHARD_SIZE",
    "BUCKETLENS_EXTENSIONS",
}


def env_names_in_code(source: str) -> set[str]:
    """BUCKETLENS_* names in the string literals of code: not in comments, nor in docstrings."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        for name in re.findall(r"\b(BUCKETLENS_[A-Z_]+)\b", node.value)
    }


def test_env_names_are_read_from_code_only():
    # given a name only in a comment, one only in a docstring, and one in a call
    source = (
        '"""Reads BUCKETLENS_DOC."""\n# BUCKETLENS_COMMENT\nimport os\nos.environ.get("BUCKETLENS_REAL")\n'
    )
    # when the names are collected / then only the one the code reads counts
    assert env_names_in_code(source) == {"BUCKETLENS_REAL"}


@pytest.fixture(scope="module")
def deployment(moto_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Applied once for the module, and destroyed after its last test whatever their order: the teardown
    fails (an error on the last test) unless the state is then empty and the table gone."""
    with provisioned(moto_server_url, tmp_path_factory, apply=True) as applied:
        yield applied
        _destroy_and_check(applied)


def _destroy_and_check(deployed: Deployment) -> None:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    destroy = terraform_cmd(
        deployed.tf,
        deployed.terraform,
        "destroy",
        auto_approve=IsFlagged,
        input=False,
        no_color=IsFlagged,
        force=None,
    )
    run(destroy, deployed.workdir, APPLY_TIMEOUT, env)
    state = json.loads(run([deployed.terraform, "show", "-json"], deployed.workdir, 60, env))
    assert not state.get("values", {}).get("root_module", {}).get("resources")
    assert deployed.outputs["table_name"] not in deployed.client("dynamodb").list_tables()["TableNames"]


@pytest.fixture
def on_moto(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The deployment, with this test's boto3 clients pointed at its moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployment.endpoint)
    return deployment


def _help_options(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "job", *argv, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", done.stdout))


def test_table_matches_job_setup(on_moto: Deployment) -> None:
    # given the applied table and one made by `python -m job setup` in the same account
    ddb = on_moto.client("dynamodb")
    env = {**os.environ, "AWS_ENDPOINT_URL": on_moto.endpoint}
    subprocess.run(
        [sys.executable, "-m", "job", "setup", "--table", "setup-reference"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    # when both are described
    applied = ddb.describe_table(TableName=on_moto.outputs["table_name"])["Table"]
    reference = ddb.describe_table(TableName="setup-reference")["Table"]
    # then keys, attribute types and billing are the same
    assert applied["KeySchema"] == reference["KeySchema"]
    assert sorted(applied["AttributeDefinitions"], key=str) == sorted(
        reference["AttributeDefinitions"], key=str
    )
    assert applied["BillingModeSummary"]["BillingMode"] == reference["BillingModeSummary"]["BillingMode"]
    assert on_moto.outputs["table_name"] == job_config.DEFAULT_TABLE
    # and the table is recoverable and encrypted
    backups = ddb.describe_continuous_backups(TableName=on_moto.outputs["table_name"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert applied["SSEDescription"]["Status"] == "ENABLED"


def test_the_limiter_table_is_the_one_the_shared_quota_reads(on_moto: Deployment) -> None:
    # given the applied limiter table / then its keys are job.core.quota's, and its rows expire
    from job.core import quota

    ddb = on_moto.client("dynamodb")
    name = on_moto.outputs["limiter_table_name"]
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == quota.TABLE_DEFINITION["KeySchema"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == quota.TTL_ATTRIBUTE and ttl["TimeToLiveStatus"] == "ENABLED"


def test_job_definition_runs_what_job_run_accepts(on_moto: Deployment) -> None:
    # given the applied job definition
    definition = on_moto.client("batch").describe_job_definitions(
        jobDefinitions=[on_moto.outputs["job_definition_arn"]]
    )["jobDefinitions"][0]
    container = definition["containerProperties"]
    # when its command, parameters and environment are compared with `python -m job run --help`
    options = _help_options("run")
    command = container["command"]
    # then the image's entrypoint plus the command is `python -m job run` with options the worker has,
    # each Ref:: with a default (the command replaces only the image's CMD)
    assert [*emulator.ENTRYPOINT, *command[:1]] == ["python", "-m", "job", "run"]
    flags = [arg for arg in command[1:] if arg.startswith("--")]
    assert flags and set(flags) <= options
    refs = {arg.removeprefix("Ref::") for arg in command if arg.startswith("Ref::")}
    assert refs == {"source", "shards", "shard_offset", "features"}
    assert refs <= set(definition["parameters"])
    assert (definition["parameters"]["shards"], definition["parameters"]["shard_offset"]) == ("1", "0")
    assert definition["parameters"]["source"] == f"s3://{IMAGES_BUCKET}/"
    # and every BUCKETLENS_* variable is one of the worker's options
    env = {e["name"]: e["value"] for e in container["environment"]}
    bucketlens = {name for name in env if name.startswith("BUCKETLENS_")}
    assert {
        "BUCKETLENS_TABLE",
        "BUCKETLENS_RESULTS_URI",
        "BUCKETLENS_TPS_QUOTA",
        "BUCKETLENS_LIMITER_TABLE",
    } <= bucketlens
    for name in bucketlens:
        assert "--" + name.removeprefix("BUCKETLENS_").lower().replace("_", "-") in options, name
    assert env["BUCKETLENS_TABLE"] == on_moto.outputs["table_name"]
    assert env["BUCKETLENS_RESULTS_URI"] == f"s3://{on_moto.outputs['manifests_bucket_name']}/runs"
    # the account's quota, shared by every child through the limiter table; no per-child split, no fixed
    # thread count: both follow the rate a child may reach
    assert (
        float(env["BUCKETLENS_TPS_QUOTA"]) == 50
        and env["BUCKETLENS_LIMITER_TABLE"] == on_moto.outputs["limiter_table_name"]
    )
    assert "BUCKETLENS_MAX_TPS" not in env and "BUCKETLENS_WORKERS" not in env
    assert env["AWS_RETRY_MODE"] == "adaptive"
    assert set(env["BUCKETLENS_EXTENSIONS"].split(",")) == set(job_config.DEFAULT_EXTENSIONS.split(","))


def test_retry_strategy_keys_on_the_worker_exit_codes(on_moto: Deployment) -> None:
    # given the applied job definition
    definition = on_moto.client("batch").describe_job_definitions(
        jobDefinitions=[on_moto.outputs["job_definition_arn"]]
    )["jobDefinitions"][0]
    # when its retry rules are read
    rules = definition["retryStrategy"]["evaluateOnExit"]
    by_code = {r.get("onExitCode"): r["action"].upper() for r in rules if r.get("onExitCode")}
    # then Spot reclaims and transient exits retry, configuration errors do not, and the rest exits
    assert {"onStatusReason": "Host EC2*", "action": "RETRY"}.items() <= {
        k: (v.upper() if k == "action" else v) for k, v in rules[0].items()
    }.items()
    assert by_code[str(job_errors.EXIT_TRANSIENT)] == "RETRY"
    assert by_code[str(job_errors.EXIT_CONFIG)] == "EXIT"
    assert rules[-1].get("onReason") == "*" and rules[-1]["action"].upper() == "EXIT"
    assert definition["retryStrategy"]["attempts"] >= 2
    assert definition["timeout"]["attemptDurationSeconds"] >= 60


def test_compute_environment_is_capped_at_64_vcpus(on_moto: Deployment) -> None:
    # given the applied queue / when its compute environment is described
    queue = on_moto.client("batch").describe_job_queues(jobQueues=[on_moto.outputs["job_queue_arn"]])[
        "jobQueues"
    ][0]
    arn = queue["computeEnvironmentOrder"][0]["computeEnvironment"]
    env = on_moto.client("batch").describe_compute_environments(computeEnvironments=[arn])[
        "computeEnvironments"
    ][0]
    # then it scales from 0 to the default 64 vCPUs on Spot
    assert env["computeResources"]["maxvCpus"] == 64
    assert env["computeResources"]["minvCpus"] == 0
    assert env["computeResources"]["type"] == "SPOT"
    # and its instances start from a launch template that requires IMDSv2 one hop away, so the job
    # containers (a hop further, on the bridge network) cannot take the instance role's credentials
    template = env["computeResources"]["launchTemplate"]
    (version,) = on_moto.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template["launchTemplateId"], Versions=[template["version"]]
    )["LaunchTemplateVersions"]
    metadata = version["LaunchTemplateData"]["MetadataOptions"]
    assert (metadata["HttpTokens"], metadata["HttpPutResponseHopLimit"]) == ("required", 1)
    assert metadata["HttpEndpoint"] == "enabled"


def test_lambda_runs_the_submitter_handler_with_the_variables_it_reads(on_moto: Deployment) -> None:
    # given the applied function
    function = on_moto.client("lambda").get_function(FunctionName=on_moto.outputs["submitter_function_name"])
    config = function["Configuration"]
    module, _, func = config["Handler"].rpartition(".")
    handler_file = REPO.joinpath(*module.split(".")).with_suffix(".py")
    # when the handler module and the string literals of the submitter's code are read (not comments),
    # with the worker's settings its fast path reads (job/worker/config.py, same BUCKETLENS_* names)
    tree = ast.parse(handler_file.read_text())
    read = {job_config.env_name(option) for option in job_config.OPTIONS}
    for path in SUBMITTER_DIR.glob("*.py"):
        read |= env_names_in_code(path.read_text())
    # then the handler function exists, and the function sets exactly the variables the submitter reads
    assert func in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert config["Runtime"] == "python3.13"  # the lambda_runtime default, the container's minor
    env = set(config["Environment"]["Variables"])
    assert env <= read, "set but never read by lambda_submitter/"
    assert env >= SUBMITTER_CONTRACT_ENV
    assert read >= SUBMITTER_CONTRACT_ENV, "the contract's names are not all read by lambda_submitter/"


def deployed_zip(on_moto: Deployment, dest: Path) -> Path:
    """The submitter zip as the function was deployed from it: the object in S3 the function names."""
    function = on_moto.resource("module.submitter.aws_lambda_function.this")
    s3 = on_moto.client("s3")
    version = {"VersionId": function["s3_object_version"]} if function["s3_object_version"] else {}
    obj = s3.get_object(Bucket=function["s3_bucket"], Key=function["s3_key"], **version)
    dest.write_bytes(obj["Body"].read())
    return dest


def test_lambda_zip_holds_our_code_and_the_locked_wheels_only(on_moto: Deployment, tmp_path: Path) -> None:
    # given the zip Terraform deployed, read back from S3 where it is kept
    package = deployed_zip(on_moto, tmp_path / "submitter.zip")
    # when its entries are split into ours and the wheels' (each wheel lists its files in RECORD)
    archive = zipfile.ZipFile(package)
    names = set(archive.namelist())
    ours = {n for n in names if n.split("/")[0] in ("job", "lambda_submitter")}
    installed = {
        line.split(",")[0]
        for record in names
        if record.endswith(".dist-info/RECORD")
        for line in archive.read(record).decode().splitlines()
        if line
    }
    # then ours are the submitter, the shared contracts and the worker its fast path runs, nothing else
    expected = {f"lambda_submitter/{p.name}" for p in SUBMITTER_DIR.glob("*.py")} | {"job/__init__.py"}
    for package_dir in ("core", "exif", "worker"):
        expected |= {f"job/{package_dir}/{p.name}" for p in (REPO / "job" / package_dir).glob("*.py")}
    assert ours == expected
    assert not any("test" in n or "__pycache__" in n for n in ours)
    # and every other entry is a file of a wheel pinned in lambda_submitter/requirements.txt
    assert names - ours <= installed
    pinned = {
        line.split("==")[0].lower().replace("-", "_")
        for line in (SUBMITTER_DIR / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    wheels = {
        n.split("/")[0].removesuffix(".dist-info").rsplit("-", 1)[0].lower()
        for n in names
        if n.endswith(".dist-info/RECORD")
    }
    assert wheels == pinned


def test_lambda_zip_runs_the_handler_and_the_fast_path_from_the_zip_alone(
    on_moto: Deployment, tmp_path: Path
) -> None:
    # given the deployed zip unpacked as Lambda does (into /var/task), and the function's environment
    package = deployed_zip(on_moto, tmp_path / "submitter.zip")
    task = tmp_path / "task"
    zipfile.ZipFile(package).extractall(task)
    function = on_moto.client("lambda").get_function(FunctionName=on_moto.outputs["submitter_function_name"])
    module = function["Configuration"]["Handler"].rpartition(".")[0]
    env = {
        **function["Configuration"]["Environment"]["Variables"],
        "PYTHONPATH": str(task),
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": on_moto.endpoint,
    }
    probe = f"""
import io, sys
import {module}
from lambda_submitter import config
from job.worker import immediate
import PIL.Image, pillow_heif, boto3, backoff
task = {str(task)!r}
outside = [n for n, m in sys.modules.items() if n.split(".")[0] in
           ("job", "lambda_submitter", "PIL", "pillow_heif", "boto3", "botocore", "backoff")
           and not (getattr(m, "__file__", None) or task).startswith(task)]
assert not outside, outside
cfg = config.from_env()
assert cfg.labeller is not None and cfg.labeller.tps_quota, cfg
pillow_heif.register_heif_opener()
out = io.BytesIO()
PIL.Image.new("RGB", (64, 48), (9, 99, 199)).save(out, "HEIF")
assert PIL.Image.open(io.BytesIO(out.getvalue())).size == (64, 48)
print("ok")
"""
    # when Python starts without site-packages (only the zip's files and the standard library)
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # then the handler, the worker, Pillow with HEIF and boto3 all import from the zip, and the
    # function's environment is a valid fast-path configuration
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_event_source_mapping_reports_batch_item_failures(on_moto: Deployment) -> None:
    # given the applied function / when its event source mappings are listed
    function = on_moto.client("lambda").get_function(FunctionName=on_moto.outputs["submitter_function_name"])
    arn = function["Configuration"]["FunctionArn"]
    mappings = [
        m
        for m in on_moto.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"] == arn
    ]
    # then the events queue feeds it in batches, reporting partial failures
    assert len(mappings) == 1
    queue_arn = on_moto.resource("module.triggers.aws_sqs_queue.this")["arn"]
    assert mappings[0]["EventSourceArn"] == queue_arn
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # and batches can outgrow the fast path (100 events), which AWS allows only with a window of 1 s or more
    assert mappings[0]["BatchSize"] == 100
    assert mappings[0]["MaximumBatchingWindowInSeconds"] >= 1


def test_notifications_cover_every_extension_the_worker_accepts(on_moto: Deployment) -> None:
    # given the images bucket's notification configuration
    s3 = on_moto.client("s3")
    config = s3.get_bucket_notification_configuration(Bucket=IMAGES_BUCKET)
    queue_arn = on_moto.resource("module.triggers.aws_sqs_queue.this")["arn"]
    # when the suffix filters are collected
    suffixes = set()
    for rule in config["QueueConfigurations"]:
        assert rule["QueueArn"] == queue_arn
        assert {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"} <= set(rule["Events"])
        for f in rule["Filter"]["Key"]["FilterRules"]:
            if f["Name"].lower() == "suffix":
                suffixes.add(f["Value"])
    # then every default worker extension is routed, in lower and upper case
    for ext in job_config.DEFAULT_EXTENSIONS.split(","):
        assert f".{ext}" in suffixes and f".{ext.upper()}" in suffixes, ext
    # and failed events end in the dead-letter queue
    sqs = on_moto.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=on_moto.outputs["events_queue_url"], AttributeNames=["All"])
    redrive = json.loads(attrs["Attributes"]["RedrivePolicy"])
    assert (
        redrive["deadLetterTargetArn"] == on_moto.resource("module.triggers.aws_sqs_queue.dead_letter")["arn"]
    )


def test_inventory_manifests_reach_the_submitter(on_moto: Deployment) -> None:
    # given the inventory configuration and the inventory bucket's notifications
    s3 = on_moto.client("s3")
    inventory_bucket = on_moto.outputs["inventory_bucket_name"]
    inventory = s3.get_bucket_inventory_configuration(Bucket=IMAGES_BUCKET, Id="bucketlens")[
        "InventoryConfiguration"
    ]
    notifications = s3.get_bucket_notification_configuration(Bucket=inventory_bucket)
    # when the function they invoke is looked up
    function_arn = on_moto.client("lambda").get_function(
        FunctionName=on_moto.outputs["submitter_function_name"]
    )["Configuration"]["FunctionArn"]
    # then CSV reports land in the inventory bucket and their manifest.json invokes the submitter
    assert inventory["Destination"]["S3BucketDestination"]["Format"] == "CSV"
    assert inventory["Destination"]["S3BucketDestination"]["Bucket"].endswith(f":::{inventory_bucket}")
    rules = notifications["LambdaFunctionConfigurations"]
    assert [r["LambdaFunctionArn"] for r in rules] == [function_arn]
    suffix = {f["Name"].lower(): f["Value"] for f in rules[0]["Filter"]["Key"]["FilterRules"]}["suffix"]
    assert suffix == "manifest.json"


# Granted for what the service does with the role, not for a call in our code (each with its reason).
LAMBDA_RUNTIME = {"logs:CreateLogStream", "logs:PutLogEvents"}  # the runtime ships the function's logs
SUBMITTER_SERVICE_NEEDS = LAMBDA_RUNTIME | {
    # the SQS event source mapping polls and deletes with the function's role (AWS Lambda Developer Guide)
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",  # the function's own dead-letter queue (dead_letter_config), sent by Lambda
    "es:ESHttpDelete",  # search_delete.py signs its HTTP DELETE itself: no boto3 client call to find
    "s3:GetObjectVersion",  # the fast path's GetObject with the event's VersionId needs it
}
# the vector store's writes (job/core/vectors.py), granted only with embedding_model
VECTOR_WRITES = {
    "s3vectors:CreateIndex",
    "s3vectors:CreateVectorBucket",
    "s3vectors:GetIndex",
    "s3vectors:GetVectorBucket",
    "s3vectors:PutVectors",
}
# Found in modules the fast path imports, never called by it (the scan sees modules, not call paths).
SUBMITTER_NEVER_CALLS = {
    "dynamodb:BatchGetItem",  # store.get_states: a Batch child's prefetch (job/worker/run.py)
    "secretsmanager:GetSecretValue",  # OpenSearch basic auth: the fast path is off with search
}
# granted only with embedding_model, which this deployment does not set (test_static.py checks the grants):
# deletes remove vectors, and the fast path writes them
SUBMITTER_CONDITIONAL = {"s3vectors:DeleteVectors", "s3vectors:ListIndexes", *VECTOR_WRITES}
SCHEDULE_SERVICE_NEEDS = LAMBDA_RUNTIME | {"iam:PassRole"}  # UpdateSchedule passes the scheduler's role
WORKER_SERVICE_NEEDS = {
    "s3:GetObjectVersion",  # GetObject with VersionId (the listed version) needs it
    "es:ESHttpHead",  # opensearch-py sends these as signed HTTP, not as boto3 calls
    "es:ESHttpPost",
    "es:ESHttpPut",
}


def _allowed_actions(policy_json: str) -> set[str]:
    actions: set[str] = set()
    for statement in json.loads(policy_json)["Statement"]:
        assert statement.get("Sid"), f"statement without sid: {statement}"
        if statement["Effect"] == "Allow":
            value = statement["Action"]
            actions |= {value} if isinstance(value, str) else set(value)
    return actions


def test_roles_grant_every_action_the_code_calls_and_no_wildcard(on_moto: Deployment) -> None:
    # given the applied inline policies of the worker and the submitter
    worker = _allowed_actions(on_moto.resource("module.batch.aws_iam_role_policy.job")["policy"])
    submitter = _allowed_actions(on_moto.resource("module.submitter.aws_iam_role_policy.this")["policy"])
    schedule = _allowed_actions(on_moto.resource("module.schedule[0].aws_iam_role_policy.this")["policy"])
    every = [
        _allowed_actions(r["values"]["policy"])
        for r in on_moto.resources
        if r["type"] == "aws_iam_role_policy"
    ]
    # when the actions the code calls are derived from its source
    worker_calls = iam_calls.actions_in(iam_calls.import_closure(REPO, WORKER_ENTRY, "job"))
    # (each Lambda's role runs what its handler imports; the command line runs with the user's credentials)
    packages = ("job", "lambda_submitter")
    submitter_calls = iam_calls.actions_in(
        iam_calls.import_closure(REPO, [SUBMITTER_DIR / "handler.py"], packages)
    )
    schedule_calls = iam_calls.actions_in(
        iam_calls.import_closure(REPO, [SUBMITTER_DIR / "scheduler.py"], packages)
    )
    # then each is granted to the role that runs that code
    assert worker_calls, "no AWS calls found in job/: the scan is broken"
    # (granted only when configured: basic auth to a self-managed OpenSearch reads search_secret_arn, and the
    # vector store's writes come with embedding_model)
    conditional = {"secretsmanager:GetSecretValue", *VECTOR_WRITES}
    assert {a: sorted(f) for a, f in worker_calls.items() if a not in worker and a not in conditional} == {}
    assert submitter_calls, "no AWS calls found in lambda_submitter/: the scan is broken"
    assert {
        a: sorted(f)
        for a, f in submitter_calls.items()
        if a not in submitter and a not in SUBMITTER_NEVER_CALLS | SUBMITTER_CONDITIONAL
    } == {}
    assert not submitter & SUBMITTER_NEVER_CALLS
    assert "rekognition:StartProjectVersion" in schedule_calls, "the scheduler's calls were not found"
    assert {a: sorted(f) for a, f in schedule_calls.items() if a not in schedule} == {}
    # and no role is granted an action that neither its code nor the service running it uses
    assert sorted(worker - set(worker_calls) - WORKER_SERVICE_NEEDS) == []
    assert sorted(submitter - set(submitter_calls) - SUBMITTER_SERVICE_NEEDS) == []
    assert sorted(schedule - set(schedule_calls) - SCHEDULE_SERVICE_NEEDS) == []
    # and the results table gives the worker no Query or Scan: only the operator commands read it that way
    results = on_moto.resource("module.results.aws_dynamodb_table.this")["arn"]
    on_results = {
        action
        for s in json.loads(on_moto.resource("module.batch.aws_iam_role_policy.job")["policy"])["Statement"]
        if results in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert on_results and not on_results & {"dynamodb:Query", "dynamodb:Scan"}
    # and no policy grants a wildcard action
    for actions in every:
        assert not [a for a in actions if a == "*" or a.endswith(":*")]


def test_every_service_trust_names_this_account_and_names_derive_from_name(on_moto: Deployment) -> None:
    # given every role the deployment made
    roles = [r["values"] for r in on_moto.resources if r["type"] == "aws_iam_role"]
    assert roles
    for role in roles:
        for statement in json.loads(role["assume_role_policy"])["Statement"]:
            service = statement["Principal"].get("Service")
            # then a service may assume it only for this account (EC2 gives no source for instance profiles)
            if service and service != "ec2.amazonaws.com":
                assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012", role[
                    "name"
                ]
    # and every named resource starts with the deployment's name, so two stacks share an account
    named = {
        r["values"].get("name") or r["values"].get("function_name") or r["values"].get("bucket")
        for r in on_moto.resources
        if r["type"]
        in (
            "aws_dynamodb_table",
            "aws_sqs_queue",
            "aws_lambda_function",
            "aws_iam_role",
            "aws_s3_bucket",
            "aws_batch_job_queue",
            "aws_batch_job_definition",
            "aws_ecr_repository",
            "aws_cloudwatch_event_rule",
        )
    }
    assert named and all(n.startswith("bucketlens") for n in named), named


def test_the_image_the_job_definition_runs_never_expires(on_moto: Deployment) -> None:
    # given the ECR lifecycle policy / then no rule selects tagged images (the job definition runs a tag)
    policy = json.loads(on_moto.resource("module.ecr.aws_ecr_lifecycle_policy.this")["policy"])
    assert policy["rules"] and all(r["selection"]["tagStatus"] == "untagged" for r in policy["rules"])


_BY_HAND = re.compile(r"<!-- by-hand:begin.*?-->(.*?)<!-- by-hand:end -->", re.S)


def readme_submit_jobs() -> list[list[str]]:
    """The deployment docs' `aws batch submit-job` commands, exactly as a user copies them."""
    block = _BY_HAND.search((REPO / "docs" / "deployment.md").read_text()).group(1)
    commands = re.findall(r"```sh\n(aws batch submit-job .*?)```", block, re.S)
    return [shlex.split(command.replace("\\\n", " ")) for command in commands]


def batch_submission(argv: list[str]) -> tuple[int | None, dict[str, str]]:
    """(array size or None, parameters) of a submit-job command line, as the AWS CLI reads them."""
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    raw = options.get("--parameters", "")
    if raw.startswith("{"):
        parameters = json.loads(raw)
    else:
        parameters = dict(pair.split("=", 1) for pair in raw.split(",") if pair)
    size = options.get("--array-properties")
    return (int(size.removeprefix("size=")) if size else None), parameters


def batch_command(definition: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """The container command after Batch's Ref:: substitution (submitted values over defaults)."""
    values = {**definition["parameters"], **parameters}
    return [
        values[arg[5:]] if arg.startswith("Ref::") else arg
        for arg in definition["containerProperties"]["command"]
    ]


def _jpeg(text: str) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (64, 48), (40, 90, 160))
    ImageDraw.Draw(image).text((2, 2), text, fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "JPEG")
    return buf.getvalue()


def test_readme_submit_job_commands_run_the_applied_job_definition(on_moto: Deployment) -> None:
    # given the deployment docs' buckets with images, and an S3 Inventory report of the whole images bucket
    s3, ddb = on_moto.client("s3"), on_moto.client("dynamodb")
    for bucket in ("my-images", "my-inventory"):
        s3.create_bucket(Bucket=bucket)
    holiday = [f"holiday/IMG_00{n:02d}.jpg" for n in range(37, 43)] + ["holiday/beach day+1.jpg"]
    other = ["other/garden.jpg"]
    for key in holiday + other:
        s3.put_object(Bucket="my-images", Key=key, Body=_jpeg(key))
    rows = io.StringIO()
    for key in holiday + other:
        head = s3.head_object(Bucket="my-images", Key=key)
        size, etag = str(head["ContentLength"]), head["ETag"].strip('"')
        rows.write(f'"my-images","{quote_plus(key, safe="/")}","{size}","{etag}"\n')
    folder = "my-images/all-images/2026-11-22T01-00Z"
    s3.put_object(
        Bucket="my-inventory",
        Key="my-images/all-images/data/a.csv.gz",
        Body=gzip.compress(rows.getvalue().encode()),
    )
    manifest = {
        "sourceBucket": "my-images",
        "destinationBucket": "arn:aws:s3:::my-inventory",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, ETag",
        "files": [{"key": "my-images/all-images/data/a.csv.gz", "size": 1, "MD5checksum": "x"}],
    }
    s3.put_object(Bucket="my-inventory", Key=f"{folder}/manifest.json", Body=json.dumps(manifest).encode())
    definition = on_moto.client("batch").describe_job_definitions(
        jobDefinitions=[on_moto.outputs["job_definition_arn"]]
    )["jobDefinitions"][0]
    # (this deployment's default features include custom-labels, which moto cannot answer)
    definition["parameters"]["features"] = "labels"
    environment = {e["name"]: e["value"] for e in definition["containerProperties"]["environment"]}
    table = on_moto.outputs["table_name"]

    def results() -> dict[str, dict]:
        items = ddb.scan(TableName=table)["Items"]
        return {i["key"]["S"]: i for i in items if i["bucket"]["S"] == "my-images"}

    submissions = readme_submit_jobs()
    assert len(submissions) == 3
    seen: list[dict[str, dict]] = []
    for argv in submissions:
        # when each documented command is run as Batch would run its children
        size, parameters = batch_submission(argv)
        command = batch_command(definition, parameters)
        assert command[0] == "run"
        for index in range(size or 1):
            env = {
                **os.environ,
                **environment,
                "AWS_ENDPOINT_URL": on_moto.endpoint,
                "AWS_BATCH_JOB_ID": argv[4],
            }
            if size:
                env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
            done = subprocess.run(
                [sys.executable, *emulator.ENTRYPOINT[1:], *command],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr[-2000:]
        seen.append(results())
    # then the prefix backfill labelled exactly the holiday images
    assert set(seen[0]) == set(holiday)
    assert {item["status"]["S"] for item in seen[0].values()} == {"done"}
    # and the inventory run added the rest of the bucket without touching what was done
    assert set(seen[1]) == set(holiday + other)
    assert all(seen[1][key]["processed_at"] == seen[0][key]["processed_at"] for key in holiday)
    # and the single-image rerun added text detection to that image alone
    assert seen[2]["holiday/IMG_0042.jpg"]["features"]["S"] == "labels,text"
    assert {k for k in holiday + other if seen[2][k]["processed_at"] != seen[1][k]["processed_at"]} == {
        "holiday/IMG_0042.jpg"
    }


def test_demo_setup_path_creates_what_terraform_creates(on_moto: Deployment) -> None:
    # given the applied deployment, described the way the demo sees its resources

    applied = emulator.describe(
        emulator.Resources(
            how="terraform",
            table=on_moto.outputs["table_name"],
            images_bucket=IMAGES_BUCKET,
            manifests_bucket=on_moto.outputs["manifests_bucket_name"],
            job_queue=on_moto.outputs["job_queue_arn"],
            job_definition=on_moto.outputs["job_definition_arn"],
            events_queue_url=on_moto.outputs["events_queue_url"],
            dead_letter_queue_url=on_moto.outputs["dead_letter_queue_url"],
            results_uri=on_moto.outputs["results_uri"],
            submitter_environment=on_moto.outputs["submitter_environment"],
        )
    )
    # when the demo's setup path runs on a second, fresh emulator (its own process: moto's state is global)
    code = "import json; from job.demo import emulator; print(json.dumps(emulator.describe_setup_path()))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    made = json.loads(done.stdout.strip().splitlines()[-1])
    # then the table, the events queue, the notifications and the job definition are the same
    applied = json.loads(json.dumps(applied))  # tuples as lists, like the subprocess's JSON
    for part in ("table", "notifications", "job_queue"):
        assert made[part] == applied[part], part
    # (this deployment runs a Custom Labels model on a schedule: its events may wait 4 days, 1800 s apart)
    assert applied["queue"]["max_receive_count"] == 345600 // 1800 + 1
    # and the setup path, with no schedule, derives it from the default patience as Terraform does
    default = re.search(
        r'variable "event_patience_hours" \{.*?default\s*=\s*(\d+)',
        (REPO / "terraform" / "variables.tf").read_text(),
        re.S,
    )
    patience = triggers.receives_for_patience(int(default.group(1)) * 3600)
    assert made["queue"]["max_receive_count"] == patience == 29
    assert made["queue"] == {**applied["queue"], "max_receive_count": patience}
    model_env = "BUCKETLENS_PROJECT_VERSION_ARN"
    assert made["submitter_environment"] == [n for n in applied["submitter_environment"] if n != model_env]
    # and so is the job definition; only the Custom Labels model this deployment names is extra
    applied_env = [
        n for n in applied["job_definition"]["environment"] if n != "BUCKETLENS_PROJECT_VERSION_ARN"
    ]
    assert made["job_definition"] == {**applied["job_definition"], "environment": applied_env}
    assert made["job_definition"]["command"] == emulator.JOB_COMMAND


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the pattern features our rule uses: exact values, `suffix`, nesting."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            k in event and matches(v, event[k]) for k, v in pattern.items()
        )
    return any(
        (isinstance(p, dict) and isinstance(event, str) and event.endswith(p["suffix"])) or p == event
        for p in pattern
    )


def test_eventbridge_route_adds_a_rule_for_the_bucket_and_leaves_its_notifications_alone(
    on_moto: Deployment,
) -> None:
    # given the applied deployment (notification route) / when the default route, eventbridge, is planned
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    changes = {}
    for manage in ("false", "true"):
        out = f"eb-{manage}.plan"
        args = [
            "-var",
            "event_route=eventbridge",
            "-var",
            f"manage_bucket_eventbridge={manage}",
            f"-out={out}",
        ]
        run(
            [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false", *args],
            on_moto.workdir,
            APPLY_TIMEOUT,
            env,
        )
        plan = json.loads(run([on_moto.terraform, "show", "-json", out], on_moto.workdir, 60, env))
        changes[manage] = {c["address"]: c["change"] for c in plan["resource_changes"]}
    plain, managed = changes["false"], changes["true"]
    # then a rule and its queue target are created
    rule = plain["module.triggers.aws_cloudwatch_event_rule.images[0]"]
    assert rule["actions"] == ["create"]
    target = plain["module.triggers.aws_cloudwatch_event_target.images[0]"]
    assert target["actions"] == ["create"]
    assert target["after"]["arn"] == on_moto.resource("module.triggers.aws_sqs_queue.this")["arn"]
    # and its pattern takes S3's published Object Created / Object Deleted events (lifecycle included) for
    # the images bucket's image keys, and nothing else
    pattern = json.loads(rule["after"]["event_pattern"])
    for sample in (
        "eventbridge_object_created",
        "eventbridge_object_deleted",
        "eventbridge_object_deleted_lifecycle",
    ):
        event = json.loads((REPO / "tests" / "events" / f"{sample}.json").read_text())
        event["detail"]["bucket"]["name"] = IMAGES_BUCKET
        event["detail"]["object"]["key"] = "photos/IMG_0001.JPG"
        assert matches(pattern, event), sample
        other = json.loads(json.dumps(event))
        other["detail"]["bucket"]["name"] = "someone-elses-bucket"
        assert not matches(pattern, other)
        other["detail"]["bucket"]["name"], other["detail"]["object"]["key"] = IMAGES_BUCKET, "notes.txt"
        assert not matches(pattern, other)
    restore = json.loads((REPO / "tests" / "events" / "eventbridge_object_created.json").read_text())
    restore["detail-type"], restore["detail"]["bucket"]["name"] = "Object Restore Completed", IMAGES_BUCKET
    assert not matches(pattern, restore)
    # and the queue admits that rule only
    policy = json.loads(plain["module.triggers.aws_sqs_queue.this"]["after"]["policy"])
    (statement,) = [s for s in policy["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":rule/bucketlens-images-events")
    # and the bucket's notification configuration is not written (the applied one is given up), unless asked
    assert plain["module.triggers.aws_s3_bucket_notification.images[0]"]["actions"] == ["delete"]
    bucket = managed["module.triggers.aws_s3_bucket_notification.images[0]"]
    assert bucket["actions"] == ["update"]
    assert bucket["after"]["eventbridge"] is True and bucket["after"]["queue"] == []


def test_search_plans_an_encrypted_https_only_domain_in_the_vpc(on_moto: Deployment) -> None:
    # given the applied deployment and the route table of its subnets
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    endpoints = [
        *("-var", f'vpc_endpoint_route_table_ids=["{_route_table(on_moto)}"]'),
        *("-var", 'vpc_interface_endpoints=["batch","sqs","servicequotas"]'),
    ]
    # when search is planned on top of it, with the endpoints a subnet without NAT needs
    run(
        [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false", *endpoints]
        + [
            "-var",
            "enable_search=true",
            "-var",
            "search_create_service_linked_role=true",
            "-out=search.plan",
        ],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
    )
    plan = json.loads(run([on_moto.terraform, "show", "-json", "search.plan"], on_moto.workdir, 60, env))
    changes = {c["address"]: c for c in plan["resource_changes"]}
    # then a domain is added: encrypted, node-to-node TLS, HTTPS only, fine-grained access, in the subnets
    domain = changes["module.search[0].aws_opensearch_domain.this[0]"]
    assert domain["change"]["actions"] == ["create"]
    after = domain["change"]["after"]
    assert after["encrypt_at_rest"][0]["enabled"] and after["node_to_node_encryption"][0]["enabled"]
    assert after["domain_endpoint_options"][0]["enforce_https"] is True
    assert after["domain_endpoint_options"][0]["tls_security_policy"] == "Policy-Min-TLS-1-2-2019-07"
    security = after["advanced_security_options"][0]
    assert security["enabled"] and not security["internal_user_database_enabled"]
    assert after["vpc_options"][0]["subnet_ids"]
    # and the domain has a group of its own (in the workers' VPC), admitting HTTPS from the workers' group,
    # from the submitter's, which the submitter, now in the VPC, gets, and from the setup function's
    group = changes["module.search[0].aws_security_group.domain[0]"]["change"]
    assert group["actions"] == ["create"] and group["after"]["vpc_id"] == on_moto.vpc_id
    assert (
        domain["change"]["after_unknown"]["vpc_options"][0]["security_group_ids"] is True
    )  # that group's id
    rule = 'module.search[0].aws_vpc_security_group_ingress_rule.https["{}"]'
    workers = changes[rule.format("workers-0")]["change"]["after"]
    assert (workers["from_port"], workers["to_port"], workers["ip_protocol"]) == (443, 443, "tcp")
    assert workers["referenced_security_group_id"] == on_moto.security_group_id
    assert changes[rule.format("submitter")]["change"]["after_unknown"]["referenced_security_group_id"]
    assert len([a for a in changes if a.startswith("module.search[0].aws_vpc_security_group_ingress")]) == 3
    assert changes["module.submitter.aws_security_group.this[0]"]["change"]["actions"] == ["create"]
    function = changes["module.submitter.aws_lambda_function.this"]["change"]
    assert function["actions"] == ["update"] and function["after"]["vpc_config"][0]["subnet_ids"]
    assert not any(a.endswith("aws_vpc_security_group_egress_rule") and "search" in a for a in changes)
    # and the account's OpenSearch service-linked role, which a VPC domain needs, is created when asked
    role = changes["module.search[0].aws_iam_service_linked_role.opensearch[0]"]["change"]
    assert (
        role["actions"] == ["create"]
        and role["after"]["aws_service_name"] == "opensearchservice.amazonaws.com"
    )
    # and the domain's master user is a role of its own, not the worker's: the setup function's, which
    # only Lambda assumes, may send GET and PUT to the domain, and runs in the VPC behind its own group
    master = domain["change"]["after_unknown"]["advanced_security_options"][0]["master_user_options"][0]
    assert master["master_user_arn"] is True  # the admin role's ARN, known once it exists
    admin = changes["module.search[0].aws_iam_role.admin[0]"]["change"]["after"]
    assert json.loads(admin["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    setup = changes["module.search[0].aws_lambda_function.setup[0]"]["change"]["after"]
    assert setup["handler"] == "lambda_submitter.search_setup.handler" and setup["vpc_config"]
    assert changes[rule.format("setup")]["change"]["actions"] == ["create"]
    # and Terraform invokes it with the workers as writers and the submitter as deleter
    # (read through `terraform console`: the invocation's input waits for nothing it names)
    grants = run(
        [
            on_moto.terraform,
            "console",
            "-var",
            "enable_search=true",
            "-var",
            f'search_reader_arns=["{READER}"]',
        ],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
        stdin="jsonencode(local.search_grants)\n",
    )
    assert json.loads(json.loads(grants)) == {
        "bucketlens_writer": [on_moto.outputs["worker_role_arn"]],
        "bucketlens_deleter": [on_moto.outputs["submitter_role_arn"]],
        "bucketlens_reader": [READER],
    }
    invocation = changes["module.search[0].aws_lambda_invocation.setup[0]"]["change"]
    assert invocation["actions"] == ["create"]
    # and nothing is replaced but the job definition (it gets the endpoint)
    assert not [
        a for a, c in changes.items() if "delete" in c["change"]["actions"] and "job_definition" not in a
    ]


def _route_table(on_moto: Deployment) -> str:
    (table,) = on_moto.client("ec2").describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [on_moto.vpc_id]}]
    )["RouteTables"]
    return table["RouteTableId"]


def test_the_submitter_joins_the_vpc_with_the_endpoints_it_needs(on_moto: Deployment) -> None:
    # given the applied deployment, and a VPC-only cluster that exists already (the AWS provider waits
    # 10 minutes before its first look at a domain it creates, so the domain itself is planned above)
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    route_table = _route_table(on_moto)
    search_vars = [
        *("-var", "enable_search=true", "-var", "submitter_in_vpc=true"),
        *("-var", "search_existing_endpoint=https://vpc-photos-abc.us-east-1.es.amazonaws.com"),
        *("-var", f"search_existing_domain_arn=arn:aws:es:{REGION}:123456789012:domain/photos"),
        *("-var", f'vpc_endpoint_route_table_ids=["{route_table}"]'),
        *("-var", 'vpc_interface_endpoints=["batch","sqs","servicequotas"]'),
    ]
    # when it is applied
    run(
        [on_moto.terraform, "apply", "-auto-approve", "-input=false", "-no-color", *search_vars],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
    )
    try:
        _check_the_submitter_is_in_the_vpc(on_moto, route_table)
    finally:  # the tests below start from the deployment without search
        run(
            [on_moto.terraform, "apply", "-auto-approve", "-input=false", "-no-color"],
            on_moto.workdir,
            APPLY_TIMEOUT,
            env,
        )
    # and when search is switched off again, the function leaves the VPC
    function = on_moto.client("lambda").get_function_configuration(
        FunctionName=on_moto.outputs["submitter_function_name"]
    )
    assert not (function.get("VpcConfig") or {}).get("SubnetIds")


def _check_the_submitter_is_in_the_vpc(on_moto: Deployment, route_table: str) -> None:
    """What the apply made, read back from the emulator's APIs."""
    ec2 = on_moto.client("ec2")
    # then the submitter runs in the workers' subnets, behind a group of its own that only sends HTTPS
    function = on_moto.client("lambda").get_function_configuration(
        FunctionName=on_moto.outputs["submitter_function_name"]
    )
    vpc = function["VpcConfig"]
    (submitter_group,) = vpc["SecurityGroupIds"]
    assert vpc["SubnetIds"] and submitter_group != on_moto.security_group_id
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [submitter_group]}])
    assert [
        (r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIpv4"))
        for r in rules["SecurityGroupRules"]
    ] == [(True, "tcp", 443, 443, "0.0.0.0/0")]
    # and its role may place the function's network interfaces there
    iam = on_moto.client("iam")
    role_name = function["Role"].rsplit("/", 1)[-1]
    policy = iam.get_role_policy(RoleName=role_name, PolicyName="bucketlens-submitter")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    (eni,) = [st for st in policy["Statement"] if st.get("Sid") == "PlaceNetworkInterfacesInTheVpc"]
    assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"} <= set(eni["Action"])
    # and S3 and DynamoDB have gateway endpoints on the route table; the services asked, interface ones
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [on_moto.vpc_id]}])
    found = {e["ServiceName"].rsplit(".", 1)[-1]: e for e in endpoints["VpcEndpoints"]}
    assert set(found) == {"s3", "dynamodb", "batch", "sqs", "servicequotas"}
    assert all(found[s]["RouteTableIds"] == [route_table] for s in ("s3", "dynamodb"))
    assert found["sqs"]["VpcEndpointType"].lower() == "interface" and found["sqs"]["PrivateDnsEnabled"]
    # and the interface endpoints admit 443 from the workers and the submitter only
    (endpoint_group,) = {g["GroupId"] for g in found["sqs"]["Groups"]}
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [endpoint_group]}])
    inbound = [r for r in rules["SecurityGroupRules"] if not r["IsEgress"]]
    assert sorted(r["ReferencedGroupInfo"]["GroupId"] for r in inbound) == sorted(
        [on_moto.security_group_id, submitter_group]
    )
    assert {(r["FromPort"], r["ToPort"]) for r in inbound} == {(443, 443)}


def _batch_events(status: str, queue: str) -> dict:
    """AWS's published Batch Job State Change example (tests/events/SOURCES.md) for our queue, at `status`;
    a FAILED one carries the fields of JobDetail the alarm's message names."""
    from tests.lambda_submitter.conftest import load_event

    event = load_event("batch_job_state_change.json")
    event["detail"].update(status=status, jobQueue=queue)
    if status == "FAILED":
        event["detail"].update(
            statusReason="Essential container in task exited",
            arrayProperties={"index": 7},
            jobName="bucketlens-bf-1234-0",
        )
        event["detail"]["container"]["logStreamName"] = "bucketlens-worker/default/abc123"
    return event


def _emitted(deployment: str) -> list[tuple[str, dict[str, str]]]:
    """Every (metric, dimensions) the worker and the fast path write as EMF, from a flush that counted every
    kind of thing, on each Path the code's emitters name (found by reading the code)."""
    from job.core import metrics

    code = "\n".join(p.read_text() for p in (REPO / "job").rglob("*.py"))
    paths = set(re.findall(r'Emitter\("([a-z_]+)"', code))
    assert paths == {"batch", "fast_path"}, paths
    delta = {
        "outcomes": {"done": 1, "error": 1, "transient": 1, "skipped_done": 1},
        "calls": {f"rekognition.{op}": 1 for op in metrics.REKOGNITION},
        "throttles_by_operation": dict.fromkeys(metrics.REKOGNITION, 1),
        "errors_by_class": {"BadImage": 1},
        "bytes_read": 1,
        "limiter_waits": 1,
        "limiter_wait_s": 0.1,
    }
    found = []
    for path in sorted(paths):
        for doc in metrics.documents(deployment, path, delta, [12.0], 0):
            (spec,) = doc["_aws"]["CloudWatchMetrics"]
            for names in spec["Dimensions"]:
                for metric in spec["Metrics"]:
                    found.append((metric["Name"], {n: doc[n] for n in names}))
    return found


def test_every_alarm_and_dashboard_metric_of_bucketlens_is_one_the_code_emits(on_moto: Deployment) -> None:
    # given the applied alarms and dashboard, and what the code's EMF lines carry
    emitted = _emitted(on_moto.outputs["submitter_environment"]["BUCKETLENS_DEPLOYMENT"])
    referenced: list[tuple[str, dict[str, str]]] = []
    alarms = on_moto.client("cloudwatch").describe_alarms(AlarmNamePrefix="bucketlens-")["MetricAlarms"]
    for alarm in alarms:
        stats = [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", ()) if "MetricStat" in q]
        if alarm.get("MetricName"):
            stats.append(alarm)
        for m in stats:
            if m["Namespace"] == "bucketlens":
                referenced.append((m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]}))
    body = json.loads(on_moto.client("cloudwatch").get_dashboard(DashboardName="bucketlens")["DashboardBody"])
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", ()):
            if line and line[0] == "bucketlens":
                pairs = [x for x in line[2:] if isinstance(x, str)]
                referenced.append((line[1], dict(zip(pairs[::2], pairs[1::2], strict=True))))
            for query in line if line and isinstance(line[0], dict) else ():
                schema = re.search(
                    r"SEARCH\('\{bucketlens,([A-Za-z,]+)\}.*?MetricName=\"(\w+)\"", query["expression"]
                )
                names = schema.group(1).split(",")
                referenced.append((schema.group(2), {n: None for n in names}))
    assert len(referenced) >= 10
    # then each names a metric the code writes, with exactly an emitted dimension set and its values (a
    # rename on either side would leave an alarm quietly OK)
    for metric, dims in referenced:
        assert any(
            name == metric
            and set(found) == set(dims)
            and all(v is None or found[k] == v for k, v in dims.items())
            for name, found in emitted
        ), (metric, dims)


def test_alarms_the_failed_job_rule_and_the_dashboard_are_applied(on_moto: Deployment) -> None:
    # given the applied deployment (alarms are on by default)
    from moto.events.models import EventPattern

    cloudwatch, events = on_moto.client("cloudwatch"), on_moto.client("events")
    topic = on_moto.outputs["alarm_topic_arn"]
    # then the topic exists, and only this account's alarms and the failed-job rule may publish to it
    policy = json.loads(on_moto.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    services = sorted(s["Principal"]["Service"] for s in policy["Statement"])
    assert services == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    assert all(s["Condition"] for s in policy["Statement"])
    # and each alarm watches what it says and tells the topic
    alarms = {
        a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix="bucketlens-")["MetricAlarms"]
    }
    assert set(alarms) == {
        "bucketlens-dead-letters",
        "bucketlens-queue-age",
        "bucketlens-submitter-errors",
        "bucketlens-submitter-throttles",
        "bucketlens-images-errored",
        "bucketlens-rekognition-throttled",
    }
    assert all(a["AlarmActions"] == [topic] for a in alarms.values())
    dlq = on_moto.outputs["dead_letter_queue_url"].rsplit("/", 1)[-1]
    assert alarms["bucketlens-dead-letters"]["Dimensions"] == [{"Name": "QueueName", "Value": dlq}]
    assert alarms["bucketlens-images-errored"]["Namespace"] == "bucketlens"
    share = {q["Id"]: q for q in alarms["bucketlens-rekognition-throttled"]["Metrics"]}
    # (throttled calls are not in RekognitionCalls: the share is of all attempts, and every attempt
    # throttled is 100 %, not a missing datapoint)
    assert share["share"]["Expression"] == "100 * FILL(throttles, 0) / (FILL(calls, 0) + FILL(throttles, 0))"
    assert {share[k]["MetricStat"]["Metric"]["MetricName"] for k in ("throttles", "calls")} == {
        "RekognitionThrottles",
        "RekognitionCalls",
    }
    # and the rule takes a FAILED job of our queue, not a SUCCEEDED one, nor another queue's
    rule = events.describe_rule(Name="bucketlens-batch-failed")
    pattern = EventPattern.load(rule["EventPattern"])
    queue = on_moto.outputs["job_queue_arn"]
    assert pattern.matches_event(_batch_events("FAILED", queue))
    assert not pattern.matches_event(_batch_events("SUCCEEDED", queue))
    assert not pattern.matches_event(_batch_events("FAILED", queue + "-other"))
    # and its message names the job, the child, the reason and the log stream
    (target,) = events.list_targets_by_rule(Rule="bucketlens-batch-failed")["Targets"]
    assert target["Arn"] == topic
    transformer = target["InputTransformer"]
    failed = _batch_events("FAILED", queue)
    message = transformer["InputTemplate"]
    for name, path in json.loads(json.dumps(transformer["InputPathsMap"])).items():
        value: Any = failed
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        message = message.replace(f"<{name}>", str(value))
    assert json.loads(message).startswith("bucketlens bucketlens: Batch job bucketlens-bf-1234-0 (")
    assert "child 7, FAILED: Essential container in task exited" in json.loads(message)
    assert "bucketlens-worker/default/abc123" in json.loads(message)
    # and the deployment's one CloudWatch Logs resource policy (a region holds 10) is AWS's pattern for
    # EventBridge: CreateLogStream unconditioned, PutLogEvents from the job-state rule only
    policies = [
        p
        for p in on_moto.client("logs").describe_resource_policies()["resourcePolicies"]
        if p["policyName"].startswith("bucketlens")
    ]
    assert [p["policyName"] for p in policies] == ["bucketlens-log-delivery"]
    statements = {s["Sid"]: s for s in json.loads(policies[0]["policyDocument"])["Statement"]}
    create, put = (
        statements["EventBridgeCreatesJobStateStreams"],
        statements["EventBridgeWritesJobStateChanges"],
    )
    assert create["Action"] == "logs:CreateLogStream" and "Condition" not in create
    jobs_rule = events.describe_rule(Name="bucketlens-batch-jobs")["Arn"]
    assert put["Action"] == "logs:PutLogEvents"
    assert put["Condition"] == {"ArnEquals": {"aws:SourceArn": jobs_rule}}
    # and the dashboard shows the metrics, the queues and the jobs by status
    body = json.loads(cloudwatch.get_dashboard(DashboardName="bucketlens")["DashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert "Images" in titles and "Queues" in titles and any("by status" in t for t in titles)
    assert on_moto.outputs["dashboard_url"].endswith("#dashboards/dashboard/bucketlens")


# Where each kind of resource names its key; every one planned must name the customer-managed key.
KEY_ATTRIBUTE = {
    "aws_dynamodb_table": lambda a: a["server_side_encryption"][0]["kms_key_arn"],
    "aws_cloudwatch_log_group": lambda a: a["kms_key_id"],
    "aws_lambda_function": lambda a: a["kms_key_arn"],
    "aws_sqs_queue": lambda a: a["kms_master_key_id"],
    "aws_sns_topic": lambda a: a["kms_master_key_id"],
    "aws_ecr_repository": lambda a: a["encryption_configuration"][0]["kms_key"],
    "aws_scheduler_schedule": lambda a: a["kms_key_arn"],
    "aws_s3_bucket_server_side_encryption_configuration": lambda a: a["rule"][0][
        "apply_server_side_encryption_by_default"
    ][0]["kms_master_key_id"],
    "aws_s3_bucket_inventory": lambda a: a["destination"][0]["bucket"][0]["encryption"][0]["sse_kms"][0][
        "key_id"
    ],
}


def test_the_onnx_labeler_on_gpus_plans_a_gpu_queue_the_submitter_routes_to(on_moto: Deployment) -> None:
    # given the applied deployment, and the onnx labeler's model and classes in the images bucket
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    onnx = [
        *("-var", "labeler=onnx"),
        *("-var", "features=labels"),  # the onnx labeler labels; text and custom labels are Rekognition's
        *("-var", "enable_schedule=false"),  # (the Custom Labels schedule goes with them)
        *("-var", f"model_uri=s3://{IMAGES_BUCKET}/models/resnet50.onnx"),
        *("-var", f"model_labels_uri=s3://{IMAGES_BUCKET}/models/imagenet.json"),
        *("-var", 'model_settings={"top_k": "3"}'),
    ]
    plan_cmd = [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false"]
    # when it is planned on GPUs
    run([*plan_cmd, *onnx, "-var", "gpu=true", "-out=gpu.plan"], on_moto.workdir, APPLY_TIMEOUT, env)
    plan = json.loads(run([on_moto.terraform, "show", "-json", "gpu.plan"], on_moto.workdir, 60, env))
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    # then a GPU compute environment on g4dn/g5 Spot with the ECS AL2023 NVIDIA AMI is added, with its queue
    compute = changes["module.batch.aws_batch_compute_environment.gpu[0]"]["after"]["compute_resources"][0]
    assert compute["type"] == "SPOT" and compute["ec2_configuration"][0]["image_type"] == "ECS_AL2023_NVIDIA"
    assert compute["instance_type"] and all(t.startswith(("g4dn", "g5")) for t in compute["instance_type"])
    assert changes["module.batch.aws_batch_job_queue.gpu[0]"]["actions"] == ["create"]
    assert compute["launch_template"][0]["launch_template_id"]  # IMDSv2, hop limit 1, as the CPU instances
    # and the failed-job and job-state rules watch the GPU queue too (their pattern waits for its ARN)
    for rule in ("failed", "jobs"):
        change = changes[f"module.monitoring[0].aws_cloudwatch_event_rule.{rule}"]
        assert change["actions"] == ["update"] and change["after_unknown"]["event_pattern"] is True
    # and a job definition asking for one GPU, running the image's -gpu variant with the model's settings
    definition = changes["module.batch.aws_batch_job_definition.gpu[0]"]["after"]
    container = json.loads(definition["container_properties"])
    resources = {r["type"]: r["value"] for r in container["resourceRequirements"]}
    assert resources["GPU"] == "1" and container["image"].endswith("-gpu")
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["BUCKETLENS_LABELER"] == "onnx"
    assert environment["BUCKETLENS_MODEL_URI"] == f"s3://{IMAGES_BUCKET}/models/resnet50.onnx"
    assert environment["BUCKETLENS_MODEL_TOP_K"] == "3"
    assert environment["BUCKETLENS_MODEL_DEVICE"] == "cuda"  # the GPU or exit 78, never the CPU
    assert container["command"][:2] == ["run", "--source"]  # what the CPU definition runs
    # and the worker may read exactly the model and its classes
    (read,) = [
        s
        for s in _planned_statements(plan, "module.batch.data.aws_iam_policy_document.job")
        if s.get("sid") == "ReadModel"
    ]
    assert read["actions"] == ["s3:GetObject"]
    assert sorted(read["resources"]) == sorted(
        f"arn:aws:s3:::{IMAGES_BUCKET}/models/{name}" for name in ("resnet50.onnx", "imagenet.json")
    )
    # and the submitter is told to route onnx jobs to the GPU queue, and to label small batches itself with the
    # model (the function's variables wait for the GPU queue's ARN: read through `terraform console`)
    function = changes["module.submitter.aws_lambda_function.this"]
    assert function["actions"] == ["update"] and function["after_unknown"]["environment"][0]["variables"]
    shown = run(
        [on_moto.terraform, "console", *onnx, "-var", "gpu=true"],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
        stdin='jsonencode([sort(keys(local.submitter_environment)), local.submitter_environment["BUCKETLENS_LABELER"], local.submitter_environment["BUCKETLENS_FAST_PATH_IMAGES"], local.submitter_environment["BUCKETLENS_MODEL_URI"]])\n',
    )
    names, labeler, fast_path, model = json.loads(json.loads(shown))
    assert {"BUCKETLENS_GPU_JOB_QUEUE", "BUCKETLENS_GPU_JOB_DEFINITION"} <= set(names)
    assert (labeler, fast_path, model) == ("onnx", "20", f"s3://{IMAGES_BUCKET}/models/resnet50.onnx")
    # and its role may read the model but not call Rekognition (the labeler is the model)
    lambda_statements = {
        s.get("sid"): s
        for s in _planned_statements(plan, "module.submitter.data.aws_iam_policy_document.this")
    }
    assert sorted(lambda_statements["ReadModels"]["resources"]) == sorted(read["resources"])
    assert "DetectLabelsAndText" not in lambda_statements and "ShareRekognitionQuota" not in lambda_statements
    # when gpu is asked without the onnx labeler, or the onnx labeler without its model
    for wrong, says in (
        (["-var", "gpu=true"], "gpu = true runs your models on GPUs"),
        (
            ["-var", "labeler=onnx", "-var", "features=labels", "-var", "enable_schedule=false"],
            "needs model_uri and model_labels_uri",
        ),
        ([*onnx, "-var", "features=labels,text"], "labels only"),
    ):
        done = subprocess.run(
            [*plan_cmd, *wrong],
            cwd=on_moto.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=APPLY_TIMEOUT,
        )
        # then the plan stops and says why, before anything is created
        assert done.returncode != 0 and says in " ".join(done.stderr.split()), done.stderr[-2000:]


def test_a_customer_managed_key_reaches_everything_that_stores_data(on_moto: Deployment) -> None:
    # given the applied deployment and a key of the account
    key = on_moto.client("kms").create_key(Description="bucketlens test")["KeyMetadata"]["Arn"]
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    # when kms_key_arn is planned
    run(
        [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false"]
        + ["-var", f"kms_key_arn={key}", "-out=kms.plan"],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
    )
    plan = json.loads(run([on_moto.terraform, "show", "-json", "kms.plan"], on_moto.workdir, 60, env))
    planned = {
        c["address"]: (c["type"], c["change"]["after"])
        for c in plan["resource_changes"]
        if "delete" not in c["change"]["actions"] or "create" in c["change"]["actions"]
    }
    # then every table, log group, function, queue, bucket, schedule and repository names the key
    keyed = {
        address: KEY_ATTRIBUTE[kind](after)
        for address, (kind, after) in planned.items()
        if kind in KEY_ATTRIBUTE
    }
    assert len(keyed) >= 15 and {a: k for a, k in keyed.items() if k != key} == {}
    for kind in KEY_ATTRIBUTE:
        assert any(t == kind for t, _ in planned.values()), kind
    # and the roles that read or write through S3 and SQS may use it (their policy documents' statements)
    for document in (
        "module.batch.data.aws_iam_policy_document.job",
        "module.submitter.data.aws_iam_policy_document.this",
    ):
        (use,) = [s for s in _planned_statements(plan, document) if s.get("sid") == "UseTheDeploymentKey"]
        assert sorted(use["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey"] and use["resources"] == [key]


def _planned_statements(plan: dict, address: str) -> list[dict]:
    """A policy document's statements: read at plan (prior_state), or to be read at apply (resource_changes)."""
    for change in plan["resource_changes"]:
        if change["address"] == address:
            return change["change"]["after"]["statement"]
    modules = [plan["prior_state"]["values"]["root_module"]]
    while modules:
        module = modules.pop()
        modules += module.get("child_modules", [])
        for resource in module.get("resources", []):
            if resource["address"] == address:
                return resource["values"]["statement"]
    raise AssertionError(f"{address} is not in the plan")


def test_a_fresh_copy_of_the_configuration_can_replace_the_functions(
    on_moto: Deployment, tmp_path: Path
) -> None:
    # given the configuration copied afresh, as a new clone or a CI runner has it: the state, but no
    # .terraform/ (so no zip built by the first apply)
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    exe, init_args = require_terraform()
    fresh = copy_configuration(tmp_path / "terraform")
    for name in ("moto_override.tf", "test.auto.tfvars.json", "terraform.tfstate"):
        shutil.copy(on_moto.workdir / name, fresh / name)
    assert not (fresh / ".terraform").exists()
    before = on_moto.client("lambda").get_function(FunctionName=on_moto.outputs["submitter_function_name"])
    run([exe, "init", "-backend=false", "-input=false", "-no-color", *init_args], fresh, 120, env)
    # when an apply there must replace both functions
    replace = [
        "-replace=module.submitter.aws_lambda_function.this",
        "-replace=module.schedule[0].aws_lambda_function.this",
    ]
    run([exe, "apply", "-auto-approve", "-input=false", "-no-color", *replace], fresh, APPLY_TIMEOUT, env)
    # then it succeeds, and the new function runs the same code, read from S3
    after = on_moto.client("lambda").get_function(FunctionName=on_moto.outputs["submitter_function_name"])
    assert after["Configuration"]["CodeSha256"] == before["Configuration"]["CodeSha256"]
    assert not list(fresh.glob(".terraform/bucketlens/*.zip"))  # nothing was built locally
    shutil.copy(
        fresh / "terraform.tfstate", on_moto.workdir / "terraform.tfstate"
    )  # the teardown destroys from here
