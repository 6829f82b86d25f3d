"""Find terraform and the provider mirror, copy the configuration, and run the CLI with bounded waits."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from job.demo.emulator import (  # noqa: F401 - re-exported for the terraform tests
    AWS_PROVIDER,
    KNOWN_MIRRORS,
    REPO,
    SERVICES,
    TERRAFORM_DIR,
    copy_configuration,
    moto_override,
    plugin_dir,
)

EXAMPLES = sorted(p.parent for p in (TERRAFORM_DIR / "examples").glob("*/main.tf"))


def require_terraform_binary() -> str:
    """The terraform binary, or skip the test saying it is missing (what needs no provider: fmt)."""
    exe = shutil.which("terraform")
    if exe is None:
        pytest.skip("terraform CLI not found on PATH")
    return exe


@functools.cache
def _registry_init() -> str | None:
    """None when `terraform init` can fetch hashicorp/aws from the registry (into a plugin cache shared by
    the session's inits), else what it said."""
    exe = shutil.which("terraform")
    probe = Path(tempfile.mkdtemp(prefix="bucketlens-tf-probe-"))
    (probe / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "~> 5.100" }\n  }\n}\n'
    )
    env = {**os.environ, "TF_PLUGIN_CACHE_DIR": PLUGIN_CACHE, "TF_IN_AUTOMATION": "1"}
    os.makedirs(PLUGIN_CACHE, exist_ok=True)
    try:
        done = subprocess.run(
            [exe, "init", "-backend=false", "-input=false", "-no-color"],
            cwd=probe,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "the registry did not answer in 300 s"
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["init failed"])[-1]


PLUGIN_CACHE = os.path.join(tempfile.gettempdir(), "bucketlens-tf-plugin-cache")


def require_terraform() -> tuple[str, list[str]]:
    """The terraform binary and the `terraform init` arguments that find hashicorp/aws: the local mirror
    (-plugin-dir), else the registry when it answers; or skip the test saying what is missing."""
    exe = require_terraform_binary()
    mirror = plugin_dir()
    if mirror is not None:
        return exe, [f"-plugin-dir={mirror}"]
    why = _registry_init()
    if why is not None:
        where = os.environ.get("TF_PLUGIN_DIR") or ", ".join(str(p) for p in KNOWN_MIRRORS)
        pytest.skip(
            f"no hashicorp/aws provider mirror at {where} (set TF_PLUGIN_DIR), and the registry: {why}"
        )
    os.environ.setdefault("TF_PLUGIN_CACHE_DIR", PLUGIN_CACHE)  # the inits of this session share it
    return exe, []


def run(
    cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None, stdin: str | None = None
) -> str:
    """Run one command with a deadline; fail the test with its output when it fails."""
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} timed out after {timeout}s\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout
