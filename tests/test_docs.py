"""The README and docs/ hold only what works: every link and anchor resolves, and every command in a
fenced `sh` block names a make target, a sub-command and flags that exist."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from job import cli as job_cli
from job.demo import pipeline as demo
from lambda_submitter import cli as submitter_cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            base = slug(line.lstrip("#"))
            found.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return found


def commands(page: Path) -> list[list[str]]:
    """Each command of the page's sh blocks as words: prompts, comments and continuations handled."""
    found = []
    for block in FENCE.findall(page.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.removeprefix("$ ").strip()
            if not line or line.startswith("#"):
                continue
            words = shlex.split(line, comments=True)
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value before the command
                words = words[1:]
            if words:
                found.append(words)
    return found


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert name in sub.choices, f"no sub-command {name!r}"
    return sub.choices[name]


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_anchor_resolves(page):
    # given the page's relative links / then each file exists and each anchor is a heading there
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists() or (anchor and where.suffix == ".md" and anchor not in anchors(where)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_shown_exists_with_its_flags(page):
    # given each command of the page's sh blocks
    targets = make_targets()
    checked = 0
    for words in commands(page):
        program, args = words[0], words[1:]
        # when it is a make target, or one of our Python entry points / then it exists with its flags
        if program == "make":
            wanted = [a for a in args if not a.startswith("-") and "=" not in a]
            assert set(wanted) <= targets, f"{page.name}: make {wanted}"
        elif (
            program.endswith("python")
            and args[:1] == ["-m"]
            and args[1] in ("job", "lambda_submitter", "job.demo")
        ):
            module, rest = args[1], args[2:]
            if module == "job.demo":
                flags = options(demo.build_parser())
            else:
                top = job_cli.build_parser(rest) if module == "job" else submitter_cli.build_parser()
                flags = options(subparser(top, rest[0]))
            used = {w.split("=", 1)[0] for w in rest if w.startswith("--")}
            assert used <= flags, f"{page.name}: {' '.join(words)}: unknown {sorted(used - flags)}"
        else:
            continue
        checked += 1
    assert checked or page.name not in ("README.md", "search-and-reports.md", "deployment.md")


def test_the_readme_is_short_and_names_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150 and "make test" in readme
