"""The demo's sample images carry the EXIF they claim, in every format this machine can write."""

from __future__ import annotations

import pytest

from job import exif
from job.demo import samples


@pytest.fixture(scope="module")
def made() -> dict[str, bytes]:
    return samples.make_samples()


def test_each_sample_reads_back_with_its_camera_place_and_orientation(made):
    # given the samples this machine can write
    written = [s for s in samples.SAMPLES if s.key in made]
    assert len(written) >= len(samples.SAMPLES) - 1  # HEIC only where pillow-heif can encode
    for sample in written:
        # when each is read back
        data = made[sample.key]
        record = exif.extract(lambda start, end, data=data: data[start:end], len(data))
        # then it carries what the sample says
        assert record.error is None, sample.key
        assert (record.make, record.model, record.orientation) == (
            sample.make,
            sample.model,
            sample.orientation,
        )
        assert (record.width, record.height) == sample.size
        if sample.gps is None:
            assert record.gps is None
        else:
            assert record.gps.latitude == pytest.approx(sample.gps[0], abs=1e-4)
            assert record.gps.longitude == pytest.approx(sample.gps[1], abs=1e-4)


def test_samples_cover_all_hemispheres_formats_and_a_large_image():
    hemispheres = {(lat >= 0, lon >= 0) for lat, lon in (s.gps for s in samples.SAMPLES if s.gps)}
    assert hemispheres == {(True, True), (True, False), (False, True), (False, False)}
    assert {s.fmt for s in samples.SAMPLES} >= {"JPEG", "PNG", "TIFF", "WEBP", "HEIF"}
    assert any(max(s.size) > 10_000 for s in samples.SAMPLES)  # beyond Rekognition's side limit
    assert len({s.orientation for s in samples.SAMPLES}) >= 3


def test_corrupt_samples_are_not_readable_images(made):
    truncated = exif.extract(lambda s, e: made["broken/truncated.jpg"][s:e], 200)
    assert truncated.width is None  # no frame header: the image cannot be decoded
    assert (
        exif.extract(lambda s, e: samples.NOT_AN_IMAGE[s:e], 39).error == "unsupported image format: unknown"
    )


def test_each_sample_is_upright_once_its_orientation_is_applied(made):
    # given the samples, stored turned as a camera stores them under their EXIF orientation
    import io

    from PIL import Image, ImageOps

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - HEIC samples are then not made
        pass
    for sample in (s for s in samples.SAMPLES if s.key in made):
        # when a viewer that honours the tag shows one
        with Image.open(io.BytesIO(made[sample.key])) as stored:
            shown = ImageOps.exif_transpose(stored).convert("RGB")
        width, height = shown.size
        # then it is the upright scene: grass along the bottom, sky above it, the sun top right
        assert shown.size == samples.upright_size(sample), sample.key
        assert _near(shown.getpixel((width // 2, height - 3)), (60, 130, 60)), sample.key
        assert _near(shown.getpixel((width // 2, height // 3)), sample.sky), sample.key
        r = min(width, height) // 8
        assert _near(shown.getpixel((width - 2 * r, 2 * r)), (250, 220, 80)), sample.key
        assert _near(shown.getpixel((2 * r, 2 * r)), sample.sky), sample.key  # and not top left


def _near(pixel, colour, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
