"""The HTML catalogue as a browser shows it: headless Chromium renders the page; a screenshot proves a
sideways-stored photo is shown upright, the DOM after its scripts ran proves the filter and the map.
Skipped where Chromium is absent (`make test` installs it when it can)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest
from PIL import Image

from job import exif
from job.commands import report_html
from job.worker import preview
from tests.job.worker_helpers import BLUE, RED, camera_jpeg

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (Debian package chromium)")
PLACES = {"paris.jpg": (48.8584, 2.2945), "rio.jpg": (-22.9519, -43.2105), "tokyo.jpg": (35.6586, 139.7454)}


def _chromium(*args: str) -> subprocess.CompletedProcess:
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _items() -> list[dict]:
    """Three geotagged photos (a dog in Paris, cats elsewhere), one without GPS, one deleted."""
    items = [
        {
            "bucket": "b",
            "key": key,
            "status": "done",
            "labels": [{"name": "Dog" if key == "paris.jpg" else "Cat", "confidence": 97.0}],
            "exif": {"make": "Canon", "model": "Canon EOS R5", "gps": {"latitude": lat, "longitude": lon}},
        }
        for key, (lat, lon) in PLACES.items()
    ]
    items.append({"bucket": "b", "key": "no-gps.jpg", "status": "done", "labels": [], "exif": {}})
    items.append(
        {
            "bucket": "b",
            "key": "gone.jpg",
            "status": "deleted",
            "exif": {"gps": {"latitude": 1, "longitude": 2}},
        }
    )
    return items


def test_a_photo_stored_sideways_with_orientation_6_is_shown_upright(tmp_path):
    # given a camera photo stored sideways with Orientation 6, and the preview the worker keeps of it
    data = camera_jpeg(6)
    record = exif.extract(lambda start, end: data[start:end], len(data))
    kept = preview.upright_thumbnail(record.thumbnail, record.orientation)
    src = "data:image/jpeg;base64," + base64.b64encode(kept).decode("ascii")
    item = {"bucket": "b", "key": "portrait.jpg", "status": "done", "exif": {"orientation": 6}}
    page = tmp_path / "report.html"
    page.write_text(report_html.render([item], {"portrait.jpg": src}, "upright"))
    shot = tmp_path / "shot.png"
    # when Chromium shows the page
    taken = _chromium(f"--screenshot={shot}", "--window-size=900,900", page.as_uri())
    assert shot.is_file(), taken.stderr[-2000:]
    # then the red sky is drawn above the blue water, in a portrait frame: the photo is upright
    image = Image.open(shot).convert("RGB")
    red = [(x, y) for x, y in _where(image, RED)]
    blue = [(x, y) for x, y in _where(image, BLUE)]
    assert len(red) > 2000 and len(blue) > 2000
    red_x, red_y = _centre(red)
    blue_x, blue_y = _centre(blue)
    assert red_y < blue_y and abs(red_x - blue_x) < 5
    both = red + blue
    assert max(y for _, y in both) - min(y for _, y in both) > max(x for x, _ in both) - min(
        x for x, _ in both
    )


def test_typing_a_label_leaves_only_the_matching_cards_and_the_map_has_a_point_per_photo(tmp_path):
    # given the catalogue of three geotagged photos, one without GPS and one deleted
    page = tmp_path / "report.html"
    page.write_text(report_html.render(_items(), {}, "filter and map"))
    # when Chromium opens it with "dog" typed in the filter (the page reads #q= into the box and fires
    # the same input event as typing)
    dom = _chromium("--dump-dom", page.as_uri() + "#q=dog").stdout
    # then only the dog's card is shown
    cards = re.findall(r"<article [^>]*>", dom)
    shown = [c for c in cards if " hidden" not in c]
    assert len(cards) == 5 and len(shown) == 1 and 'data-key="paris.jpg"' in shown[0]
    assert '<span id="shown">1</span>' in dom
    # and the map has one point per geotagged photo (the deleted one is not drawn), each linked to OSM
    assert dom.count("<circle") == len(PLACES)
    assert dom.count('href="https://www.openstreetmap.org/?mlat=48.858400') == 2  # the map and the card


def _where(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40):
    width, height = image.size
    pixels = image.load()
    for y in range(0, height, 2):
        for x in range(0, width, 2):
            if all(abs(a - b) <= tolerance for a, b in zip(pixels[x, y], colour, strict=True)):
                yield x, y


def _centre(points: list[tuple[int, int]]) -> tuple[float, float]:
    return sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)
