"""The layering is a checked rule: import-linter's contracts in pyproject.toml hold, and break on a wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the packages under root, as `make lint` does."""
    if not LINT_IMPORTS.is_file():
        pytest.fail(f"import-linter is not installed beside {sys.executable} (pip install -e '.[test]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and the contracts, to break on purpose."""
    for name in ("job", "lambda_submitter"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract():
    # given the repository / when import-linter checks it / then every contract is kept
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import"),
    [
        ("job/core/errors.py", "from job.commands import search"),  # a contract reaching up to a command
        ("job/worker/run.py", "from job.demo import samples"),  # the worker reaching into the demo
        ("lambda_submitter/handler.py", "from job.commands import status"),  # the Lambda importing a command
        ("job/commands/filters.py", "from job.commands import search"),  # search imports filters: a cycle
    ],
)
def test_a_wrong_import_breaks_a_contract(tree: Path, module: str, wrong_import: str):
    # given a copy of the tree with one import that crosses the layers the wrong way
    _append(tree / module, wrong_import)
    # when import-linter checks it
    done = lint_imports(tree)
    # then it fails and names the broken contract
    assert done.returncode != 0
    assert "BROKEN" in done.stdout, done.stdout + done.stderr
