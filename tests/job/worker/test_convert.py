import io

import pytest
from PIL import Image

from job.worker import convert
from tests.job.worker_helpers import image_bytes, png_bomb


@pytest.mark.parametrize(
    ("fmt", "size", "w", "h", "kind"),
    [
        ("JPEG", 1_000, 4000, 3000, "s3"),
        ("PNG", 1_000, 100, 100, "s3"),
        ("JPEG", 16 * 1024 * 1024, 4000, 3000, "bytes"),
        ("JPEG", 1_000, 12_000, 100, "bytes"),
        ("HEIC", 1_000, 100, 100, "bytes"),
        ("WEBP", 1_000, 100, 100, "bytes"),
        ("TIFF", 1_000, 100, 100, "bytes"),
        ("AVIF", 1_000, 100, 100, "bytes"),
    ],
)
def test_route_follows_rekognition_s3_limits(fmt, size, w, h, kind):
    # given a format, size and pixel size / when routed / then S3Object only for small JPEG/PNG
    assert convert.choose(fmt, size, w, h).kind == kind


def test_jpeg_without_frame_size_is_decoded_by_us_and_recorded_as_bad():
    # given a JPEG cut inside its Exif segment, so the container walk found no frame size
    from job.demo.samples import SAMPLES, encode

    truncated = encode(SAMPLES[0])[:200]
    # when routed / then it is not sent by S3 reference (Rekognition would be paid for a broken file)
    assert convert.choose("JPEG", len(truncated), None, None).kind == "bytes"
    # and decoding it is a BadImage, which the worker records as an error before any Rekognition call
    with pytest.raises(convert.BadImage):
        convert.to_jpeg(truncated)


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF", "HEIF", "AVIF", "PNG"])
def test_every_supported_format_becomes_jpeg(fmt):
    # given a real image in that format
    data = image_bytes(fmt, (160, 120))
    # when converted
    out = convert.to_jpeg(data)
    # then it is a JPEG of the same pixel size
    image = Image.open(io.BytesIO(out))
    assert image.format == "JPEG" and image.size == (160, 120)


def test_transparent_png_is_flattened():
    # given an RGBA PNG
    buf = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 255, 0, 128)).save(buf, "PNG")
    # when converted / then a 3-channel JPEG comes out
    assert Image.open(io.BytesIO(convert.to_jpeg(buf.getvalue()))).mode == "RGB"


def test_large_images_are_scaled_to_the_side_and_byte_limits():
    # given a noisy 1200x800 image (noise compresses badly)
    noisy = Image.effect_noise((1200, 800), 80).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    # when converted under a 500 px side limit and a 40 KB byte limit
    out = convert.to_jpeg(buf.getvalue(), max_bytes=40_000, max_side=500)
    # then both limits hold and the aspect ratio is kept
    image = Image.open(io.BytesIO(out))
    assert len(out) <= 40_000
    assert max(image.size) <= 500
    assert image.size[0] / image.size[1] == pytest.approx(1.5, rel=0.02)


def test_exif_orientation_is_applied():
    # given a 100x50 JPEG whose EXIF says "rotate 90"
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.new("RGB", (100, 50)).save(buf, "JPEG", exif=exif)
    # when converted / then the pixels are upright (50x100)
    assert Image.open(io.BytesIO(convert.to_jpeg(buf.getvalue()))).size == (50, 100)


@pytest.mark.parametrize(
    "data",
    [png_bomb(), b"\xff\xd8\xff\xe0 truncated jpeg", image_bytes("WEBP")[:40], b""],
    ids=["bomb", "truncated-jpeg", "truncated-webp", "empty"],
)
def test_hostile_images_are_bad_image_not_crashes(data):
    # given a decompression bomb or broken bytes / when converted / then BadImage
    with pytest.raises(convert.BadImage):
        convert.to_jpeg(data)
