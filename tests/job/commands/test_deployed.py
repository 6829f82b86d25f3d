"""`python -m job deployed NAME`: the applied deployment's outputs, or one line saying nothing is deployed."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from job.commands import deployed
from job.core import errors


def _fake_terraform(tmp_path: Path, outputs: dict[str, str]) -> str:
    """A terraform that answers `output -json NAME` from `outputs` (JSON text), else fails as Terraform does."""
    cases = "".join(f"  {name}) echo '{value}' ;;\n" for name, value in outputs.items())
    script = tmp_path / "terraform"
    script.write_text(
        "#!/bin/sh\nfor last; do :; done\n"
        f'case "$last" in\n{cases}  *) echo "Error: Output not found" >&2; exit 1 ;;\nesac\n'
    )
    script.chmod(0o755)
    return str(script)


def test_outputs_come_back_as_values_and_environment_words(tmp_path):
    # given a deployment whose outputs are a region and the submitter's environment
    tf = _fake_terraform(
        tmp_path, {"region": '"eu-west-1"', "submitter_environment": '{"BUCKETLENS_TABLE": "t", "X": "1"}'}
    )
    # when read / then a string is itself, a map renders as NAME=value words for `env`
    assert deployed.read("terraform", "region", tf) == "eu-west-1"
    env = deployed.read("terraform", "submitter_environment", tf)
    assert deployed.render(env, "env") == "BUCKETLENS_TABLE=t X=1"
    out = io.StringIO()
    args = SimpleNamespace(dir="terraform", name="region", terraform=tf, format="raw")
    assert deployed.command(args, out) == errors.EXIT_OK and out.getvalue() == "eu-west-1\n"


@pytest.mark.parametrize("outputs", [{}, {"region": "null"}, {"region": "Warning: No outputs found"}])
def test_nothing_deployed_is_one_configuration_error(tmp_path, outputs):
    # given no output, a null output, or Terraform's warning where a value belongs
    tf = _fake_terraform(tmp_path, outputs)
    # when read / then it says what to do, never hands the warning on as a value
    with pytest.raises(errors.ConfigError, match="nothing deployed here .*: run make deploy"):
        deployed.read("terraform", "region", tf)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform CLI not installed")
def test_a_directory_never_applied_with_the_real_terraform(tmp_path):
    # given the real Terraform CLI and a directory where nothing was applied / then the same error
    with pytest.raises(errors.ConfigError, match="run make deploy"):
        deployed.read(str(tmp_path), "region")
