"""`python -m job report`: the two-stage text report (label, then the text found on those images) and the
HTML catalogue (the page `make demo` writes), whose previews are the small upright JPEGs kept beside the
results, never the photos themselves."""

from __future__ import annotations

import argparse
import base64
import datetime
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import ClientError

from job.commands import export, report_html, search, similar
from job.commands.filters import Filters, text_lines
from job.core import errors, label_index, previews
from job.core.manifest import split_s3_uri

log = logging.getLogger(__name__)
PRESIGN_SECONDS = 3600  # an hour: until then the page is a bearer link to every image in it
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's longest


def text_report(items: list[Mapping[str, Any]], f: Filters, with_text: bool) -> tuple[str, int]:
    """One block per image: its S3 URI and confidence, then (with_text) the lines of text found on it."""
    blocks = []
    for item in items:
        lines = text_lines(item)
        if with_text and not lines:
            continue
        confidence = max(
            (
                float(lb["confidence"])
                for lb in item.get("labels") or ()
                if f.label and lb["name"].lower() == f.label.lower()
            ),
            default=None,
        )
        head = f"s3://{item['bucket']}/{item['key']}"
        if item.get("score") is not None:  # found by meaning
            head += f"\tscore {float(item['score']):.3f}"
        if confidence is not None:
            head += f"\t{f.label} {confidence:.1f}%"
        blocks.append(head + "".join(f"\n    {line}" for line in lines))
    return ("\n".join(blocks) + "\n" if blocks else ""), len(blocks)


MAX_SOURCE_BYTES = 50 * 1024 * 1024  # --thumbnails reads at most this much of one image
NO_EXIF_PREVIEW = frozenset({"HEIC", "HEIF", "AVIF", "TIFF", "DNG", "WEBP", "PNG"})


@dataclass(frozen=True)
class Previews:
    """Each image's preview (a data: URI or a presigned link to the small JPEG), and why others have none."""

    src: dict[str, str]
    missing: dict[str, str]


def gather_previews(
    s3: Any,
    items: list[Mapping[str, Any]],
    results_bucket: str | None,
    embed: bool = False,
    make: bool = False,
    seconds: int = PRESIGN_SECONDS,
) -> Previews:
    """The stored previews (named by the item, or by the object's identity in the results bucket); with
    `make`, one made from the whole image where none exists, written there for next time."""
    found = Previews({}, {})
    for item in items:
        key = str(item["key"])
        if item.get("status") == "deleted":
            continue
        uri, reason = item.get("thumbnail"), None
        if not uri and results_bucket:
            name = previews.name(item["bucket"], key, item.get("etag"))
            if _exists(s3, results_bucket, name):
                uri = f"s3://{results_bucket}/{name}"
            elif make and item.get("status") == "done":
                uri, reason = _make(s3, item, results_bucket, name)
        if not uri:
            found.missing[key] = reason or _why(item, results_bucket)
            continue
        bucket, name = split_s3_uri(str(uri))
        if embed:
            body = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
            found.src[key] = "data:image/jpeg;base64," + base64.b64encode(body).decode("ascii")
        else:
            params = {"Bucket": bucket, "Key": name}
            found.src[key] = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
    return found


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _make(s3: Any, item: Mapping[str, Any], bucket: str, name: str) -> tuple[str | None, str | None]:
    """A preview from the whole image (this version of it), kept at `name`; or why there is none."""
    from job.worker import preview

    if (item.get("size") or 0) > MAX_SOURCE_BYTES:
        return None, f"larger than {MAX_SOURCE_BYTES // 2**20} MB: no preview made"
    params = {"Bucket": item["bucket"], "Key": item["key"]}
    if item.get("version_id") and item["version_id"] != "null":
        params["VersionId"] = item["version_id"]
    try:
        body = preview.from_image(s3.get_object(**params)["Body"].read())
    except preview.NoPreview as exc:
        return None, f"no preview: {exc}"
    s3.put_object(Bucket=bucket, Key=name, Body=body, ContentType="image/jpeg")
    return f"s3://{bucket}/{name}", None


