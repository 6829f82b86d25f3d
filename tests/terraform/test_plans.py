"""Plans of the root module against a moto server, with nothing applied: what the provider's own checks
accept (names), what a deployment without NAT asks for, the order of the first apply, and what Terraform
derives (the dead-letter count). Apart from test_deployment.py, so that both run side by side."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from lambda_submitter import triggers
from tests.terraform.deployment_fixture import APPLY_TIMEOUT, REGION, Deployment, provisioned
from tests.terraform.tf_helpers import run

pytestmark = pytest.mark.timeout(3 * APPLY_TIMEOUT)


@pytest.fixture(scope="module")
def initialised(moto_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The configuration initialised against the emulator, nothing applied."""
    with provisioned(moto_server_url, tmp_path_factory, apply=False) as configuration:
        yield configuration


@pytest.fixture
def on_moto(initialised: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("AWS_ENDPOINT_URL", initialised.endpoint)
    return initialised


def _route_table(on_moto: Deployment) -> str:
    (table,) = on_moto.client("ec2").describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [on_moto.vpc_id]}]
    )["RouteTables"]
    return table["RouteTableId"]


def _planned_endpoints(on_moto: Deployment, name: str, *args: str) -> set[str]:
    """The interface endpoints a plan with these variables creates, by service."""
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    plan_cmd = [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false", *args]
    run([*plan_cmd, f"-out={name}.plan"], on_moto.workdir, APPLY_TIMEOUT, env)
    plan = json.loads(run([on_moto.terraform, "show", "-json", f"{name}.plan"], on_moto.workdir, 60, env))
    return {
        c["change"]["after"]["service_name"].rsplit(f".{REGION}.", 1)[1]
        for c in plan["resource_changes"]
        if c["address"].startswith("module.endpoints[0].aws_vpc_endpoint.")
        and c["change"]["actions"] == ["create"]
    }


def test_subnets_without_nat_get_every_endpoint_their_compute_type_needs(on_moto: Deployment) -> None:
    # given the applied deployment (Spot) in subnets without NAT, with their route table
    nat_less = [
        "-var",
        "vpc_without_nat=true",
        "-var",
        f'vpc_endpoint_route_table_ids=["{_route_table(on_moto)}"]',
    ]
    worker = {"ecr.api", "ecr.dkr", "logs", "rekognition", "s3", "dynamodb"}
    ecs_agent = {"ecs", "ecs-agent", "ecs-telemetry"}
    # when it is planned: then the ECS agent's endpoints come with the workers' (else no instance
    # registers and jobs wait in RUNNABLE), and S3 and DynamoDB are gateways on the route table
    assert _planned_endpoints(on_moto, "spot-nat-less", *nat_less) == worker | ecs_agent
    # when the workers run on Fargate: no ECS agent of ours, so no ECS endpoints
    fargate = _planned_endpoints(on_moto, "fargate-nat-less", *nat_less, "-var", "compute_type=FARGATE")
    assert fargate == worker
    # when the route table is missing: the plan says what it needs
    said = _plan_fails(on_moto, "-var", "vpc_without_nat=true")
    assert "vpc_without_nat = true needs vpc_endpoint_route_table_ids" in said


def _depends_on(dot: str, node: str, on: str) -> bool:
    """Whether `node` waits, directly or not, for `on` in `terraform graph` output (edges "a" -> "b": a needs b)."""
    edges: dict[str, set[str]] = {}
    for a, b in re.findall(r'"([^"]+)" -> "([^"]+)"', dot):
        edges.setdefault(a, set()).add(b)
    seen, todo = set(), [n for n in edges if n.endswith(f" {node} (expand)")]
    while todo:
        current = todo.pop()
        if current.endswith(f" {on} (expand)"):
            return True
        todo += [n for n in edges.get(current, ()) if n not in seen]
        seen.update(edges.get(current, ()))
    return False


def test_the_package_object_is_uploaded_only_once_the_bucket_keeps_versions(on_moto: Deployment) -> None:
    # given the configuration's dependency graph
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    dot = run([on_moto.terraform, "graph", "-type=plan"], on_moto.workdir, APPLY_TIMEOUT, env)
    # then the submitter's package (whose version the functions pin) waits for the bucket's versioning,
    # so a first apply never stores it unversioned
    package, versioning = (
        "module.submitter.aws_s3_object.package",
        "module.manifests.aws_s3_bucket_versioning.this",
    )
    assert _depends_on(dot, package, versioning)
    assert not _depends_on(dot, versioning, package)


def _plan_fails(on_moto: Deployment, *args: str) -> str:
    """A plan that must stop: what it said (folded onto one line)."""
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    plan_cmd = [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false", *args]
    done = subprocess.run(
        plan_cmd, cwd=on_moto.workdir, env=env, capture_output=True, text=True, timeout=APPLY_TIMEOUT
    )
    assert done.returncode != 0, done.stdout[-2000:]
    return " ".join(done.stderr.split())


def test_the_longest_name_plans_with_and_without_search_and_one_more_is_refused(on_moto: Deployment) -> None:
    # given the applied deployment, and the longest names the validation admits: 26 characters, 21 with search
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    plan_cmd = [on_moto.terraform, "plan", "-input=false", "-no-color", "-refresh=false"]
    longest, with_search = "a" * 25 + "z", "s" * 20 + "z"
    # when each is planned: then the provider's own checks (S3 bucket_prefix at most 37 characters, IAM
    # name_prefix at most 38, the OpenSearch domain name at most 28) accept every name derived from it
    run([*plan_cmd, "-var", f"name={longest}", "-out=long.plan"], on_moto.workdir, APPLY_TIMEOUT, env)
    plan = json.loads(run([on_moto.terraform, "show", "-json", "long.plan"], on_moto.workdir, 60, env))
    prefixes = {
        c["address"]: c["change"]["after"].get("bucket_prefix") or c["change"]["after"].get("name_prefix")
        for c in plan["resource_changes"]
        if c["type"] in ("aws_s3_bucket", "aws_iam_role") and "create" in c["change"]["actions"]
    }
    assert max(len(p) for p in prefixes.values() if p) in (37, 38), prefixes  # the limits, reached
    run(
        [*plan_cmd, "-var", f"name={with_search}", "-var", "enable_search=true"],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
    )
    # when one character more is asked, or a name AWS would refuse somewhere: the plan stops and says why
    assert "name must be 1-26" in _plan_fails(on_moto, "-var", f"name={longest}x")
    for refused in ("-bucketlens", "bucketlens-", "bucket--lens", "1bucketlens", "BucketLens"):
        assert "name must be 1-26" in _plan_fails(on_moto, "-var", f"name={refused}"), refused
    said = _plan_fails(on_moto, "-var", f"name={with_search}x", "-var", "enable_search=true")
    assert "with enable_search, name is at most 21 characters" in said


def test_terraform_derives_the_dead_letter_count_from_the_fast_paths_waits(on_moto: Deployment) -> None:
    # given the configuration, and patiences of an hour, the default 6 hours and a day
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    for hours in (1, 6, 24):
        # when Terraform works out the events queue's maxReceiveCount
        shown = run(
            [
                on_moto.terraform,
                "console",
                "-var",
                f"event_patience_hours={hours}",
                "-var",
                "enable_schedule=false",
            ],
            on_moto.workdir,
            APPLY_TIMEOUT,
            env,
            stdin="local.max_receive_count\n",
        )
        # then it is the fewest deliveries whose fast-path retry waits add up to the patience
        assert int(shown.strip()) == triggers.receives_for_patience(hours * 3600), hours


def test_a_labeler_without_its_inputs_is_refused_at_plan_and_clip_reads_its_prompts(
    on_moto: Deployment,
) -> None:
    # given the configuration / when a labeler is chosen without the files it labels with
    # then the plan stops and says what is missing, instead of the first job exiting 78 after a deploy
    said = _plan_fails(on_moto, "-var", "labeler=clip")
    assert 'labeler = "clip" needs embedding_model, with its prompts_uri' in said
    model = (
        '{image_uri = "s3://models-b/clip/image.onnx", text_uri = "s3://models-b/clip/text.onnx", '
        'tokenizer_uri = "s3://models-b/clip/tokenizer.json", prompts_uri = "s3://models-b/prompts.json", '
        'size = 256, mean = "0.5,0.5,0.5"}'
    )
    # when the clip labeler has its model and prompts: then the jobs are told where both are and how the
    # images are prepared, and may read the prompt list with the model's files
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    shown = run(
        [on_moto.terraform, "console", "-var", "labeler=clip", "-var", f"embedding_model={model}"],
        on_moto.workdir,
        APPLY_TIMEOUT,
        env,
        stdin="jsonencode([merge(local.labeler_environment, local.embedding_environment), "
        "length(local.embedding_object_arns)])\n",
    )
    environment, count = json.loads(json.loads(shown.strip()))
    assert environment["BUCKETLENS_LABELER"] == "clip"
    assert environment["BUCKETLENS_PROMPTS_URI"] == "s3://models-b/prompts.json"
    assert (
        environment["BUCKETLENS_EMBED_SIZE"] == "256"
        and environment["BUCKETLENS_EMBED_MEAN"] == "0.5,0.5,0.5"
    )
    assert "BUCKETLENS_EMBED_STD" not in environment  # not given: the worker's CLIP default
    # (the object ARNs wait for the partition, read at apply: there are four, the prompt list's among them)
    assert count == 4
    # and a malformed mean is refused at plan
    bad = model.replace('"0.5,0.5,0.5"', '"half"')
    assert "mean and std are three numbers" in _plan_fails(on_moto, "-var", f"embedding_model={bad}")
