"""The README and docs/ hold only what works: every link and anchor resolves, and every command line they
show, in a fenced `sh` block or inline, goes through the real parser of the program it names (our own
`python -m …` and `bench/` scripts, make targets and variables, terraform, the AWS CLI's operations and
their parameters), with placeholders filled in; a program this test does not know fails it."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import itertools
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from job import cli as job_cli
from job.demo import pipeline as demo
from lambda_submitter import cli as submitter_cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# An inline command: a code span that starts with a program we document
INLINE = re.compile(r"`((?:python3?|\.venv/bin/python|make|terraform|aws) [^`]+)`")
END_OF_COMMAND = {"|", ">", ">>", "&", "&&", ";", "2>"}
PLACEHOLDER = re.compile(r"<[^>]+>|…|\.\.\.|\$\([^)]*\)|\$\{?[A-Z_]+\}?")


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


def _words(line: str) -> list[str]:
    """A command line as words, up to the first pipe, redirection or `&`, VAR=value prefixes dropped."""
    words = shlex.split(PLACEHOLDER.sub("x", line.replace("\\|", "|")), comments=True)
    for i, word in enumerate(words):
        if word in END_OF_COMMAND:
            words = words[:i]
            break
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words = words[1:]
    return words


def commands(page: Path) -> list[list[str]]:
    """Every command line of the page: its sh blocks (where a block uses `$ ` prompts, only those lines;
    the rest is output), then its inline code spans that start with a program."""
    text = page.read_text()
    found = []
    for lang, block in FENCE.findall(text):
        if lang != "sh":
            continue
        lines = block.replace("\\\n", " ").splitlines()
        if any(line.startswith("$ ") for line in lines):
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        found += [words for line in lines if (words := _words(line.strip()))]
    prose = FENCE.sub("", text)
    found += [words for span in INLINE.findall(prose) if (words := _words(span))]
    return found


def variants(words: list[str]) -> Iterator[list[str]]:
    """A synopsis as the concrete command lines it stands for: `[--flag V]` is used, each of `a|b` is tried,
    placeholders (`<job-id>`, `…`, `$VAR`, `$(…)`) having become `x` already."""
    options = []
    for word in words:
        word = word.strip("[]")
        options.append(word.split("|") if "|" in word and "://" not in word and "{" not in word else [word])
    for chosen in itertools.product(*options):
        yield [w for w in chosen if w]


def _parses(parser: argparse.ArgumentParser, args: list[str]) -> str | None:
    """None when `args` parse (or ask for help); else argparse's complaint."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as stop:
        return None if stop.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


PYTHON_FLAGS = {"-S", "-I", "-u", "-B", "-E", "-s", "-O"}


def check_python(args: list[str]) -> str | None:
    """`python -m <ours> …` and `python bench/<x>.py …` through their own parsers."""
    if args and set(args) <= PYTHON_FLAGS:
        return None  # the interpreter's own flags, named in prose
    if args[:1] == ["-m"] and len(args) >= 2:
        module, rest = args[1], args[2:]
        if module == "job.demo":
            return _parses(demo.build_parser(), rest)
        top = {"job": lambda: job_cli.build_parser(rest), "lambda_submitter": submitter_cli.build_parser}
        if module not in top:
            return f"no module {module!r} of ours"
        parser = top[module]()
        if rest[:1] == ["--help"] or not rest:
            return None
        if len(rest) == 1 and not rest[0].startswith("-"):  # a sub-command named in prose
            return None if rest[0] in _subcommands(parser) else f"no sub-command {rest[0]!r}"
        return _parses(parser, rest)
    if args and re.fullmatch(r"bench/\w+\.py", args[0]) and (ROOT / args[0]).exists():
        bench = importlib.import_module(f"bench.{Path(args[0]).stem}")
        return _parses(bench.build_parser(), args[1:])
    return f"not a command of ours: python {' '.join(args)}"


def _makefile() -> str:
    return (ROOT / "Makefile").read_text()


def check_make(args: list[str]) -> str | None:
    """Targets exist; VAR=value names a variable the Makefile reads."""
    text = _makefile()
    targets = set(re.findall(r"^([a-zA-Z][\w-]*):", text, re.M))
    for arg in args:
        if arg.startswith("-"):
            continue
        if "=" in arg:
            var = arg.split("=", 1)[0]
            if not re.search(rf"\$[({{]{var}[)}}]|^{var}\s*[?:]?=", text, re.M):
                return f"the Makefile reads no variable {var!r}"
        elif arg not in targets:
            return f"no make target {arg!r}"
    return None


TERRAFORM_COMMANDS = {
    "init", "validate", "plan", "apply", "destroy", "output", "fmt", "console", "import", "state", "show",
}  # fmt: skip


