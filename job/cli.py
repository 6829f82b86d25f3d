"""Command-line parsing: one sub-command per job the worker does; returns an exit code."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence

from job import __version__
from job.core import errors

# `python -m job exif` starts without the logging and typing packages: the EXIF reader logs nothing
LOGLESS = frozenset({"exif"})


def _cmd_exif(args: argparse.Namespace) -> int:
    from job import exif

    paths = list(_exif_paths(args.paths))
    if not paths:
        raise errors.ConfigError(f"no image files in {' '.join(args.paths)} (extensions: {EXIF_EXTENSIONS})")
    for path in paths:
        record = exif.extract_file(path, max_bytes=args.max_bytes)
        sys.stdout.write(json.dumps({"path": path, **record.to_dict()}, ensure_ascii=False) + "\n")
    return errors.EXIT_OK


EXIF_EXTENSIONS = "jpg,jpeg,png,tif,tiff,webp,heic,heif,avif,mpo,dng,cr2,nef,arw"  # TIFF-based RAW too


def _exif_paths(paths: Sequence[str]) -> Iterator[str]:
    """Files as given (a missing one is that file's error record); folders walked for image files."""
    import os

    from job.exif import files

    suffixes = tuple("." + e for e in EXIF_EXTENSIONS.split(","))
    for given in paths:
        if not os.path.isdir(given):
            yield given
            continue
        for _, path in files.walk(given):
            if path.name.lower().endswith(suffixes):
                yield str(path)


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
    import logging

    logging.getLogger("job.commands.export").info("exported", extra={"table": args.table, "rows": count})
    return errors.EXIT_OK


def _add_run(sub: argparse._SubParsersAction, help_text: str) -> None:
    from job.worker import config

    p = sub.add_parser(
        "run",
        help=help_text,
        description="Every option --foo-bar can also be set as BUCKETLENS_FOO_BAR; the command line wins.",
    )
    config.add_arguments(p)
    p.set_defaults(func=_cmd_run)


def _add_table(p: argparse.ArgumentParser) -> None:
    from job.worker.config import DEFAULT_TABLE

    p.add_argument("--table", default=DEFAULT_TABLE, help=f"table name (default {DEFAULT_TABLE})")


def _add_setup(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser("setup", help=help_text)
    _add_table(p)
    p.add_argument("--bucket", action="append", metavar="B", help="a bucket to create (repeatable)")
    p.set_defaults(func=_cmd_setup)


def _add_export(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser("export", help=help_text)
    _add_table(p)
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.set_defaults(func=_cmd_export)


# Every command but exif brings the worker's or the operator's modules (and boto3 with them): each is
# built only when it is the command that runs, so `python -m job exif` and `--help` start without them.
# name -> (a module with add_parser(sub, help), or a builder here; the help --help lists)
LAZY_COMMANDS: dict[str, tuple[str | Callable[..., None], str]] = {
    "run": (_add_run, "process this array child's images into the results table"),
    "setup": (_add_setup, "create the results table and buckets where missing (local runs)"),
    "export": (_add_export, "write every result as JSON Lines or CSV to stdout"),
    "search": ("job.commands.search", "images by label, text, camera, time taken and place"),
    "report": ("job.commands.report", "label + text report, or the HTML gallery (--html)"),
    "status": (
        "job.commands.status",
        "children by status, images, rate, ETA and failed children of a Batch job",
    ),
    "reconcile": (
        "job.commands.reconcile",
        "compare an S3 Inventory report with the results: missing, stale, orphaned",
    ),
    "reindex": (
        "job.commands.reindex",
        "rebuild the label index from the results table (after an upgrade, or to repair it)",
    ),
    "relabel": (
        "job.commands.relabel",
        "labels from a prompt list for every stored embedding, reading no image (--submit: as a Batch job)",
    ),
    "search-setup": (
        "job.commands.search_setup",
        "map the workers' and the submitter's IAM roles to OpenSearch roles (as the master user)",
    ),
    "deployed": (
        "job.commands.deployed",
        "one output of the applied deployment (what the Makefile targets use)",
    ),
}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line, read without building any sub-command's parser."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--log-level")
    pre.add_argument("command", nargs="?")
    return pre.parse_known_args(list(argv))[0].command


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Every sub-command; only the one `argv` names (if it is a lazy one) has its module imported."""
    parser = argparse.ArgumentParser(prog="python -m job", description="bucketlens worker")
    parser.add_argument("--version", action="version", version=f"bucketlens {__version__}")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("exif", help="print the EXIF record of local image files as JSON lines")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024, help="read at most this many bytes")
    p.set_defaults(func=_cmd_exif)

    chosen = chosen_command(argv)
    for name, (builder, text) in LAZY_COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=text)  # listed by --help; its options load when it is the command
        elif isinstance(builder, str):
            importlib.import_module(builder).add_parser(sub, text)
        else:
            builder(sub, text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command not in LOGLESS:
        _configure_logs(args.log_level)
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - the one rule for every command: an exit code and a line
        code, message = errors.failure(exc)
        _log_failure(args.log_level, message)
        return code


def _configure_logs(level: str) -> None:
    """JSON log lines on stderr at `level` (imported here: see LOGLESS)."""
    from job.core import logs

    logs.configure(level)


def _log_failure(level: str, message: str) -> None:
    """The one line a failed command prints; the traceback only at DEBUG."""
    import logging

    _configure_logs(level)
    logging.getLogger("job").error(message, exc_info=logging.getLogger().isEnabledFor(logging.DEBUG))
