"""Terraform checks that need no AWS: formatting, validation, module conventions, packaging, checkov."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.terraform.tf_helpers import (
    EXAMPLES,
    REPO,
    TERRAFORM_DIR,
    copy_configuration,
    require_terraform,
    require_terraform_binary,
    run,
)

MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
ENV = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def _blocks(text: str, kind: str) -> dict[str, str]:
    """Top-level `kind "name" { ... }` blocks by name, and `kind "type" "name" { ... }` (resources, data
    sources) by "type.name" (brace matching; enough for fmt-clean files)."""
    found = {}
    for match in re.finditer(rf'^{kind} "([^"]+)"(?: "([^"]+)")? {{', text, re.M):
        depth, i = 0, match.end() - 1
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        name = f"{match.group(1)}.{match.group(2)}" if match.group(2) else match.group(1)
        found[name] = text[match.end() : i]
    return found


def test_fmt_is_clean() -> None:
    # given terraform / when fmt checks every file / then nothing needs reformatting
    exe = require_terraform_binary()
    out = run([exe, "fmt", "-check", "-recursive", "-no-color", str(TERRAFORM_DIR)], REPO, 60, ENV)
    assert out.strip() == ""


@pytest.mark.parametrize("root", [Path("."), *(e.relative_to(TERRAFORM_DIR) for e in EXAMPLES)], ids=str)
def test_root_and_examples_validate(root: Path, tmp_path: Path) -> None:
    # given a copy of the configuration, initialised from the local provider mirror (or the registry)
    exe, init_args = require_terraform()
    workdir = copy_configuration(tmp_path / "terraform") / root
    run(
        [exe, "init", "-backend=false", "-input=false", "-no-color", *init_args],
        workdir,
        120,
        ENV,
    )
    # when it is validated
    result = json.loads(run([exe, "validate", "-json", "-no-color"], workdir, 120, ENV))
    # then it is valid without warnings
    assert result["valid"] is True, result["diagnostics"]
    assert result["warning_count"] == 0, result["diagnostics"]


def test_examples_exist() -> None:
    # given terraform/examples / then there is at least one validated example root and a tfvars example
    assert EXAMPLES
    assert (TERRAFORM_DIR / "examples" / "terraform.tfvars.example").is_file() or all(
        (e / "terraform.tfvars.example").is_file() for e in EXAMPLES
    )


def _statements_without_sid(main: str) -> list[str]:
    """The IAM policy documents of a module's main.tf with a statement (plain or dynamic) lacking a sid."""
    missing = []
    for name, body in _blocks(main, "data").items():
        if not name.startswith("aws_iam_policy_document."):
            continue
        statements = re.findall(r"^  statement {(.*?)^  }", body, re.M | re.S)
        statements += re.findall(r'^  dynamic "statement" {(.*?)^  }', body, re.M | re.S)
        missing += [name for st in statements if not re.search(r"^\s*sid\s*=", st, re.M)]
    return missing


def test_the_sid_check_reads_every_policy_document_and_flags_a_missing_sid() -> None:
    # given a document with a sid on one statement and none on a dynamic one
    main = (
        'data "aws_iam_policy_document" "x" {\n  statement {\n    sid = "A"\n  }\n\n'
        '  dynamic "statement" {\n    for_each = []\n    content {\n      actions = []\n    }\n  }\n}\n'
    )
    # when checked / then the dynamic statement is flagged
    assert _statements_without_sid(main) == ["aws_iam_policy_document.x"]
    # and the modules' documents are all read: there are many
    found = sum(
        len(
            [
                n
                for n in _blocks((m / "main.tf").read_text(), "data")
                if n.startswith("aws_iam_policy_document.")
            ]
        )
        for m in MODULES
    )
    assert found >= 15, found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_layout_and_variables(module: Path) -> None:
    # given a module / when its files and variables are read
    files = {p.name for p in module.glob("*.tf")}
    variables = _blocks((module / "variables.tf").read_text(), "variable")
    outputs = _blocks((module / "outputs.tf").read_text(), "output")
    # then it has the four standard files, and every variable and output says what it is
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= files
    for name, body in variables.items():
        assert re.search(r"^\s*description\s*=", body, re.M), (
            f"{module.name}: variable {name} lacks description"
        )
        assert re.search(r"^\s*type\s*=", body, re.M), f"{module.name}: variable {name} lacks type"
    for name, body in outputs.items():
        assert re.search(r"^\s*description\s*=", body, re.M), (
            f"{module.name}: output {name} lacks description"
        )
    # and its main resource is named `this`, IAM documents give every statement a sid
    main = (module / "main.tf").read_text()
    assert re.search(r'^resource "[a-z0-9_]+" "this"', main, re.M), module.name
    assert _statements_without_sid(main) == [], module.name


