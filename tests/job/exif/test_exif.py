"""The EXIF extractor on images the tests make themselves, and on hostile input."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image, features
from PIL.TiffImagePlugin import IFDRational as Fraction

from job import exif
from job.exif.source import BLOCK

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def reader_for(data: bytes, calls: list | None = None):
    def read(start: int, end: int) -> bytes:
        if calls is not None:
            calls.append((start, end))
        return data[start:end]

    return read


def extract_bytes(data: bytes, **kwargs) -> exif.ExifRecord:
    return exif.extract(reader_for(data), len(data), **kwargs)


def camera_exif(lat_ref: str = "S", lon_ref: str = "W", orientation: int = 6) -> Image.Exif:
    info = Image.Exif()
    info[0x010F] = "Canon"
    info[0x0110] = "Canon EOS R5"
    info[0x0131] = "Firmware 1.8.1"
    info[0x0112] = orientation
    sub = info.get_ifd(EXIF_IFD)
    sub[0x9003] = "2024:02:29 23:59:58"
    sub[0x9011] = "-03:00"
    sub[0x829A] = Fraction(1, 250)
    sub[0x829D] = Fraction(28, 10)
    sub[0x8827] = 400
    sub[0x920A] = Fraction(50, 1)
    sub[0xA434] = "RF24-105mm F4 L IS USM"
    gps = info.get_ifd(GPS_IFD)
    gps[1], gps[2] = lat_ref, (Fraction(33), Fraction(51), Fraction(359, 10))
    gps[3], gps[4] = lon_ref, (Fraction(151), Fraction(12), Fraction(2, 1))
    gps[5], gps[6] = b"\x01", Fraction(12, 1)
    return info


def noise_image(width: int, height: int) -> Image.Image:
    rng = random.Random(width * height)
    return Image.frombytes(
        "RGB", (width, height), bytes(rng.randrange(256) for _ in range(width * height * 3))
    )


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


# --- a TIFF block builder for hand-made (and hostile) EXIF structures ------------------------------


def tiff_block(ifd0: list[tuple[int, int, int, bytes]], extra: bytes = b"", ifd0_offset: int = 8) -> bytes:
    """Little-endian TIFF: IFD0 at `ifd0_offset` with raw (tag, type, count, 4-byte value) entries."""
    body = struct.pack("<H", len(ifd0))
    for tag, type_id, count, value in ifd0:
        body += struct.pack("<HHI", tag, type_id, count) + value.ljust(4, b"\0")
    body += struct.pack("<I", 0)
    head = b"II*\0" + struct.pack("<I", ifd0_offset)
    return head + b"\0" * (ifd0_offset - 8) + body + extra


def jpeg_with_app1(payload: bytes, width: int = 16, height: int = 8) -> bytes:
    app1 = b"Exif\0\0" + payload
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + sof + b"\xff\xda\x00\x02"


# --- real images -----------------------------------------------------------------------------


def test_jpeg_fields_are_normalized():
    # given a JPEG with a full camera EXIF block, GPS in the south-western hemisphere
    data = encode(noise_image(64, 48), "JPEG", exif=camera_exif().tobytes())
    # when it is extracted
    record = extract_bytes(data)
    # then every field is normalized
    assert record.error is None
    assert record.format == "JPEG"
    assert (record.make, record.model, record.software) == ("Canon", "Canon EOS R5", "Firmware 1.8.1")
    assert record.lens_model == "RF24-105mm F4 L IS USM"
    assert record.datetime_original == "2024-02-29T23:59:58-03:00"
    assert record.orientation == 6
    assert record.exposure_time == pytest.approx(0.004)
    assert record.f_number == pytest.approx(2.8)
    assert record.iso == 400
    assert record.focal_length == pytest.approx(50.0)
    assert (record.width, record.height) == (64, 48)
    assert record.gps.latitude == pytest.approx(-(33 + 51 / 60 + 35.9 / 3600))
    assert record.gps.longitude == pytest.approx(-(151 + 12 / 60 + 2 / 3600))
    assert record.gps.altitude == pytest.approx(-12.0)


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "signs"), [("N", "E", (1, 1)), ("N", "W", (1, -1)), ("S", "E", (-1, 1))]
)
def test_gps_refs_set_the_sign(lat_ref, lon_ref, signs):
    # given GPS coordinates in each hemisphere
    data = encode(noise_image(8, 8), "JPEG", exif=camera_exif(lat_ref, lon_ref).tobytes())
    # when extracted
    gps = extract_bytes(data).gps
    # then the refs are applied as signs
    assert (gps.latitude > 0, gps.longitude > 0) == (signs[0] > 0, signs[1] > 0)


def test_large_jpeg_is_answered_with_one_read_of_64_kib():
    # given a JPEG of several megabytes
    data = encode(noise_image(1200, 900), "JPEG", exif=camera_exif().tobytes(), quality=95)
    assert len(data) > 10 * BLOCK
    calls: list = []
    # when extracted through a counting range reader
    record = exif.extract(reader_for(data, calls), len(data))
    # then one read of at most 64 KiB was enough
    assert record.make == "Canon" and record.width == 1200
    assert calls == [(0, BLOCK)]
    assert record.bytes_read == BLOCK


def test_exif_beyond_the_first_read_is_fetched():
    # given a JPEG whose Exif segment starts after a 100 KB comment segment
    plain = encode(noise_image(32, 32), "JPEG", exif=camera_exif().tobytes())
    comments = b"".join(b"\xff\xfe" + struct.pack(">H", 50_002) + b"x" * 50_000 for _ in range(2))
    data = plain[:2] + comments + plain[2:]
    calls: list = []
    # when extracted
    record = exif.extract(reader_for(data, calls), len(data))
    # then more ranges were read, but not the whole file twice
    assert record.make == "Canon" and (record.width, record.height) == (32, 32)
    assert len(calls) >= 2
    assert record.bytes_read <= len(data)


def test_unknown_size_reads_until_short_answer():
    # given a reader that does not know the object's size
    data = encode(noise_image(16, 16), "JPEG", exif=camera_exif().tobytes())
    # when extracted without a size
    record = exif.extract(reader_for(data), None)
    # then it still works
    assert record.make == "Canon" and record.width == 16


def test_png_exif_chunk():
    # given a PNG with an eXIf chunk
    data = encode(noise_image(20, 10), "PNG", exif=camera_exif().tobytes())
    # when extracted
    record = extract_bytes(data)
    # then the fields come from it
    assert (record.format, record.make, record.width, record.height) == ("PNG", "Canon", 20, 10)
    assert record.gps.latitude < 0


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize("chunk_type", [b"tEXt", b"zTXt"])
def test_png_imagemagick_raw_profile(chunk_type):
    # given a PNG whose EXIF is an ImageMagick "Raw profile type exif" text chunk
    payload = b"Exif\0\0" + camera_exif(orientation=3).tobytes()[6:]
    hexed = payload.hex().encode()
    text = (
        b"\nexif\n"
        + str(len(payload)).encode().rjust(8)
        + b"\n"
        + b"\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    )
    body = text if chunk_type == b"tEXt" else b"\0" + zlib.compress(text)
    plain = encode(noise_image(4, 4), "PNG")
    data = plain[:33] + _png_chunk(chunk_type, b"Raw profile type exif\0" + body) + plain[33:]
    # when extracted
    record = extract_bytes(data)
    # then the profile is decoded
    assert record.error is None
    assert (record.make, record.orientation, record.width) == ("Canon", 3, 4)


def test_webp_with_exif():
    # given a WebP with EXIF
    data = encode(noise_image(30, 20), "WEBP", exif=camera_exif().tobytes())
    # when extracted
    record = extract_bytes(data)
    # then the frame size and fields are read
    assert (record.format, record.make, record.width, record.height) == ("WEBP", "Canon", 30, 20)


def test_tiff_file_fields_and_size():
    # given a TIFF with EXIF tags in its own IFDs
    data = encode(noise_image(12, 7), "TIFF", exif=camera_exif().tobytes())
    # when extracted
    record = extract_bytes(data)
    # then its IFD0 gives the size and the tags
    assert (record.format, record.make, record.width, record.height) == ("TIFF", "Canon", 12, 7)
    assert record.datetime_original.startswith("2024-02-29T23:59:58")


def test_heic_written_by_pillow_heif():
    # given a HEIC written by pillow-heif with EXIF
    import pillow_heif

    if not pillow_heif.libheif_info().get("encoders"):
        pytest.skip("this pillow-heif build has no HEVC encoder")
    pillow_heif.register_heif_opener()
    data = encode(noise_image(64, 32), "HEIF", exif=camera_exif().tobytes())
    # when extracted
    record = extract_bytes(data)
    # then it reads the Exif item and the primary image size
    assert record.error is None
    assert record.format in ("HEIC", "HEIF")
    assert (record.make, record.width, record.height) == ("Canon", 64, 32)
    assert record.gps.longitude < 0


def test_avif_written_by_pillow():
    # given an AVIF written by Pillow with EXIF
    if not features.check("avif"):
        pytest.skip("this Pillow build cannot write AVIF")
    data = encode(noise_image(40, 24), "AVIF", exif=camera_exif().tobytes())
    # when extracted
    record = extract_bytes(data)
    # then it is read like HEIF
    assert (record.format, record.make, record.width, record.height) == ("AVIF", "Canon", 40, 24)


def test_strings_as_exiftool_shows_them():
    # given Make with a NUL and junk after it, Model with trailing spaces, Software with bad UTF-8
    make, model, software = b"Nikon\0junk", b"D850   \0", b"Caf\xe9 1.0\0"
    strings = make + model + software
    base = 8 + 2 + 3 * 12 + 4
    entries = [
        (0x010F, 2, len(make), struct.pack("<I", base)),
        (0x0110, 2, len(model), struct.pack("<I", base + len(make))),
        (0x0131, 2, len(software), struct.pack("<I", base + len(make) + len(model))),
    ]
    # when extracted
    record = extract_bytes(jpeg_with_app1(tiff_block(entries, strings)))
    # then strings are cut, stripped and decoded without raising
    assert (record.make, record.model, record.software) == ("Nikon", "D850", "Caf? 1.0")


def test_unusable_gps_rationals_leave_gps_absent():
    # given GPS rationals of 0/0
    info = camera_exif()
    gps = info.get_ifd(GPS_IFD)
    zero = struct.pack("<II", 0, 0) * 3
    del gps[2], gps[4]
    data = encode(noise_image(8, 8), "JPEG", exif=info.tobytes())
    # (Pillow will not write 0/0, so patch the GPS entries in by hand)
    block = tiff_block(
        [(GPS_IFD, 4, 1, struct.pack("<I", 26))],
        extra=struct.pack("<H", 2)
        + struct.pack("<HHII", 2, 5, 3, 26 + 2 + 24 + 4)
        + struct.pack("<HHII", 4, 5, 3, 26 + 2 + 24 + 4 + 24)
        + struct.pack("<I", 0)
        + zero
        + zero,
    )
    # when extracted
    record, patched = extract_bytes(data), extract_bytes(jpeg_with_app1(block))
    # then no GPS is claimed
    assert record.gps is None and patched.gps is None and patched.error is None


# --- hostile input ------------------------------------------------------------------------------


def test_zero_byte_file():
    record = extract_bytes(b"")
    assert record.error == "empty file" and record.bytes_read == 0


def test_random_bytes_name_no_format():
    record = extract_bytes(random.Random(1).randbytes(5000))
    assert record.error == "unsupported image format: unknown"


@pytest.mark.parametrize(("data", "name"), [(b"GIF89a" + b"\0" * 40, "GIF"), (b"BM" + b"\0" * 60, "BMP")])
def test_unsupported_formats_are_named(data, name):
    assert extract_bytes(data).error == f"unsupported image format: {name}"


def test_jpeg_cut_at_200_bytes():
    # given a JPEG cut at 200 bytes, in the middle of its Exif segment
    data = encode(noise_image(32, 32), "JPEG", exif=camera_exif().tobytes())[:200]
    # when extracted
    record = extract_bytes(data)
    # then it returns whatever could be read, without raising
    assert record.format == "JPEG"
    assert record.width is None
    assert record.bytes_read == 200


def test_ifd_offsets_outside_the_data():
    # given an Exif IFD pointer and a string offset far past the end
    entries = [(0x010F, 2, 10, struct.pack("<I", 10_000_000)), (EXIF_IFD, 4, 1, struct.pack("<I", 99_999))]
    # when extracted
    record = extract_bytes(jpeg_with_app1(tiff_block(entries)))
    # then the fields are simply absent
    assert record.error is None and record.make is None and record.width == 16


def test_ifd_loops_terminate():
    # given an Exif IFD pointer that points back at IFD0, and a GPS IFD pointing at itself
    entries = [(EXIF_IFD, 4, 1, struct.pack("<I", 8)), (GPS_IFD, 4, 1, struct.pack("<I", 8))]
    # when extracted
    record = extract_bytes(jpeg_with_app1(tiff_block(entries)))
    # then it ends, with no fields
    assert record.error is None and record.make is None


def test_ifd_with_absurd_entry_count_is_ignored():
    # given IFD0 declaring 65535 entries in a 60-byte block
    block = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 65535) + b"\0" * 50
    # when extracted
    record = extract_bytes(jpeg_with_app1(block))
    # then the directory is ignored as a whole
    assert record.error is None and record.orientation is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"0000:00:00 00:00:00\0", None),
        (b"    :  :     :  :  \0", None),
        (b"2021:13:45 25:61:00\0", None),
        (b"2021:06:01 12:00:00\0", "2021-06-01T12:00:00"),
    ],
)
def test_absurd_dates_are_dropped(raw, expected):
    # given a DateTimeOriginal of each shape
    exif_ifd_at = 8 + 2 + 12 + 4
    sub = struct.pack("<H", 1) + struct.pack("<HHII", 0x9003, 2, len(raw), exif_ifd_at + 18) + b"\0" * 4 + raw
    block = tiff_block([(EXIF_IFD, 4, 1, struct.pack("<I", exif_ifd_at))], extra=sub)
    # when extracted
    record = extract_bytes(jpeg_with_app1(block))
    # then only a real date survives
    assert record.datetime_original == expected


def test_decompression_bomb_dimensions_are_reported_not_decoded():
    # given a PNG that declares 100,000 x 100,000 pixels
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")
    # when extracted
    record = extract_bytes(data)
    # then the declared size is read without decoding anything
    assert (record.width, record.height, record.error) == (100_000, 100_000, None)


def test_byte_budget_is_enforced_and_named():
    # given a JPEG whose Exif lies past a 200 KB comment, and a budget of 128 KiB
    plain = encode(noise_image(16, 16), "JPEG", exif=camera_exif().tobytes())
    comments = b"".join(b"\xff\xfe" + struct.pack(">H", 50_002) + b"x" * 50_000 for _ in range(4))
    data = plain[:2] + comments + plain[2:]
    # when extracted
    record = extract_bytes(data, max_bytes=128 * 1024)
    # then the error says so and no more than the budget was read
    assert "max_bytes=131072" in record.error
    assert record.bytes_read <= 128 * 1024


def test_missing_file_is_an_error_record(tmp_path):
    record = exif.extract_file(tmp_path / "nope.jpg")
    assert record.error.startswith("cannot read file")


# --- command line -------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "job", *args], capture_output=True, text=True, timeout=60, env=os.environ
    )


def test_cli_prints_one_json_line_per_path(tmp_path):
    # given one good image and one corrupt one
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(encode(noise_image(8, 8), "JPEG", exif=camera_exif().tobytes()))
    bad.write_bytes(b"\xff\xd8\xff\xe1garbage")
    # when the command runs over both
    result = run_cli("exif", str(good), str(bad))
    # then it exits 0 with a JSON line each, the corrupt one carrying its error
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(good), str(bad)]
    assert lines[0]["make"] == "Canon" and "error" not in lines[0]
    assert lines[0]["gps"]["latitude"] < 0
    assert lines[1]["error"]


def test_cli_usage_error_exits_2():
    result = run_cli("exif")
    assert result.returncode == 2
    assert "PATH" in result.stderr


def test_damaged_container_still_names_its_format():
    # given a JPEG whose first segment claims a length far past the end of the file
    data = b"\xff\xd8\xff\xe1garbage\0\0\0"
    # when extracted
    record = extract_bytes(data)
    # then the format is known and the error says where the data ended
    assert record.format == "JPEG"
    assert record.error.startswith("JPEG ends at byte")


def test_png_exif_after_the_pixels_is_found_without_reading_them():
    # given a 1 MB PNG whose eXIf chunk comes after its IDAT chunks
    plain = encode(noise_image(600, 600), "PNG")
    iend = plain.rindex(b"IEND") - 4
    data = plain[:iend] + _png_chunk(b"eXIf", camera_exif().tobytes()[6:]) + plain[iend:]
    assert len(data) > 16 * BLOCK
    # when extracted
    record = extract_bytes(data)
    # then the chunk is found from the tail, and the pixel data in between is not read
    assert (record.make, record.width, record.height) == ("Canon", 600, 600)
    assert record.bytes_read <= 3 * BLOCK  # the first block and the (unaligned) last 64 KiB


def test_the_cameras_ifd1_preview_comes_with_the_record_and_never_in_its_json():
    # given a camera JPEG (Orientation 6) whose EXIF block carries a JPEG preview in IFD1
    from tests.job.worker_helpers import camera_jpeg

    data = camera_jpeg(6)
    # when read
    record = exif.extract(lambda start, end: data[start:end], len(data))
    # then the preview's bytes are the JPEG stored there, and the JSON form stays metadata only
    assert record.thumbnail[:2] == b"\xff\xd8" and record.thumbnail[-2:] == b"\xff\xd9"
    assert record.orientation == 6 and "thumbnail" not in record.to_dict()
    # and an image without one has none
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(buf, "JPEG")
    plain = buf.getvalue()
    assert exif.extract(lambda start, end: plain[start:end], len(plain)).thumbnail is None


def test_corpus_previews_decode(corpus):
    # given the real camera files / when their IFD1 previews are read / then every one decodes
    import io

    from PIL import Image

    found = 0
    for path in sorted(corpus.rglob("*.jpg")):
        preview = exif.extract_file(path).thumbnail
        if preview:
            found += 1
            with Image.open(io.BytesIO(preview)) as image:
                image.load()
                assert max(image.size) <= 640, path
    assert found >= 40  # about half of the corpus' JPEGs carry one
