"""A local AWS for the demo and the tests: a moto server on 127.0.0.1 and bucketlens' resources in it.

Resources come from the Terraform configuration itself (`apply_terraform`) when terraform and the
provider mirror are present, else from `create_resources` (the `python -m job setup` path plus the queue,
notifications and Batch definition Terraform would make); a test checks both give the same names,
table schema, queue and job definition command.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from job.commands import provision
from job.core import clients, inventory, label_index
from lambda_submitter import triggers

log = logging.getLogger(__name__)

REGION = "us-east-1"
NAME = "bucketlens"
TABLE = "bucketlens-results"
JOB_QUEUE = f"{NAME}-queue"
JOB_DEFINITION = f"{NAME}-worker"
EVENTS_QUEUE = f"{NAME}-events"
DEAD_LETTER_QUEUE = f"{NAME}-events-dlq"
MANIFESTS_PREFIX = "manifests"
RUNS_PREFIX = "runs"
EXTENSIONS = inventory.DEFAULT_EXTENSIONS
# The image's ENTRYPOINT (Dockerfile): Batch's `command` replaces only CMD, so it starts after this.
ENTRYPOINT = ("python", "-m", "job")
# The Batch container command, as terraform/modules/batch/main.tf registers it.
JOB_COMMAND = [
    "run", "--source", "Ref::source", "--shards", "Ref::shards",
    "--shard-offset", "Ref::shard_offset", "--features", "Ref::features",
]  # fmt: skip
MOTO_CONFIG = {"batch": {"use_docker": False}, "lambda": {"use_docker": False}}

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
KNOWN_MIRRORS = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)
AWS_PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
# Services the configuration manages; every one is pointed at moto.
SERVICES = ("batch", "dynamodb", "ec2", "ecr", "iam", "lambda", "logs", "s3", "sqs", "sts")


@dataclass(frozen=True)
class Settings:
    """What the demo deployment sets apart from Terraform's defaults: its names and small shards (so a few
    images make several children); the quota, the threads and the rest are the deployed defaults."""

    images_bucket: str = "bucketlens-demo-images"
    manifests_bucket: str = "bucketlens-manifests-demo"
    features: str = "labels"
    shard_size: int = 4
    tps_quota: int = 50  # the rekognition_tps_quota default
    fast_path_images: int = 20  # the fast_path_images default
    submitter_timeout_s: int = 300  # the submitter_timeout_seconds default
    min_confidence: int = 70
    max_labels: int = 50


@dataclass(frozen=True)
class Resources:
    """Names and ARNs the demo drives, whichever way they were created."""

    how: str  # "terraform" or "setup"
    table: str
    images_bucket: str
    manifests_bucket: str
    job_queue: str
    job_definition: str
    events_queue_url: str
    dead_letter_queue_url: str
    results_uri: str
    submitter_environment: dict[str, str] = field(default_factory=dict)


def fix_moto_secure_transport() -> None:
    """moto does not evaluate `Bool` conditions, so the deployment's TLS-only bucket policies (Deny when
    aws:SecureTransport is false) refused every object call. In this process a statement conditioned on
    aws:SecureTransport applies as it would to a TLS call, which every AWS SDK and Terraform call is."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted
    if getattr(original, "fixed_by_bucketlens", False):
        return

    def is_action_permitted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        secure = (self._statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        if secure is not None and str(secure).lower() != "true":
            return PermissionResult.NEUTRAL  # the condition does not hold: the statement is left out
        return original(self, *args, **kwargs)

    is_action_permitted.fixed_by_bucketlens = True  # type: ignore[attr-defined]
    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


def start_server() -> tuple[Any, str]:
    """A moto server listening on a port the kernel picked (port 0), and its URL.

    Binding port 0 in the server itself leaves no window in which another process can take the port;
    a port chosen first and bound later races them, and moto's start() then waits forever.
    """
    from moto.server import ThreadedMotoServer

    from job.demo import vector_search

    fix_moto_secure_transport()
    vector_search.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def port_open(url: str) -> bool:
    """True while something still answers on the server's port (used to prove shutdown)."""
    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


class Emulator:
    """A moto server on a free 127.0.0.1 port, with Batch and Lambda never touching Docker."""

    def __init__(self) -> None:
        self.url = ""
        self._server: Any = None

    def start(self) -> Emulator:
        # The Batch roles attach AWS-managed policies, which moto loads only on request.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        self._server, self.url = start_server()
        self.reset()  # moto's state lives in this process: a second run starts from nothing

        log.info("emulator started", extra={"url": self.url})
        return self

    def post(self, path: str, body: Any = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def reset(self) -> None:
        self.post("/moto-api/reset")
        self.post("/moto-api/config", MOTO_CONFIG)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            log.info("emulator stopped", extra={"url": self.url})

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def use_endpoint(url: str) -> None:
    """Point every boto3 client (ours and child processes') at the emulator; fake credentials if none."""
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    clients.reset()


def worker_environment(settings: Settings, table: str, results_uri: str, region: str) -> dict[str, str]:
    """The job definition's environment, as Terraform's local.worker_environment builds it."""
    return {
        "BUCKETLENS_TABLE": table,
        "BUCKETLENS_LABEL_TABLE": label_index.table_name(table),
        "BUCKETLENS_RESULTS_URI": results_uri,
        "BUCKETLENS_TPS_QUOTA": str(settings.tps_quota),
        "BUCKETLENS_LIMITER_TABLE": table + "-limiter",
        "BUCKETLENS_MIN_CONFIDENCE": str(settings.min_confidence),
        "BUCKETLENS_MAX_LABELS": str(settings.max_labels),
        "BUCKETLENS_EXTENSIONS": ",".join(EXTENSIONS),
        "AWS_RETRY_MODE": "adaptive",
        "AWS_DEFAULT_REGION": region,
        "BUCKETLENS_DEPLOYMENT": "bucketlens",
        "BUCKETLENS_LABELER": "rekognition",
    }


def submitter_environment(
    settings: Settings, queue: str, definition: str, table: str, results_uri: str
) -> dict[str, str]:
    """The submitter Lambda's environment, as Terraform's local.submitter_environment builds it."""
    return {
        "BUCKETLENS_JOB_QUEUE": queue,
        "BUCKETLENS_JOB_DEFINITION": definition,
        "BUCKETLENS_MANIFESTS_BUCKET": settings.manifests_bucket,
        "BUCKETLENS_MANIFESTS_PREFIX": MANIFESTS_PREFIX,
        "BUCKETLENS_TABLE": table,
        "BUCKETLENS_LABEL_TABLE": label_index.table_name(table),
        "BUCKETLENS_FEATURES": settings.features,
        "BUCKETLENS_SHARD_SIZE": str(settings.shard_size),
        "BUCKETLENS_EXTENSIONS": ",".join(EXTENSIONS),
        "BUCKETLENS_LOG_LEVEL": "INFO",
        "BUCKETLENS_DEPLOYMENT": "bucketlens",
        "BUCKETLENS_LABELER": "rekognition",
        # the fast path's worker settings (local.labeller_environment)
        "BUCKETLENS_FAST_PATH_IMAGES": str(settings.fast_path_images),
        "BUCKETLENS_RESULTS_URI": results_uri,  # the previews go beside it
        "BUCKETLENS_TPS_QUOTA": str(settings.tps_quota),
        "BUCKETLENS_LIMITER_TABLE": table + "-limiter",
        "BUCKETLENS_MIN_CONFIDENCE": str(settings.min_confidence),
        "BUCKETLENS_MAX_LABELS": str(settings.max_labels),
    }


def notification_configuration(queue_arn: str) -> dict[str, Any]:
    """Created and removed events of image suffixes (both cases) to the queue, as modules/triggers does."""
    suffixes = list(dict.fromkeys(s for e in EXTENSIONS for s in (f".{e}", f".{e.upper()}")))
    return {
        "QueueConfigurations": [
            {
                "Id": f"{NAME}-{suffix.replace('.', '')}",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
            }
            for suffix in suffixes
        ]
    }


def create_resources(settings: Settings, region: str = REGION) -> Resources:
    """The `python -m job setup` path, plus the events queue, notifications and Batch of the Terraform."""
    s3, ddb, sqs, batch, iam = (clients.client(s) for s in ("s3", "dynamodb", "sqs", "batch", "iam"))
    provision.setup(ddb, s3, TABLE, [settings.images_bucket, settings.manifests_bucket], region)
    dlq_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=EVENTS_QUEUE,
        Attributes={
            "VisibilityTimeout": "1800",  # 6 x the submitter's 300 s timeout, as modules/triggers
            "MessageRetentionPeriod": "345600",
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn,
                    "maxReceiveCount": triggers.receives_for_patience(triggers.DEFAULT_PATIENCE_S),
                }
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=settings.images_bucket, NotificationConfiguration=notification_configuration(queue_arn)
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role_name = f"{NAME}-batch-service"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    env_arn = batch.create_compute_environment(
        computeEnvironmentName=f"{NAME}-demo", type="UNMANAGED", state="ENABLED", serviceRole=role_arn
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=JOB_QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env_arn}],
    )["jobQueueArn"]
    results_uri = f"s3://{settings.manifests_bucket}/{RUNS_PREFIX}"
    environment = worker_environment(settings, TABLE, results_uri, region)
    definition = batch.register_job_definition(
        jobDefinitionName=JOB_DEFINITION,
        type="container",
        parameters={"source": f"s3://{settings.images_bucket}/", "shards": "1", "shard_offset": "0",
                    "features": settings.features},
        containerProperties={
            "image": f"{NAME}:demo",
            "command": list(JOB_COMMAND),
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "environment": [{"name": k, "value": environment[k]} for k in sorted(environment)],
        },
    )["jobDefinitionArn"]  # fmt: skip
    return Resources(
        how="setup",
        table=TABLE,
        images_bucket=settings.images_bucket,
        manifests_bucket=settings.manifests_bucket,
        job_queue=queue,
        job_definition=definition,
        events_queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        results_uri=results_uri,
        submitter_environment=submitter_environment(settings, queue, definition, TABLE, results_uri),
    )


