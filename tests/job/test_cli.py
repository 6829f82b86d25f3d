"""`python -m job`: sub-commands load only what they use, so exif and --help start fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from job import cli
from tests.job.worker_helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_exif_never_imports_boto3_the_operator_commands_or_logging(tmp_path):
    # given a local image / when `python -m job exif` reads it, with Python reporting every import
    photo = tmp_path / "p.jpg"
    photo.write_bytes(image_bytes("JPEG"))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "job", "exif", str(photo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then it printed the record, and neither boto3, a command module, logging nor typing was imported
    # (the last two cost some 8 ms of a 70 ms run over the corpus: bench/exif_bench.py)
    assert done.returncode == 0 and '"path"' in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("boto3", "botocore", "logging", "typing")}
    assert not {m for m in imported if m.startswith("job.commands.")}


def test_help_lists_every_command_without_importing_them(capsys):
    # given the top-level help / when asked for / then every sub-command is listed with its help
    assert cli.main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps long help lines
    for name, (_, text) in cli.LAZY_COMMANDS.items():
        assert f"{name} {text}" in out


@pytest.mark.parametrize("name", sorted(cli.LAZY_COMMANDS))
def test_each_lazy_command_builds_its_own_options(name, capsys):
    # given a lazy sub-command / when its help is asked for / then its module's options are there
    assert cli.main([name, "--help"]) == 0
    assert f"usage: python -m job {name}" in capsys.readouterr().out


def test_the_command_is_found_after_top_level_options():
    # given options before the command / then the command is still the one named
    assert cli.chosen_command(["--log-level", "DEBUG", "status", "j-1"]) == "status"
    assert cli.chosen_command(["-h"]) is None