def _why(item: Mapping[str, Any], results_bucket: str | None) -> str:
    """What a card without a preview says."""
    if item.get("status") == "error":
        return f"no picture: {item.get('error_class')}"
    fmt = (item.get("exif") or {}).get("format")
    where = "" if results_bucket else " (and --results-uri, where previews are kept)"
    if fmt in NO_EXIF_PREVIEW:
        return f"{fmt} files carry no EXIF preview: --thumbnails{where} makes one"
    return f"no EXIF preview in this file: --thumbnails{where} makes one"


def title(
    label: str | None,
    min_confidence: float,
    items: list[Mapping[str, Any]],
    table: str,
    meaning: str | None = None,
) -> str:
    """Two lines: what was asked for; then the buckets, the table and when the page was made."""
    asked = f"bucketlens: {label} ≥ {min_confidence:g}%" if label else "bucketlens: all images"
    if meaning:
        asked = f"bucketlens: {meaning}" + (f", {label} ≥ {min_confidence:g}%" if label else "")
    buckets = ", ".join(f"s3://{b}" for b in sorted({str(i.get("bucket")) for i in items})) or "no images"
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{asked}\n{buckets} · table {table} · generated {made}"


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("report", help=help_text)
    search.add_common(p)
    p.add_argument(
        "--with-text", action="store_true", help="only images with detected text, their text beside"
    )
    p.add_argument("--html", action="store_true", help="write the HTML gallery instead of text")
    p.add_argument(
        "--embed", action="store_true", help="with --html: the previews inside the page (offline, no links)"
    )
    p.add_argument(
        "--thumbnails",
        action="store_true",
        help="with --html: make a preview from the whole image where none is kept (HEIC, TIFF, WebP, PNG, "
        "JPEGs without an EXIF preview), and keep it beside the results",
    )
    p.add_argument(
        "--results-uri",
        default=os.environ.get("BUCKETLENS_RESULTS_URI"),
        help="s3://bucket/runs of the deployment: its bucket keeps the previews [env BUCKETLENS_RESULTS_URI]",
    )
    p.add_argument(
        "--link-seconds",
        type=int,
        default=PRESIGN_SECONDS,
        help=f"with --html: how long the thumbnails' presigned links work, 1..{MAX_PRESIGN_SECONDS} "
        f"(default {PRESIGN_SECONDS}: one hour; anyone holding the page sees the images until then)",
    )
    p.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
    similar.add_arguments(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported

    from job.core import clients

    f = Filters(label=args.label, min_confidence=args.min_confidence)
    ddb, s3 = clients.client("dynamodb"), clients.client("s3")
    seconds = args.link_seconds
    try:
        if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"--link-seconds {seconds}: from 1 to {MAX_PRESIGN_SECONDS} (SigV4's longest)")
        labels_table = label_index.table_name(args.table, args.label_table)
        if similar.wanted(args):  # by meaning: the closest images first, with their score
            if args.meaning and args.like:
                raise ValueError("give --meaning or --like, not both")
            hits = similar.search(s3, ddb, clients.client("s3vectors"), args.table, args, f, args.limit)
            items = list(hits)
        elif args.label:
            items = list(search.find(ddb, args.table, labels_table, f, args.limit))
        elif args.html:
            items = list(export.scan(ddb, args.table))[: args.limit]
        else:
            raise ValueError("the text report needs --label, --meaning or --like")
        if args.html:
            bucket = previews.location(args.results_uri) or next(
                (split_s3_uri(str(i["thumbnail"]))[0] for i in items if i.get("thumbnail")), None
            )
            if args.thumbnails and bucket is None:
                raise ValueError("--thumbnails needs --results-uri (where the previews are kept)")
            shown = gather_previews(s3, items, bucket, args.embed, args.thumbnails, seconds)
            meaning, like = getattr(args, "meaning", None), getattr(args, "like", None)
            asked = f"“{meaning}”" if meaning else (f"like {like}" if like else None)
            heading = title(args.label, f.min_confidence, items, args.table, asked)
            body = report_html.render(items, shown.src, heading, reasons=shown.missing)
            count = len(items)
        else:
            body, count = text_report(items, f, args.with_text)
    except ValueError as exc:
        log.error("report refused", extra={"error": str(exc)})
        return errors.EXIT_USAGE
    if args.output == "-":
        out.write(body)
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(body)
    log.info("report written", extra={"images": count, "output": args.output})
    return errors.EXIT_OK
