"""`python -m job deployed NAME`: one output of the deployment applied from a Terraform directory.

The Makefile's operator targets (status, backfill, logs, push) take the region and the resource names from
here, so a region set in terraform.tfvars is the one every command uses, and a directory where nothing was
applied stops with one line that says what to do instead of passing Terraform's warning on as a value.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from typing import Any, TextIO

from job.core import errors

log = logging.getLogger(__name__)


def read(tf_dir: str, name: str, terraform: str = "terraform") -> Any:
    """The output's value; ConfigError when the directory has no applied deployment with that output."""
    nothing = f"nothing deployed here ({tf_dir}): run make deploy"
    try:
        done = subprocess.run(
            [terraform, f"-chdir={tf_dir}", "output", "-json", "-no-color", name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except FileNotFoundError as exc:
        raise errors.ConfigError(f"{terraform} not found: install Terraform (>= 1.7)") from exc
    if done.returncode != 0 or not done.stdout.strip():
        raise errors.ConfigError(nothing)
    try:
        value = json.loads(done.stdout)
    except json.JSONDecodeError as exc:  # a warning on stdout, never a value
        raise errors.ConfigError(nothing) from exc
    if value is None or value == "":
        raise errors.ConfigError(f"{nothing} (output {name} is empty)")
    return value


def render(value: Any, fmt: str) -> str:
    """raw: a string as it is, anything else as JSON; env: a map as NAME=value words for `env`."""
    if fmt == "env":
        if not isinstance(value, dict):
            raise errors.ConfigError("--format env needs a map output")
        return " ".join(f"{k}={v}" for k, v in value.items())
    return value if isinstance(value, str) else json.dumps(value)


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("deployed", help=help_text)
    p.add_argument("name", metavar="OUTPUT", help="a Terraform output, e.g. region or results_uri")
    p.add_argument("--dir", default="terraform", help="the Terraform directory (default terraform)")
    p.add_argument("--terraform", default="terraform", help="the Terraform binary (default terraform)")
    p.add_argument("--format", choices=("raw", "env"), default="raw")
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported
    try:
        out.write(render(read(args.dir, args.name, args.terraform), args.format) + "\n")
    except errors.ConfigError as exc:
        log.error(str(exc))
        return errors.EXIT_CONFIG
    return errors.EXIT_OK
