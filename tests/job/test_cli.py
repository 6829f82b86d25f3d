"""`python -m job`: sub-commands load only what they use, so exif and --help start fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from job import cli
from tests.job.worker_helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_exif_never_imports_boto3_the_operator_commands_or_logging(tmp_path):
    # given a local image in a folder / when `python -m job exif` reads the folder, with Python reporting
    # every import
    photo = tmp_path / "p.jpg"
    photo.write_bytes(image_bytes("JPEG"))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "job", "exif", str(tmp_path)],
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


def test_exif_walks_folders_and_records_a_missing_file(tmp_path, capsys):
    # given photos in nested folders, a file that is not an image, and a path that does not exist
    (tmp_path / "2024" / "may").mkdir(parents=True)
    for name in ("b.JPG", "2024/a.png", "2024/may/c.webp"):
        (tmp_path / name).write_bytes(
            image_bytes("WEBP" if name.endswith("webp") else "PNG" if name.endswith("png") else "JPEG")
        )
    (tmp_path / "2024" / "notes.txt").write_text("not a photo")
    missing = str(tmp_path / "gone.jpg")
    # when exif reads the folder and the missing path
    assert cli.main(["exif", str(tmp_path), missing]) == 0
    # then every image under the folder has its record (a folder's files before its subfolders'), and the
    # missing one an error
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(r["path"]).relative_to(tmp_path).as_posix() for r in records] == [
        "b.JPG",
        "2024/a.png",
        "2024/may/c.webp",
        "gone.jpg",
    ]
    assert [r["format"] for r in records[:3]] == ["JPEG", "PNG", "WEBP"]
    assert "cannot read file" in records[3]["error"]


def test_exif_of_a_folder_without_images_exits_78(tmp_path, capsys):
    # given a folder with no image / when exif reads it / then it says so and exits 78
    (tmp_path / "notes.txt").write_text("x")
    assert cli.main(["exif", str(tmp_path)]) == 78
    assert "no image files in" in capsys.readouterr().err
