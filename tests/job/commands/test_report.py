"""The two-stage text report and the HTML catalogue, whose previews are small JPEGs kept beside the results."""

from __future__ import annotations

import io
from types import SimpleNamespace

from job.commands import report
from job.commands.search import Filters
from job.core import clients, errors
from job.worker import run
from job.worker.config import from_args
from tests.job.worker_helpers import BUCKET, RESULTS, TABLE, image_bytes, world


def _item(key: str, text: list[str], confidence: float = 95.0) -> dict:
    return {
        "bucket": "b",
        "key": key,
        "status": "done",
        "labels": [{"name": "Car", "confidence": confidence}],
        "text": [{"text": t, "confidence": 99.0} for t in text],
    }


def test_text_report_lists_images_with_their_text_and_skips_those_without():
    # given two cars, one with a number plate
    items = [_item("plate.jpg", ["B-XY 123", "TAXI"]), _item("bare.jpg", [])]
    # when the two-stage report is made with --with-text
    body, count = report.text_report(items, Filters(label="car", min_confidence=90), with_text=True)
    # then only the car with text is there, its text beside it
    assert count == 1
    assert body == "s3://b/plate.jpg\tcar 95.0%\n    B-XY 123\n    TAXI\n"


def _args(**kw):
    base = dict(
        table=TABLE,
        label_table=None,
        label=None,
        min_confidence=0.0,
        limit=100,
        with_text=False,
        html=False,
        embed=False,
        thumbnails=False,
        results_uri=None,
        output="-",
        link_seconds=report.PRESIGN_SECONDS,
    )
    return SimpleNamespace(**{**base, **kw})


def test_html_report_links_the_small_previews_never_the_photos(aws, tmp_path):
    # given two camera photos (with EXIF previews), a WebP (none), and a corrupt file, labelled by a run
    from tests.job.worker_helpers import camera_jpeg

    world(
        {
            "in/h0.jpg": camera_jpeg(1),
            "in/h1.jpg": camera_jpeg(6),
            "in/pic.webp": image_bytes("WEBP"),
            "in/bad.jpg": b"\xff\xd8 not really",
        }
    )
    config = {"source": f"s3://{BUCKET}/in/", "table": TABLE, "results_uri": f"s3://{RESULTS}/r"}
    assert run.run(from_args(config, env={})) == 0
    # when the catalogue is written for a label
    page = tmp_path / "report.html"
    assert report.command(_args(label="Mobile Phone", html=True, output=str(page))) == errors.EXIT_OK
    html = page.read_text()
    # then the two camera photos link their previews beside the results, presigned for one hour, and the
    # photos themselves are never linked
    assert (
        html.count(f"{RESULTS}.s3.amazonaws.com/thumbnails/") == 2 and html.count("X-Amz-Expires=3600") == 2
    )
    assert "in/h0.jpg?" not in html and f"{BUCKET}.s3" not in html
    assert "Mobile Phone 100%" in html and "in/h0.jpg" in html
    # and the WebP says why it has none
    assert "WEBP files carry no EXIF preview: --thumbnails makes one" in html
    # and --link-seconds sets another life, within SigV4's seven days
    out = io.StringIO()
    assert report.command(_args(label="Mobile Phone", html=True, link_seconds=600), out) == errors.EXIT_OK
    assert out.getvalue().count("X-Amz-Expires=600") == 2
    assert report.command(_args(label="Mobile Phone", html=True, link_seconds=8 * 86400)) == errors.EXIT_USAGE
    # when --thumbnails is asked for without saying where previews are kept (and no item names one)
    assert report.command(_args(label="nothing", html=True, thumbnails=True)) == errors.EXIT_USAGE
    # when every image is reported with --thumbnails --embed
    out = io.StringIO()
    results = f"s3://{RESULTS}/r"
    assert report.command(_args(html=True, embed=True, thumbnails=True, results_uri=results), out) == 0
    body = out.getvalue()
    # then the WebP got a preview made from the whole image, kept for next time, and all three are inside
    # the page; the corrupt file says why it has none
    assert body.count("data:image/jpeg;base64,") == 3 and "X-Amz-Signature" not in body
    assert "no picture: " in body
    kept = clients.client("s3").list_objects_v2(Bucket=RESULTS, Prefix="thumbnails/")["KeyCount"]
    assert kept == 3


def test_the_text_report_needs_a_label(aws):
    clients.client("dynamodb")
    assert report.command(_args()) == errors.EXIT_USAGE
