"""Command-line parsing: one sub-command per job the worker does; returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from job import __version__, errors, logs


def _cmd_exif(args: argparse.Namespace) -> int:
    from job import exif

    for path in args.paths:
        record = exif.extract_file(path, max_bytes=args.max_bytes)
        sys.stdout.write(json.dumps({"path": path, **record.to_dict()}, ensure_ascii=False) + "\n")
    return errors.EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m job", description="bucketlens worker")
    parser.add_argument("--version", action="version", version=f"bucketlens {__version__}")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("exif", help="print the EXIF record of local image files as JSON lines")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024, help="read at most this many bytes")
    p.set_defaults(func=_cmd_exif)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logs.configure(args.log_level)
    return args.func(args)
