"""Find terraform and the provider mirror, copy the configuration, and run the CLI with bounded waits."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
EXAMPLES = sorted(p.parent for p in (TERRAFORM_DIR / "examples").glob("*/main.tf"))
KNOWN_MIRRORS = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)
AWS_PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
# Services the configuration manages; every one is pointed at moto in the integration test.
SERVICES = ("batch", "dynamodb", "ec2", "ecr", "iam", "lambda", "logs", "s3", "sqs", "sts")


def plugin_dir() -> Path | None:
    """TF_PLUGIN_DIR if set (as `make` exports it), else the first known mirror holding hashicorp/aws."""
    env = os.environ.get("TF_PLUGIN_DIR")
    for candidate in [Path(env)] if env else KNOWN_MIRRORS:
        if (candidate / AWS_PROVIDER).is_dir():
            return candidate
    return None


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


def run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run one command with a deadline; fail the test with its output when it fails."""
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} timed out after {timeout}s\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def copy_configuration(dest: Path) -> Path:
    """A copy of terraform/ without local init state, so tests never touch the work tree's."""
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
