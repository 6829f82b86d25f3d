"""The two-stage text report and the HTML gallery with presigned thumbnails."""

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
        output="-",
        link_seconds=report.PRESIGN_SECONDS,
    )
    return SimpleNamespace(**{**base, **kw})


def test_html_report_links_presigned_thumbnails_and_shows_the_labels(aws, tmp_path):
    # given labelled images
    world({f"in/h{i}.jpg": image_bytes("JPEG") for i in range(2)})
    assert (
        run.run(
            from_args(
                {"source": f"s3://{BUCKET}/in/", "table": TABLE, "results_uri": f"s3://{RESULTS}/r"}, env={}
            )
        )
        == 0
    )
    # when the gallery is written for a label
    page = tmp_path / "report.html"
    assert report.command(_args(label="Mobile Phone", html=True, output=str(page))) == errors.EXIT_OK
    html = page.read_text()
    # then each image is there with a presigned URL, valid one hour, and its label
    assert html.count("X-Amz-Signature=") == 2 and "in/h0.jpg" in html and "Mobile Phone (100%)" in html
    assert html.count("X-Amz-Expires=3600") == 2
    # and --link-seconds sets another life, within SigV4's seven days
    out = io.StringIO()
    assert report.command(_args(label="Mobile Phone", html=True, link_seconds=600), out) == errors.EXIT_OK
    assert out.getvalue().count("X-Amz-Expires=600") == 2
    assert report.command(_args(label="Mobile Phone", html=True, link_seconds=8 * 86400)) == errors.EXIT_USAGE
    # and --embed puts the thumbnails inside the page instead
    out = io.StringIO()
    assert report.command(_args(html=True, embed=True), out) == errors.EXIT_OK
    assert out.getvalue().count("data:image/jpeg;base64,") == 2 and "X-Amz-Signature" not in out.getvalue()


def test_the_text_report_needs_a_label(aws):
    clients.client("dynamodb")
    assert report.command(_args()) == errors.EXIT_USAGE