def _admits(constraint: str, version: str) -> bool:
    """Terraform's `>= a, < b` constraints (the only form we write) against a version."""
    number = tuple(int(p) for p in version.split("."))
    for clause in constraint.split(","):
        op, _, bound = clause.strip().partition(" ")
        limit = tuple(int(p) for p in bound.split("."))
        limit += (0,) * (len(number) - len(limit))
        if not {">=": number >= limit, "<": number < limit}[op]:
            return False
    return True


def test_provider_constraint_everywhere_admits_the_tested_major_only() -> None:
    # given every versions.tf
    for path in TERRAFORM_DIR.rglob("versions.tf"):
        text = path.read_text()
        # (the root configurations and modules/results hold a `removed` block: Terraform 1.7 brought it)
        removed = path.parent.name in ("terraform", "complete", "results")
        assert f'required_version = ">= {"1.7" if removed else "1.5"}"' in text, path
        constraint = re.search(r'version\s*=\s*"([^"]+)"', text.split("hashicorp/aws", 1)[1]).group(1)
        # then hashicorp/aws 5.x from 5.70 (tags on the event source mapping) is admitted, the 5.100.0
        # this project tests with included, and 6.x is not (it renamed compute_environment_name_prefix)
        assert _admits(constraint, "5.100.0") and _admits(constraint, "5.70.0"), path
        assert not _admits(constraint, "5.69.0") and not _admits(constraint, "6.0.0"), path


def test_tfvars_example_sets_every_required_root_variable() -> None:
    # given the root variables without a default
    variables = _blocks((TERRAFORM_DIR / "variables.tf").read_text(), "variable")
    required = {name for name, body in variables.items() if not re.search(r"^\s*default\s*=", body, re.M)}
    # when the tfvars examples are read
    examples = [p.read_text() for p in TERRAFORM_DIR.rglob("terraform.tfvars.example")]
    # then each sets all of them
    assert required == {"region", "images_bucket_name", "subnet_ids", "security_group_ids"}
    assert examples
    for text in examples:
        assert {n for n in required if re.search(rf"^{n}\s*=", text, re.M)} == required


def test_lambda_package_is_reproducible(tmp_path: Path) -> None:
    # given the packaging script Terraform runs and the files it is given
    script = TERRAFORM_DIR / "modules" / "submitter" / "package.py"
    files = "lambda_submitter/__init__.py,job/core/manifest.py,job/core/ordering.py"
    # when it builds the zip twice
    for name in ("a.zip", "b.zip"):
        subprocess.run(
            [sys.executable, str(script), "--root", str(REPO), "--out", str(tmp_path / name), files],
            check=True,
            timeout=60,
        )
    # then both are byte-identical and hold exactly those files with their content
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert sorted(archive.namelist()) == sorted(files.split(","))
        assert archive.read("job/core/manifest.py") == (REPO / "job" / "core" / "manifest.py").read_bytes()


