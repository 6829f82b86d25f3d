"""`python -m job export`: every result as one line per image, for people and spreadsheets.

A paginated Scan streams the table, so memory stays flat on any table size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import fields
from decimal import Decimal
from typing import Any, TextIO

from job.core.store import deserialize
from job.exif import ExifRecord

# The ExifRecord's scalar fields, in its order (GPS is flattened into its own columns).
EXIF_FIELDS = tuple(f.name for f in fields(ExifRecord) if f.name not in ("gps", "bytes_read", "error"))
CSV_COLUMNS = (
    "uri",
    "status",
    "error_class",
    "error_message",
    "version_id",
    "etag",
    "size",
    "last_modified",
    *EXIF_FIELDS,
    "gps_latitude",
    "gps_longitude",
    "gps_altitude",
    "labels",
    "text",
    "custom_labels",
    "features",
    "processed_at",
)


def _plain(value: Any) -> Any:
    """Decimal back to int/float for JSON and CSV."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def scan(ddb: Any, table: str, segment: int = 0, segments: int = 1) -> Iterator[dict]:
    """Every item, or one segment of a parallel Scan (`segments` > 1 splits the table between processes)."""
    parallel = {"Segment": segment, "TotalSegments": segments} if segments > 1 else {}
    for page in ddb.get_paginator("scan").paginate(TableName=table, **parallel):
        for item in page.get("Items", ()):
            yield _plain(deserialize(item))


def row(item: dict) -> dict[str, Any]:
    """One image as a flat record: `s3://bucket/key`, outcome, EXIF fields, labels, text."""
    exif = item.get("exif") or {}
    gps = exif.get("gps") or {}
    return {
        "uri": f"s3://{item['bucket']}/{item['key']}",
        "status": item.get("status"),
        "error_class": item.get("error_class"),
        "error_message": item.get("error_message"),
        "version_id": item.get("version_id"),
        "etag": item.get("etag"),
        "size": item.get("size"),
        "last_modified": item.get("last_modified"),
        **{name: exif.get(name) for name in EXIF_FIELDS},
        "gps_latitude": gps.get("latitude"),
        "gps_longitude": gps.get("longitude"),
        "gps_altitude": gps.get("altitude"),
        "labels": [
            {"name": lb.get("name"), "confidence": lb.get("confidence")} for lb in item.get("labels") or ()
        ],
        "text": [t.get("text") for t in item.get("text") or ()],
        "custom_labels": [c.get("name") for c in item.get("custom_labels") or ()],
        "features": item.get("features"),
        "processed_at": item.get("processed_at") or item.get("deleted_at"),
    }


def write(items: Iterator[dict], out: TextIO, fmt: str = "jsonl") -> int:
    """Write rows as JSON Lines or CSV (lists joined with '; '); returns the number of rows."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for item in items:
            flat = row(item)
            flat["labels"] = "; ".join(f"{lb['name']}:{lb['confidence']}" for lb in flat["labels"])
            flat["text"] = "; ".join(str(t) for t in flat["text"])
            flat["custom_labels"] = "; ".join(str(c) for c in flat["custom_labels"])
            writer.writerow(flat)
            count += 1
        return count
    for item in items:
        out.write(json.dumps(row(item), ensure_ascii=False) + "\n")
        count += 1
    return count


def fetch_items(ddb: Any, table: str, refs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The results-table items of up to 100 images (strongly consistent), as plain Python."""
    found: dict[tuple[str, str], dict] = {}
    request = {
        table: {"Keys": [{"bucket": {"S": b}, "key": {"S": k}} for b, k in refs], "ConsistentRead": True}
    }
    for _ in range(5):
        answer = ddb.batch_get_item(RequestItems=request)
        for raw in answer.get("Responses", {}).get(table, ()):
            item = _plain(deserialize(raw))
            found[(item["bucket"], item["key"])] = item
        left = answer.get("UnprocessedKeys") or {}
        if not left.get(table):
            break
        request = left
    return found
