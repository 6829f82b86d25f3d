"""The catalogue's cells and summary: what a photographer reads, written the way they write it."""

from __future__ import annotations

import pytest

from job.commands import report_html


@pytest.mark.parametrize(
    ("make", "model", "shown"),
    [
        ("Canon", "Canon EOS R5", "Canon EOS R5"),
        ("NIKON CORPORATION", "NIKON Z 9", "NIKON Z 9"),
        ("SONY", "ILCE-7M4", "SONY ILCE-7M4"),
        ("Apple", None, "Apple"),
        (None, None, ""),
    ],
)
def test_the_make_is_not_repeated_before_the_model(make, model, shown):
    assert report_html.camera({"make": make, "model": model}) == shown


def test_exposure_reads_as_photographers_write_it():
    exif = {"exposure_time": 0.004, "f_number": 2.8, "iso": 200, "focal_length": 35.0}
    assert report_html.exposure(exif) == "1/250 s · f/2.8 · ISO 200 · 35 mm"
    assert report_html.exposure({"exposure_time": 2.0}) == "2 s"
    assert report_html.exposure({"exposure_time": 1 / 30}) == "1/30 s"
    assert report_html.exposure({}) == ""


def test_the_summary_counts_outcomes_errors_labels_cameras_and_the_span_taken():
    # given done, error and deleted items
    def item(key, status, **extra):
        return {"bucket": "b", "key": key, "status": status, **extra}

    items = [
        item(
            "a.jpg",
            "done",
            labels=[{"name": "Dog", "confidence": 90}],
            exif={"make": "Canon", "model": "Canon EOS R5", "datetime_original": "2024-06-21T09:15:00"},
        ),
        item(
            "b.jpg",
            "done",
            labels=[{"name": "Dog", "confidence": 80}, {"name": "Cat", "confidence": 70}],
            exif={"datetime_original": "2023-01-02T03:04:05"},
        ),
        item("c.jpg", "error", error_class="BadImage"),
        item("d.jpg", "error", error_class="EmptyFile"),
        item("e.jpg", "deleted"),
    ]
    # when summarised
    s = report_html.summary(items)
    # then it says what a reader looks for first
    assert s["images"] == 5 and s["status"] == {"done": 2, "error": 2, "deleted": 1}
    assert s["errors"] == {"BadImage": 1, "EmptyFile": 1}
    assert s["labels"] == [("Dog", 2), ("Cat", 1)] and s["cameras"] == [("Canon EOS R5", 1)]
    assert s["taken"] == ("2023-01-02 03:04", "2024-06-21 09:15")


def test_a_deleted_image_is_listed_as_deleted_without_a_preview_and_text_is_escaped():
    # given a deleted image (with a preview link still known) and a key that holds markup
    items = [
        {"bucket": "b", "key": "gone.jpg", "status": "deleted"},
        {"bucket": "b", "key": "<b>x</b>.jpg", "status": "done"},
    ]
    page = report_html.render(
        items, {"gone.jpg": "https://example.com/p.jpg"}, "t", reasons={"<b>x</b>.jpg": "why"}
    )
    # then the deleted card has no image, and nothing from the data becomes markup
    assert "https://example.com/p.jpg" not in page and 'class="deleted">deleted' in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;.jpg" in page