def describe(res: Resources) -> dict[str, Any]:
    """What must be the same however the resources were made: table, queues, notifications, job definition."""
    ddb, sqs, s3, batch = (clients.client(s) for s in ("dynamodb", "sqs", "s3", "batch"))
    table = ddb.describe_table(TableName=res.table)["Table"]
    attrs = sqs.get_queue_attributes(QueueUrl=res.events_queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    notifications = s3.get_bucket_notification_configuration(Bucket=res.images_bucket)
    definition = batch.describe_job_definitions(jobDefinitions=[res.job_definition])["jobDefinitions"][0]
    container = definition["containerProperties"]
    return {
        "table": {
            "name": table["TableName"],
            "key_schema": sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
            "attributes": sorted(
                (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
            ),
            "billing": table.get("BillingModeSummary", {}).get("BillingMode"),
        },
        "queue": {
            "name": res.events_queue_url.rsplit("/", 1)[1],
            "visibility_timeout": attrs["VisibilityTimeout"],
            "retention": attrs["MessageRetentionPeriod"],
            "dead_letter_queue": redrive["deadLetterTargetArn"].rsplit(":", 1)[1],
            "max_receive_count": int(redrive["maxReceiveCount"]),
        },
        "notifications": sorted(
            (tuple(sorted(q["Events"])), f["Value"])
            for q in notifications.get("QueueConfigurations", [])
            for f in q["Filter"]["Key"]["FilterRules"]
        ),
        "job_definition": {
            "name": definition["jobDefinitionName"],
            "type": definition["type"],
            "command": container["command"],
            "parameters": sorted(definition.get("parameters", {})),
            "environment": sorted(e["name"] for e in container.get("environment", [])),
        },
        "job_queue": res.job_queue.rsplit("/", 1)[1],
        "submitter_environment": sorted(res.submitter_environment),
    }


def describe_setup_path(settings: Settings = Settings()) -> dict[str, Any]:
    """`describe` of the setup path on a fresh emulator of its own (its state is this process's)."""
    with Emulator() as em:
        use_endpoint(em.url)
        return describe(create_resources(settings))


# --- Terraform against the emulator ------------------------------------------------------------------


def plugin_dir() -> Path | None:
    """TF_PLUGIN_DIR if set (as `make` exports it), else the first known mirror holding hashicorp/aws."""
    env = os.environ.get("TF_PLUGIN_DIR")
    for candidate in [Path(env)] if env else KNOWN_MIRRORS:
        if (candidate / AWS_PROVIDER).is_dir():
            return candidate
    return None


def terraform_available() -> tuple[str, Path] | None:
    """The terraform binary and provider mirror, or None when either is missing."""
    exe = shutil.which("terraform")
    mirror = plugin_dir()
    return (exe, mirror) if exe and mirror else None


def copy_configuration(dest: Path) -> Path:
    """A copy of terraform/ without local init state, so a run never touches the work tree's."""
    shutil.copytree(
        TERRAFORM_DIR, dest, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")
    )
    return dest


def moto_override(endpoint: str) -> str:
    """A provider override that sends every call to moto and skips the checks moto cannot answer."""
    lines = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    return f"""provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
{lines}
  }}
}}
"""


def _run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {done.returncode}: {done.stderr[-3000:]}")
    return done.stdout


PROGRESS_EVERY_S = 10.0


def _apply(
    cmd: list[str],
    cwd: Path,
    timeout: float,
    env: dict[str, str],
    say: Callable[[str], None],
    every: float = PROGRESS_EVERY_S,
) -> None:
    """`terraform apply -json`, telling `say` every 10 s how many resources are done and what it waits on
    (its provider waits are silent otherwise)."""
    started = last = time.monotonic()
    planned, done, waiting = 0, 0, ""
    proc = subprocess.Popen(
        [*cmd, "-json"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    errors: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind, hook = message.get("type"), message.get("hook") or {}
        if kind == "change_summary" and message["changes"].get("operation") == "plan":
            planned = sum(message["changes"].get(k, 0) for k in ("add", "change", "remove"))
        done += kind == "apply_complete" and hook.get("action") != "read"  # data sources are no change
        if kind in ("apply_start", "apply_progress"):
            waiting = hook.get("resource", {}).get("addr", waiting)
        if kind == "diagnostic" and message.get("diagnostic", {}).get("severity") == "error":
            errors.append(message["@message"])
        now = time.monotonic()
        if now - last >= every:
            last = now
            say(f"    terraform: {done}/{planned} resources after {now - started:.0f} s (now: {waiting})")
        if now - started > timeout:
            proc.kill()
            raise RuntimeError(f"terraform apply took longer than {timeout:.0f} s")
    code = proc.wait()
    if code != 0:
        raise RuntimeError(
            f"terraform apply exited {code}: {'; '.join(errors) or proc.stderr.read()[-3000:]}"
        )
    say(f"    terraform: {done}/{planned} resources in {time.monotonic() - started:.0f} s")


def apply_terraform(
    endpoint: str,
    workdir: Path,
    settings: Settings,
    region: str = REGION,
    say: Callable[[str], None] = lambda text: None,
) -> Resources:
    """`terraform apply` of the root module into the emulator (network and images bucket made first)."""
    found = terraform_available()
    if found is None:
        raise RuntimeError("terraform or the hashicorp/aws provider mirror is missing")
    exe, mirror = found
    ec2, s3 = clients.client("ec2"), clients.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="bucketlens-demo", Description="workers")[
        "GroupId"
    ]
    provision.ensure_bucket(s3, settings.images_bucket, region)
    if workdir.exists():
        shutil.rmtree(workdir)
    copy_configuration(workdir)
    (workdir / "moto_override.tf").write_text(moto_override(endpoint))
    variables = {
        "region": region,
        "images_bucket_name": settings.images_bucket,
        "subnet_ids": [subnet],
        "security_group_ids": [group],
        "source_dir": str(REPO),
        "python": sys.executable,
        "features": settings.features,
        "shard_size": settings.shard_size,
        "rekognition_tps_quota": settings.tps_quota,
        "enable_inventory": False,
        # the emulator delivers S3 notifications to SQS, as the setup path configures them
        "event_route": "notification",
        "deletion_protection": False,
        "force_destroy": True,
    }
    (workdir / "demo.auto.tfvars.json").write_text(json.dumps(variables))
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    _run(
        [exe, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={mirror}"],
        workdir,
        120,
        env,
    )
    _apply([exe, "apply", "-auto-approve", "-input=false", "-no-color"], workdir, 300, env, say)
    outputs = {k: v["value"] for k, v in json.loads(_run([exe, "output", "-json"], workdir, 60, env)).items()}
    # moto's stand-in Lambda (no Docker) would consume the events queue without running our code; the demo
    # plays the Lambda itself by calling lambda_submitter.handler with what it receives.
    aws_lambda = clients.client("lambda")
    for mapping in aws_lambda.list_event_source_mappings().get("EventSourceMappings", []):
        if not mapping.get("EventSourceArn", "").endswith(f":{EVENTS_QUEUE}"):
            continue
        log.info("event source mapping removed", extra={"uuid": mapping["UUID"]})
        # Disabled first: moto's queue keeps its own reference to a deleted mapping and would still poll.
        aws_lambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        aws_lambda.delete_event_source_mapping(UUID=mapping["UUID"])
    return Resources(
        how="terraform",
        table=outputs["table_name"],
        images_bucket=settings.images_bucket,
        manifests_bucket=outputs["manifests_bucket_name"],
        job_queue=outputs["job_queue_arn"],
        job_definition=outputs["job_definition_arn"],
        events_queue_url=outputs["events_queue_url"],
        dead_letter_queue_url=outputs["dead_letter_queue_url"],
        results_uri=outputs["results_uri"],
        submitter_environment=dict(outputs["submitter_environment"]),
    )
