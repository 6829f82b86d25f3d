"""`python -m job search`: find images by label, text, camera, time and place.

The DynamoDB label index (job/label_index.py) answers `--label` queries without a scan; the other filters
are applied to those results. Without `--label` they need OpenSearch (issue 8, not in this build) or an
explicit `--scan` of the whole table.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from job import errors, export, label_index, store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """What the user asked for; None means "any"."""

    label: str | None = None
    min_confidence: float = 0.0
    text: str | None = None  # a word in the detected text (case-insensitive)
    camera: str | None = None  # "MAKE" or "MAKE/MODEL" (case-insensitive)
    taken_from: str | None = None  # ISO date or date-time, inclusive
    taken_to: str | None = None  # ISO date or date-time, inclusive
    near: tuple[float, float, float] | None = None  # (lat, lon, km)


# --- pure filters ----------------------------------------------------------------------------------------

NEEDS_INDEX = ("text", "camera", "taken_from", "taken_to", "near")
EARTH_KM = 6371.0088


def has_label(item: Mapping[str, Any], name: str, min_confidence: float) -> bool:
    """The stored result (not the index row) has the label, or custom:<label>, at >= min_confidence."""
    if name.startswith(label_index.CUSTOM_PREFIX):
        pool, name = item.get("custom_labels") or (), name[len(label_index.CUSTOM_PREFIX) :]
    else:
        pool = item.get("labels") or ()
    return any(
        str(lb.get("name", "")).lower() == name.lower() and float(lb.get("confidence") or 0) >= min_confidence
        for lb in pool
    )


def text_lines(item: Mapping[str, Any]) -> list[str]:
    return [str(t.get("text", "")) if isinstance(t, Mapping) else str(t) for t in item.get("text") or ()]


def has_word(item: Mapping[str, Any], word: str) -> bool:
    """A single word matches whole words; a phrase matches as a substring."""
    wanted = word.lower().strip()
    if " " in wanted:
        return any(wanted in line.lower() for line in text_lines(item))
    return any(wanted in re.findall(r"\w+", line.lower()) for line in text_lines(item))


def camera_matches(item: Mapping[str, Any], camera: str) -> bool:
    """`MAKE` or `MAKE/MODEL`, case-insensitive; a part matches when it is contained in the stored one."""
    exif = item.get("exif") or {}
    make, _, model = camera.partition("/")
    return make.strip().lower() in str(exif.get("make") or "").lower() and (
        not model.strip() or model.strip().lower() in str(exif.get("model") or "").lower()
    )


def _day_bound(text: str, end: bool) -> str:
    """A date alone covers its whole day; the stored form is `YYYY-MM-DDTHH:MM:SS`."""
    text = text.strip().replace(" ", "T")
    if len(text) == 10:
        return text + ("T23:59:59" if end else "T00:00:00")
    return text


def taken_within(item: Mapping[str, Any], start: str | None, stop: str | None) -> bool:
    taken = str((item.get("exif") or {}).get("datetime_original") or "")
    if not taken:
        return False
    return (start is None or taken >= _day_bound(start, False)) and (
        stop is None or taken <= _day_bound(stop, True)
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


def near(item: Mapping[str, Any], lat: float, lon: float, km: float) -> bool:
    gps = (item.get("exif") or {}).get("gps") or {}
    if gps.get("latitude") is None or gps.get("longitude") is None:
        return False
    return distance_km(lat, lon, float(gps["latitude"]), float(gps["longitude"])) <= km


def matches(item: Mapping[str, Any], f: Filters) -> bool:
    """Every filter the user gave holds for this stored result."""
    return (
        item.get("status") == "done"
        and (f.label is None or has_label(item, f.label, f.min_confidence))
        and (f.text is None or has_word(item, f.text))
        and (f.camera is None or camera_matches(item, f.camera))
        and (f.taken_from is None and f.taken_to is None or taken_within(item, f.taken_from, f.taken_to))
        and (f.near is None or near(item, *f.near))
    )


def parse_near(text: str) -> tuple[float, float, float]:
    try:
        lat, lon, km = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError(f"--near wants LAT,LON,KM, got {text!r}") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and km > 0):
        raise ValueError(f"--near out of range: {text!r}")
    return lat, lon, km


# --- DynamoDB -------------------------------------------------------------------------------------------


def _fetch(ddb: Any, table: str, refs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The results-table items of up to 100 images (strongly consistent), as plain Python."""
    found: dict[tuple[str, str], dict] = {}
    request = {
        table: {"Keys": [{"bucket": {"S": b}, "key": {"S": k}} for b, k in refs], "ConsistentRead": True}
    }
    for _ in range(5):
        answer = ddb.batch_get_item(RequestItems=request)
        for raw in answer.get("Responses", {}).get(table, ()):
            item = export._plain(store.deserialize(raw))
            found[(item["bucket"], item["key"])] = item
        left = answer.get("UnprocessedKeys") or {}
        if not left.get(table):
            break
        request = left
    return found


def verified(ddb: Any, table: str, hits: Iterable[Mapping[str, Any]]) -> Iterator[dict]:
    """Secondary-index hits (OpenSearch) re-read from the results table: deleted or changed images drop out."""
    it = iter(hits)
    while chunk := list(itertools.islice(it, 100)):
        items = _fetch(ddb, table, [(h["bucket"], h["key"]) for h in chunk])
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
        items = _fetch(ddb, table, [(r["bucket"], r["key"]) for r in chunk])
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
    p.add_argument(
        "--table",
        default=os.environ.get("BUCKETLENS_TABLE") or "bucketlens-results",
        help="results table [env BUCKETLENS_TABLE]",
    )
    p.add_argument(
        "--label-table",
        default=os.environ.get("BUCKETLENS_LABEL_TABLE"),
        help="label index (default <table>-labels) [env BUCKETLENS_LABEL_TABLE]",
    )
    p.add_argument("--label", help="a Rekognition label (custom:NAME for a Custom Labels label)")
    p.add_argument("--min-confidence", type=float, default=0.0, help="with --label: at least this confidence")
    p.add_argument("--limit", type=int, default=1000, help="at most this many images (default 1000)")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("search", help="images by label, text, camera, time taken and place")
    add_common(p)
    p.add_argument("--text", help="a word in the detected text")
    p.add_argument("--camera", help="MAKE or MAKE/MODEL")
    p.add_argument("--taken-from", help="DATE or DATE-TIME (inclusive)")
    p.add_argument("--taken-to", help="DATE or DATE-TIME (inclusive)")
    p.add_argument("--near", help="LAT,LON,KM")
    p.add_argument("--scan", action="store_true", help="no --label: read the whole results table")
    p.add_argument("--format", choices=("jsonl", "csv", "table"), default="jsonl")
    from job import opensearch_index

    opensearch_index.add_arguments(p)
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


def command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from job import clients, opensearch_index

    settings = opensearch_index.settings_from(args)
    try:
        f = filters_of(args)
        if settings is not None:  # every filter, no scan
            hits = opensearch_index.search(opensearch_index.connect(settings), settings.index, f, args.limit)
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
    except (ClientError, BotoCoreError) as exc:
        log.error("search failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return errors.EXIT_CONFIG
    log.info("search done", extra={"images": count, "backend": "dynamodb"})
    return errors.EXIT_OK
