"""`python -m job search`: find images by label, text, camera, time and place.

The DynamoDB label index (job/core/label_index.py) answers `--label` queries without a scan; the other
filters are applied to those results. Without `--label` they need OpenSearch (job/commands/opensearch_search.py)
or an explicit `--scan` of the whole table.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from job.commands import export
from job.commands.filters import NEEDS_INDEX, Filters, matches, parse_near
from job.commands.options import add_tables
from job.core import errors, label_index

log = logging.getLogger(__name__)


# --- DynamoDB -------------------------------------------------------------------------------------------


def verified(ddb: Any, table: str, hits: Iterable[Mapping[str, Any]]) -> Iterator[dict]:
    """Secondary-index hits (OpenSearch) re-read from the results table: deleted or changed images drop out."""
    it = iter(hits)
    while chunk := list(itertools.islice(it, 100)):
        items = export.fetch_items(ddb, table, [(h["bucket"], h["key"]) for h in chunk])
        for hit in chunk:
            item = items.get((hit["bucket"], hit["key"]))
            if item and item.get("status") == "done" and item.get("etag") == hit.get("etag"):
                yield item


def find(
    ddb: Any, table: str, labels_table: str, f: Filters, limit: int, scan: bool = False
) -> Iterator[dict]:
    """Results matching the filters: by the label index when a label is given, else by a full scan."""
    if f.label is None:
        if not scan:
            raise ValueError("without OpenSearch a search needs --label (the label index), or --scan")
        yield from itertools.islice((i for i in export.scan(ddb, table) if matches(i, f)), limit)
        return
    sent = 0
    hits = label_index.query(ddb, labels_table, f.label, f.min_confidence)
    while sent < limit:
        chunk = list(itertools.islice(hits, 100))
        if not chunk:
            return
        items = export.fetch_items(ddb, table, [(r["bucket"], r["key"]) for r in chunk])
        for row in chunk:
            item = items.get((row["bucket"], row["key"]))
            # the index is a hint: a row whose image changed or went since it was written is not shown
            if item and item.get("etag") == row.get("etag") and matches(item, f):
                yield item
                sent += 1
                if sent >= limit:
                    return


# --- output ---------------------------------------------------------------------------------------------


def top_labels(item: Mapping[str, Any], n: int = 5) -> str:
    return ", ".join(f"{lb['name']} {float(lb['confidence']):.0f}" for lb in (item.get("labels") or [])[:n])


def write_table(items: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    rows = [
        (
            f"s3://{i['bucket']}/{i['key']}",
            " ".join(str((i.get("exif") or {}).get(k) or "") for k in ("make", "model")).strip() or "-",
            str((i.get("exif") or {}).get("datetime_original") or "-"),
            top_labels(i) or "-",
        )
        for i in items
    ]
    header = ("image", "camera", "taken", "labels")
    widths = [max([len(header[c])] + [len(r[c]) for r in rows]) for c in range(3)]
    for r in [header, *rows]:
        out.write("  ".join(r[c].ljust(widths[c]) for c in range(3)) + "  " + r[3] + "\n")
    return len(rows)


def add_common(p: argparse.ArgumentParser) -> None:
    add_tables(p)
    p.add_argument("--label", help="a Rekognition label (custom:NAME for a Custom Labels label)")
    p.add_argument("--min-confidence", type=float, default=0.0, help="with --label: at least this confidence")
    p.add_argument("--limit", type=int, default=1000, help="at most this many images (default 1000)")


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("search", help=help_text)
    add_common(p)
    p.add_argument("--text", help="a word in the detected text")
    p.add_argument("--camera", help="MAKE or MAKE/MODEL")
    p.add_argument("--taken-from", help="DATE or DATE-TIME (inclusive)")
    p.add_argument("--taken-to", help="DATE or DATE-TIME (inclusive)")
    p.add_argument("--near", help="LAT,LON,KM")
    p.add_argument("--scan", action="store_true", help="no --label: read the whole results table")
    p.add_argument("--format", choices=("jsonl", "csv", "table"), default="jsonl")
    from job.commands import similar
    from job.core import opensearch

    similar.add_arguments(p)
    opensearch.add_arguments(p)
    p.set_defaults(func=command)


def filters_of(args: argparse.Namespace) -> Filters:
    return Filters(
        label=args.label,
        min_confidence=args.min_confidence,
        text=getattr(args, "text", None),
        camera=getattr(args, "camera", None),
        taken_from=getattr(args, "taken_from", None),
        taken_to=getattr(args, "taken_to", None),
        near=parse_near(args.near) if getattr(args, "near", None) else None,
    )


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported

    from job.commands import opensearch_search
    from job.core import clients, opensearch

    settings = opensearch.settings_from(args)
    try:
        f = filters_of(args)
        from job.commands import similar

        if similar.wanted(args):  # by meaning: the embedding model and the vector store
            if args.meaning and args.like:
                raise ValueError("give --meaning or --like, not both")
            found = similar.search(
                clients.client("s3"),
                clients.client("dynamodb"),
                None if settings else clients.client("s3vectors"),
                args.table,
                args,
                f,
                args.limit,
                (opensearch.connect(settings), settings.index) if settings else None,
            )
            count = similar.write(found, out, args.format)
            backend = "opensearch" if settings else "s3vectors"
            log.info("search done", extra={"images": count, "backend": backend})
            return errors.EXIT_OK
        if settings is not None:  # every filter, no scan
            hits = opensearch_search.search(opensearch.connect(settings), settings.index, f, args.limit)
            items: Iterable[dict] = verified(clients.client("dynamodb"), args.table, hits)
            count = (
                write_table(list(items), out)
                if args.format == "table"
                else export.write(items, out, args.format)
            )
            log.info("search done", extra={"images": count, "backend": "opensearch"})
            return errors.EXIT_OK
        if f.label is None and not args.scan:
            given = [name for name in NEEDS_INDEX if getattr(f, name) is not None]
            raise ValueError(
                "search without --label reads the whole table: "
                + (
                    f"{', '.join('--' + g.replace('_', '-') for g in given)} need(s) OpenSearch, "
                    if given
                    else ""
                )
                + "give --label, or --scan to read everything"
            )
        ddb = clients.client("dynamodb")
        items = find(
            ddb, args.table, label_index.table_name(args.table, args.label_table), f, args.limit, args.scan
        )
        if args.format == "table":
            count = write_table(list(items), out)
        else:
            count = export.write(items, out, args.format)
    except ValueError as exc:
        log.error("search refused", extra={"error": str(exc)})
        return errors.EXIT_USAGE
    log.info("search done", extra={"images": count, "backend": "dynamodb"})
    return errors.EXIT_OK
