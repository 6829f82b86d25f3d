"""`python -m job reindex`: the label index rebuilt from the results table, after a change of its format
or to repair it. Safe to rerun and to run alongside the workers: a row already right is not written
again, and the workers keep indexing what they label meanwhile."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, TextIO

from job.commands import export, options
from job.core import errors, label_index

log = logging.getLogger(__name__)


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("reindex", help=help_text)
    options.add_tables(p)
    p.add_argument("--segment", type=int, default=0, help="this process's part of the scan (0-based)")
    p.add_argument("--segments", type=int, default=1, help="how many processes share the scan (default 1)")
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported
    from job.core import clients

    if not 0 <= args.segment < args.segments:
        raise errors.ConfigError(
            f"--segment {args.segment} --segments {args.segments}: 0 <= segment < segments"
        )
    ddb = clients.client("dynamodb")
    table = label_index.table_name(args.table, args.label_table)
    counts = label_index.rebuild(ddb, table, export.scan(ddb, args.table, args.segment, args.segments))
    out.write(json.dumps({"label_table": table, **counts}) + "\n")
    log.info("label index rebuilt", extra={"label_table": table, **counts})
    return errors.EXIT_OK