def check_terraform(args: list[str]) -> str | None:
    """A terraform sub-command; `-target=module.X`, `output NAME` and `-var NAME=…` name what exists."""
    chdir = ROOT / "terraform"
    while args and args[0].startswith("-chdir="):
        chdir = ROOT / args.pop(0).split("=", 1)[1]
    if not args or args[0] not in TERRAFORM_COMMANDS:
        return f"no terraform sub-command in {args}"
    if not chdir.is_dir():
        return f"no directory {chdir}"
    source = "".join(p.read_text() for p in chdir.glob("*.tf"))
    sub, rest = args[0], args[1:]
    for i, arg in enumerate(rest):
        if arg.startswith("-target=module."):
            name = arg.removeprefix("-target=module.").split(".")[0]
            if f'module "{name}"' not in source:
                return f"no module {name!r}"
        if arg == "-var" and i + 1 < len(rest):
            name = rest[i + 1].split("=", 1)[0]
            if f'variable "{name}"' not in source:
                return f"no variable {name!r}"
    if sub == "output":
        names = [a for a in rest if not a.startswith("-")]
        missing = [n for n in names if f'output "{n}"' not in source]
        return f"no output {missing}" if missing else None
    return None


AWS_GLOBAL = {"region", "profile", "output", "query", "endpoint-url", "debug", "no-cli-pager"}
AWS_PAGING = {"max-items", "starting-token", "page-size"}
# The CLI's own commands that are not API operations (aws s3 …, aws logs tail, …), with their options
AWS_CUSTOM = {
    ("s3", "cp"): {"recursive", "exclude", "include", "dryrun"},
    ("s3", "ls"): {"recursive", "summarize", "human-readable"},
    ("s3", "sync"): {"delete", "exclude", "include", "dryrun"},
    ("logs", "tail"): {"follow", "since", "format", "log-stream-names"},
    ("ecr", "get-login-password"): set(),
}


def check_aws(args: list[str]) -> str | None:
    """`aws <service> <operation> --param …`: the operation and each parameter exist in botocore's model
    (booleans also as `--no-…`), or it is one of the CLI's own commands."""
    if len(args) < 2:
        return f"aws needs a service and an operation: {args}"
    service, operation = args[0], args[1]
    flags = {a[2:] for a in args[2:] if a.startswith("--")} - AWS_GLOBAL
    if (service, operation) in AWS_CUSTOM:
        unknown = flags - AWS_CUSTOM[service, operation]
        return f"aws {service} {operation}: unknown {sorted(unknown)}" if unknown else None
    session = botocore.session.get_session()
    if service not in session.get_available_services():
        return f"no AWS service {service!r}"
    model = session.get_service_model(service)
    ops = {xform_name(name, "-"): name for name in model.operation_names}
    if operation not in ops:
        return f"no operation aws {service} {operation}"
    shape = model.operation_model(ops[operation]).input_shape
    members = shape.members if shape else {}
    known = {xform_name(m, "-") for m in members} | AWS_PAGING
    known |= {f"no-{xform_name(m, '-')}" for m, s in members.items() if s.type_name == "boolean"}
    unknown = flags - known
    return f"aws {service} {operation}: unknown {sorted(unknown)}" if unknown else None


def _any(args: list[str]) -> str | None:
    return None


CHECKS: dict[str, Callable[[list[str]], str | None]] = {
    "python": check_python,
    "python3": check_python,
    ".venv/bin/python": check_python,
    "make": check_make,
    "terraform": check_terraform,
    "aws": check_aws,
    # plain shell, nothing of ours to check
    "export": _any,
    "cp": _any,
    "cd": _any,
    ".venv/bin/moto_server": _any,
}


def check(words: list[str]) -> str | None:
    """None when every concrete form of the command line is right; else what is wrong with it."""
    for command in variants(words):
        program, args = command[0], command[1:]
        if program not in CHECKS:
            return f"a program this test does not know: {program!r}"
        if problem := CHECKS[program](args):
            return problem
    return None


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
def test_every_command_line_shown_parses(page):
    # given every command line of the page, fenced or inline
    found = commands(page)
    # when each goes through the parser of the program it names
    wrong = {" ".join(words): problem for words in found if (problem := check(words))}
    # then every one parses
    assert wrong == {}
    assert found or page.name not in ("README.md", "search-and-reports.md", "deployment.md")


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("python -m job search --labl Car", "unrecognized arguments"),
        ("python -m job search --format xml", "invalid choice"),
        ("python -m job nosuch", "no sub-command"),
        ("python -m lambda_submitter backfill|nosuch", "no sub-command"),
        ("python bench/latency_bench.py --resources auto|cloud", "invalid choice"),
        ("python -m job reindex --segment i", "invalid int value"),
        ("make nosuch-target", "no make target"),
        ("make logs JOBB=1", "no variable"),
        ("terraform apply -target=module.nosuch", "no module"),
        ("terraform -chdir=terraform output -raw nosuch", "no output"),
        ("aws batch submit-job --job-nam x", "unknown"),
        ("aws batch submit-jobs", "no operation"),
        ("curl https://example.com", "does not know"),
    ],
)
def test_a_wrong_command_line_is_caught(line, complaint):
    # given a command line with one thing wrong / when it is checked / then it is named
    assert complaint in (check(_words(line)) or "")


def test_the_readme_is_short_and_names_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150 and "make test" in readme
