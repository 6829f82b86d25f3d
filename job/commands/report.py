"""`python -m job report`: the two-stage text report (label, then the text found on those images) and the
static HTML gallery (the page `make demo` writes)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from job.commands import export, report_html, search
from job.commands.filters import Filters, text_lines
from job.core import errors, label_index

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
        if confidence is not None:
            head += f"\t{f.label} {confidence:.1f}%"
        blocks.append(head + "".join(f"\n    {line}" for line in lines))
    return ("\n".join(blocks) + "\n" if blocks else ""), len(blocks)


def presigned(s3: Any, items: list[Mapping[str, Any]], seconds: int = PRESIGN_SECONDS) -> dict[str, str]:
    """A GET URL per image, valid `seconds`: the page opens in any browser that can reach S3 until then,
    whoever holds it (a presigned URL carries the signer's permission)."""
    urls = {}
    for item in items:
        params = {"Bucket": item["bucket"], "Key": item["key"]}
        if item.get("version_id") and item["version_id"] != "null":
            params["VersionId"] = item["version_id"]
        urls[item["key"]] = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
    return urls


def embedded(s3: Any, items: list[Mapping[str, Any]], max_bytes: int = 20 * 1024 * 1024) -> dict[str, bytes]:
    """The images' bytes, for thumbnails inside the page (offline); larger ones get no preview."""
    found = {}
    for item in items:
        if (item.get("size") or 0) <= max_bytes and item.get("status") == "done":
            found[item["key"]] = s3.get_object(Bucket=item["bucket"], Key=item["key"])["Body"].read()
    return found


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("report", help=help_text)
    search.add_common(p)
    p.add_argument(
        "--with-text", action="store_true", help="only images with detected text, their text beside"
    )
    p.add_argument("--html", action="store_true", help="write the HTML gallery instead of text")
    p.add_argument("--embed", action="store_true", help="with --html: thumbnails inside the page (offline)")
    p.add_argument(
        "--link-seconds",
        type=int,
        default=PRESIGN_SECONDS,
        help=f"with --html: how long the thumbnails' presigned links work, 1..{MAX_PRESIGN_SECONDS} "
        f"(default {PRESIGN_SECONDS}: one hour; anyone holding the page sees the images until then)",
    )
    p.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:

    from job.core import clients

    f = Filters(label=args.label, min_confidence=args.min_confidence)
    ddb, s3 = clients.client("dynamodb"), clients.client("s3")
    seconds = args.link_seconds
    try:
        if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"--link-seconds {seconds}: from 1 to {MAX_PRESIGN_SECONDS} (SigV4's longest)")
        labels_table = label_index.table_name(args.table, args.label_table)
        if args.label:
            items = list(search.find(ddb, args.table, labels_table, f, args.limit))
        elif args.html:
            items = list(export.scan(ddb, args.table))[: args.limit]
        else:
            raise ValueError("the text report needs --label")
        if args.html:
            images = embedded(s3, items) if args.embed else {}
            title = f"bucketlens: {args.label or 'all images'}" + (
                f" ≥ {f.min_confidence:g}%" if args.label else ""
            )
            body = report_html.render(
                items, images, title, urls=None if args.embed else presigned(s3, items, seconds)
            )
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
