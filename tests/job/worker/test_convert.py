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


def test_a_big_jpeg_is_decoded_at_a_reduced_scale_and_sent_near_the_byte_limit(monkeypatch):
    # given a 24 MP photo-like JPEG (a gradient under noise) of a few MB and a 1 MB limit
    base = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    buf = io.BytesIO()
    Image.blend(base, Image.effect_noise((6000, 4000), 30).convert("RGB"), 0.5).save(buf, "JPEG", quality=90)
    loaded = []
    original_load = Image.Image.load

    def load(self):
        loaded.append(self.size)
        return original_load(self)

    monkeypatch.setattr(Image.Image, "load", load)
    # when converted
    out = convert.to_jpeg(buf.getvalue(), max_bytes=1024 * 1024)
    # then the decoder never held the whole 24 MP (DCT scaling), the result fits, and it was not shrunk
    # below what the limit allows by step after step (1/8 of the pixels would be 2121 px wide)
    size = Image.open(io.BytesIO(out)).size
    assert loaded and max(w * h for w, h in loaded) <= 6000 * 4000 // 4
    assert len(out) <= 1024 * 1024 and size[0] >= 2121
    assert size[0] / size[1] == pytest.approx(1.5, abs=0.01)


def _cgroup(tmp_path, memory: str | None = None, cpu: str | None = None, v1_memory: str | None = None):
    if memory is not None:
        (tmp_path / "memory.max").write_text(memory + "\n")
    if cpu is not None:
        (tmp_path / "cpu.max").write_text(cpu + "\n")
    if v1_memory is not None:
        (tmp_path / "memory").mkdir()
        (tmp_path / "memory" / "memory.limit_in_bytes").write_text(v1_memory + "\n")
    return tmp_path


def test_decodes_at_once_follow_the_containers_cpu_quota_and_memory_not_the_hosts(tmp_path, monkeypatch):
    # given a host with 64 CPUs
    monkeypatch.setattr(convert.os, "process_cpu_count", lambda: 64, raising=False)
    monkeypatch.setattr(convert.os, "cpu_count", lambda: 64)
    # when a Batch job of 1 vCPU and 2048 MiB runs there (cgroup v2, as ECS sets it)
    (tmp_path / "a").mkdir()
    one_vcpu = _cgroup(tmp_path / "a", memory=str(2048 * 2**20), cpu="100000 100000")
    # then one image is decoded at a time
    assert convert.conversion_slots({}, one_vcpu) == 1
    # and with 4 vCPUs but only 1024 MiB, memory bounds it (256 MiB base, 320 MiB a decode)
    (tmp_path / "b").mkdir()
    four_small = _cgroup(tmp_path / "b", memory=str(1024 * 2**20), cpu="400000 100000")
    assert convert.conversion_slots({}, four_small) == 2
    # and the Lambda's memory (2048 MB) counts where there is no cgroup limit
    (tmp_path / "c").mkdir()
    assert convert.conversion_slots({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}, tmp_path / "c") == 5
    # and cgroup v1's "no limit" (a huge number) and v2's "max" leave the CPUs in charge
    (tmp_path / "d").mkdir()
    no_limit = _cgroup(tmp_path / "d", memory="max", cpu="max", v1_memory=str(2**63 - 4096))
    assert convert.conversion_slots({}, no_limit) == 64
