"""The HTML report as a browser shows it: headless Chromium renders the page, a screenshot proves the
thumbnails are drawn and the DOM holds the labels. Skipped where Chromium is absent (`make test`
installs it when it can)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image

from job.commands import report_html
from tests.job.worker_helpers import image_bytes

COLOURS = {"red.jpg": (230, 20, 20), "green.jpg": (20, 200, 40), "blue.jpg": (20, 40, 230)}
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _close(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def _chromium(*args: str) -> subprocess.CompletedProcess:
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (Debian package chromium)")
def test_the_report_renders_thumbnails_and_labels_in_chromium(tmp_path):
    # given a report of three solid-colour images with labels, EXIF and a map link
    items = [
        {
            "bucket": "b",
            "key": key,
            "status": "done",
            "labels": [{"name": f"Label{key.split('.')[0].title()}", "confidence": 97.0}],
            "exif": {"make": "Canon", "model": "EOS", "gps": {"latitude": 48.85, "longitude": 2.29}},
        }
        for key in COLOURS
    ]
    images = {key: image_bytes("JPEG", size=(320, 240), color=colour) for key, colour in COLOURS.items()}
    page = tmp_path / "report.html"
    page.write_text(report_html.render(items, images, "bucketlens browser test"))
    shot = tmp_path / "shot.png"
    # when Chromium opens it
    taken = _chromium(f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    dom = _chromium("--dump-dom", page.as_uri())
    # then the screenshot shows each thumbnail's colour over a real area
    assert shot.is_file(), taken.stderr[-2000:]
    counts = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)
    for key, colour in COLOURS.items():
        assert sum(n for n, pixel in counts if _close(pixel, colour)) > 5000, f"{key} not drawn"
    # and the rendered DOM holds every label, the camera and the map link
    for name in ("LabelRed", "LabelGreen", "LabelBlue"):
        assert f"{name} (97%)" in dom.stdout
    assert "Canon EOS" in dom.stdout and "openstreetmap.org" in dom.stdout