def test_checkov_finds_nothing_unsuppressed() -> None:
    # given checkov in its own venv (`make checkov` installs it)
    if not CHECKOV.is_file():
        pytest.skip(f"checkov not installed at {CHECKOV.relative_to(REPO)} (run `make checkov`)")
    # when it scans terraform/
    done = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    # then no check fails, and every skipped one carries a written reason
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    assert all(r["summary"]["failed"] == 0 and r["summary"]["parsing_errors"] == 0 for r in reports)
    for r in reports:
        for check in r["results"].get("skipped_checks", []):
            assert len(check["check_result"].get("suppress_comment", "")) > 10, check["check_id"]


def test_arns_are_partition_aware() -> None:
    # given every .tf file / then no ARN is written for the aws partition only (GovCloud, China)
    for path in TERRAFORM_DIR.rglob("*.tf"):
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
        assert "arn:aws:" not in code, path


def test_tfvars_example_names_real_variables_and_tells_the_default_event_route_truly() -> None:
    # given the root variables, and the event route's default (EventBridge: the bucket's notifications stay)
    variables = _blocks((TERRAFORM_DIR / "variables.tf").read_text(), "variable")
    route = re.search(r'default\s*=\s*"(\w+)"', variables["event_route"]).group(1)
    assert route == "eventbridge"
    for path in TERRAFORM_DIR.rglob("terraform.tfvars.example"):
        text = path.read_text()
        # when its settings, set or commented out, are read / then each is a root variable
        named = set(re.findall(r"^#?\s*([a-z_]+)\s+=", text, re.M))
        assert named and named <= set(variables), named - set(variables)
        # and it says the bucket's notifications are kept, and "replaced" only of the notification route
        sentences = re.split(r"(?<=[.)])\s", " ".join(line.lstrip("# ") for line in text.splitlines()))
        assert any("keeps every notification" in s for s in sentences)
        assert all('"notification"' in s for s in sentences if "replace" in s), path


def _granted(main: str, sid: str) -> set[str]:
    """The actions of the statement with this sid in a module's main.tf."""
    found = re.search(rf'sid\s*=\s*"{sid}"\s*\n\s*actions\s*=\s*\[([^\]]*)\]', main)
    assert found, f"no statement {sid}"
    return set(re.findall(r'"([^"]+)"', found.group(1)))


def test_the_embedding_grants_are_exactly_the_vector_calls_of_each_role() -> None:
    # given the vector store calls in the code each role runs (granted only with embedding_model, so the
    # applied default deployment of test_deployment.py has none of them)
    from tests.terraform import iam_calls

    def vector_calls(start: list[Path], packages: tuple[str, ...]) -> set[str]:
        calls = iam_calls.actions_in(iam_calls.import_closure(REPO, start, packages))
        return {action for action in calls if action.startswith("s3vectors:")}

    # (the job role runs `run` and `relabel`; ListVectors with returnData needs GetVectors as well)
    writer = vector_calls([REPO / "job" / "worker" / "run.py"], ("job",))
    worker = writer | vector_calls([REPO / "job" / "commands" / "relabel.py"], ("job",))
    submitter = vector_calls([REPO / "lambda_submitter" / "handler.py"], ("job", "lambda_submitter"))
    # then the jobs' statement grants exactly the writer's and the relabeller's calls, and reads no query
    batch = (TERRAFORM_DIR / "modules" / "batch" / "main.tf").read_text()
    assert "s3vectors:ListVectors" in worker and "s3vectors:QueryVectors" not in worker
    assert _granted(batch, "StoreImageVectors") == worker | {"s3vectors:GetVectors"}
    # and the submitter's exactly its deletes, plus, for the fast path with the user's models, the writer's
    # calls and no listing
    lambda_tf = (TERRAFORM_DIR / "modules" / "submitter" / "main.tf").read_text()
    assert _granted(lambda_tf, "RemoveDeletedImagesVectors") == {
        "s3vectors:DeleteVectors",
        "s3vectors:ListIndexes",
    }
    assert _granted(lambda_tf, "StoreImageVectors") == writer
    assert submitter == writer | {"s3vectors:DeleteVectors", "s3vectors:ListIndexes"}
