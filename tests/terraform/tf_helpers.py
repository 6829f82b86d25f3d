"""Find terraform and the provider mirror, copy the configuration, and run the CLI with bounded waits."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def require_terraform() -> tuple[str, Path]:
    """The terraform binary and mirror, or skip the test saying which is missing."""
    exe = shutil.which("terraform")
    if exe is None:
        pytest.skip("terraform CLI not found on PATH")
    mirror = plugin_dir()
    if mirror is None:
        where = os.environ.get("TF_PLUGIN_DIR") or ", ".join(str(p) for p in KNOWN_MIRRORS)
        pytest.skip(f"no hashicorp/aws provider mirror at {where} (set TF_PLUGIN_DIR)")
    return exe, mirror


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
