"""Command-line parsing: one sub-command per job the worker does; returns an exit code."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from job import __version__
from job.core import errors, logs


def _cmd_exif(args: argparse.Namespace) -> int:
    from job import exif

    for path in args.paths:
        record = exif.extract_file(path, max_bytes=args.max_bytes)
        sys.stdout.write(json.dumps({"path": path, **record.to_dict()}, ensure_ascii=False) + "\n")
    return errors.EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    import threading

    from job.worker import config, run

    cfg = config.from_args(args)
    stop = threading.Event()
    run.install_sigterm(stop)
    return run.run(cfg, stop=stop)


def _cmd_setup(args: argparse.Namespace) -> int:
    import os

    from job.commands import provision
    from job.core import clients

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    created = provision.setup(
        clients.client("dynamodb"), clients.client("s3"), args.table, list(args.bucket or ()), region
    )
    sys.stdout.write(
        json.dumps({"table": args.table, "buckets": args.bucket or [], "created": created}) + "\n"
    )
    return errors.EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from job.commands import export
    from job.core import clients

    count = export.write(export.scan(clients.client("dynamodb"), args.table), sys.stdout, args.format)
    logging.getLogger("job.commands.export").info("exported", extra={"table": args.table, "rows": count})
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

    from job.worker import config

    p = sub.add_parser(
        "run",
        help="process this array child's images into the results table",
        description="Every option --foo-bar can also be set as BUCKETLENS_FOO_BAR; the command line wins.",
    )
    config.add_arguments(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("setup", help="create the results table and buckets where missing (local runs)")
    p.add_argument(
        "--table", default=config.DEFAULT_TABLE, help=f"table name (default {config.DEFAULT_TABLE})"
    )
    p.add_argument("--bucket", action="append", metavar="B", help="a bucket to create (repeatable)")
    p.set_defaults(func=_cmd_setup)

    p = sub.add_parser("export", help="write every result as JSON Lines or CSV to stdout")
    p.add_argument(
        "--table", default=config.DEFAULT_TABLE, help=f"table name (default {config.DEFAULT_TABLE})"
    )
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.set_defaults(func=_cmd_export)

    from job.commands import deployed, reconcile, report, search, status

    search.add_parser(sub)
    report.add_parser(sub)
    status.add_parser(sub)
    reconcile.add_parser(sub)
    deployed.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logs.configure(args.log_level)
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - the one rule for every command: an exit code and a line
        code, message = errors.failure(exc)
        logging.getLogger("job").error(message, exc_info=logging.getLogger().isEnabledFor(logging.DEBUG))
        return code
