"""How Rekognition gets each image: by S3 reference when it can read the object itself, else as JPEG bytes
we make small enough (5 MB, 10,000 px a side), so no image is sent that Rekognition would refuse.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

S3_FORMATS = frozenset({"JPEG", "PNG", "MPO"})  # MPO is a JPEG with extra frames; Rekognition reads it
CONVERTIBLE = frozenset({"JPEG", "MPO", "PNG", "TIFF", "DNG", "WEBP", "HEIC", "HEIF", "AVIF"})
MAX_S3_BYTES = 15 * 1024 * 1024
MAX_BYTES = 5 * 1024 * 1024
MAX_CUSTOM_BYTES = 4 * 1024 * 1024  # DetectCustomLabels takes at most 4 MB as bytes
MAX_SIDE = 10_000
MAX_DOWNLOAD = 200 * 1024 * 1024
MAX_PIXELS = 250_000_000  # decoding more than this is a decompression bomb, not a photo
JPEG_QUALITY = 88

# Peak memory of one conversion (bench/faults_bench.py: a 61 MP JPEG decoded at half scale, a 12 MP HEIC)
# with headroom, and what the process needs besides: they bound how many decodes run at once.
CONVERSION_BYTES = 320 * 1024 * 1024
BASE_BYTES = 256 * 1024 * 1024
CGROUP = Path("/sys/fs/cgroup")

_registered = False


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def memory_limit(env: Mapping[str, str] = os.environ, cgroup: Path = CGROUP) -> int | None:
    """Bytes this process may use: the Lambda's memory, else the container's cgroup limit (v2, then v1)."""
    if (lambda_mb := env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")).isdigit():
        return int(lambda_mb) * 1024 * 1024
    for path in (cgroup / "memory.max", cgroup / "memory" / "memory.limit_in_bytes"):
        value = _read(path)
        if value and value.isdigit() and int(value) < 1 << 60:  # v1 says "no limit" with a huge number
            return int(value)
    return None


def cpu_limit(cgroup: Path = CGROUP) -> int:
    """CPUs this process may use: a container's CPU quota (cgroup v2 cpu.max), else the CPUs it may run on.
    os.cpu_count() alone is the host's: 64 on a large Batch instance whatever the job's vCPUs."""
    cpus = os.process_cpu_count() if hasattr(os, "process_cpu_count") else os.cpu_count()
    quota = (_read(cgroup / "cpu.max") or "max").split()
    if len(quota) == 2 and quota[0].isdigit() and quota[1].isdigit() and int(quota[1]):
        return max(1, min(cpus or 1, math.ceil(int(quota[0]) / int(quota[1]))))
    return max(1, cpus or 1)


def conversion_slots(env: Mapping[str, str] = os.environ, cgroup: Path = CGROUP) -> int:
    """How many images may be decoded at once: one per CPU, as far as the memory limit allows."""
    limit = memory_limit(env, cgroup)
    by_memory = max(1, (limit - BASE_BYTES) // CONVERSION_BYTES) if limit else 1 << 10
    return max(1, min(cpu_limit(cgroup), by_memory))


class BadImage(Exception):
    """The image cannot be decoded or made acceptable to Rekognition."""


def register_openers() -> None:
    """Teach Pillow HEIC/HEIF (AVIF is native in Pillow >= 11.3), once per process."""
    global _registered
    if _registered:
        return
    from pillow_heif import register_heif_opener

    register_heif_opener()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard, for any decode outside to_jpeg
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # to_jpeg checks the size itself
    _registered = True


@dataclass(frozen=True)
class Route:
    """`s3` to pass an S3Object, `bytes` to download and convert; `reason` is logged and counted."""

    kind: str
    reason: str


def choose(fmt: str | None, size: int | None, width: int | None, height: int | None) -> Route:
    """S3Object for JPEG/PNG within 15 MB and 10,000 px a side; everything else goes through us."""
    if fmt not in S3_FORMATS:
        return Route("bytes", f"format {fmt}")
    if size is not None and size > MAX_S3_BYTES:
        return Route("bytes", "over 15 MB")
    if (width or 0) > MAX_SIDE or (height or 0) > MAX_SIDE:
        return Route("bytes", "over 10000 px")
    if width is None or height is None:  # truncated/corrupt: Pillow must judge it before Rekognition is paid
        return Route("bytes", "frame size unknown")
    return Route("s3", "direct")


def _target(width: int, height: int, side: int) -> tuple[int, int]:
    """The size with longest side `side`, keeping the aspect ratio."""
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _first_side(data: bytes, width: int, height: int, max_bytes: int, max_side: int) -> int:
    """A first guess at the longest side that fits `max_bytes`: a JPEG re-encoded at our quality costs
    about the bits per pixel it cost before, so a 61 MP, 29 MB photo is decoded at 1/2 scale, not whole."""
    side = min(max_side, max(width, height))
    bits_per_pixel = len(data) * 8 / (width * height)
    fits = max_bytes * 8 * 0.9 / max(bits_per_pixel, 0.1)  # pixels
    return max(256, min(side, int(max(width, height) * math.sqrt(min(1.0, fits / (width * height))))))


def _upright(image: Image.Image, grey: bool = True) -> Image.Image:
    """Turned as its EXIF Orientation says, transparency flattened, in RGB (or L when `grey` allows)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        return image.convert("RGBA").convert("RGB")
    if image.mode != "RGB" and not (grey and image.mode == "L"):
        return image.convert("RGB")
    return image


@contextlib.contextmanager
def _decoding() -> Iterator[None]:
    """Whatever Pillow or pillow-heif raise on bad bytes, as BadImage."""
    try:
        yield
    except BadImage:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImage(f"decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, RuntimeError, TypeError) as exc:
        raise BadImage(f"cannot decode image: {type(exc).__name__}: {exc}") from exc


def _open(data: bytes) -> Image.Image:
    """The image's header only, refused when decoding it would be a decompression bomb."""
    register_openers()
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise BadImage(f"decompression bomb: {width}x{height} pixels is over {MAX_PIXELS}")
    return image


def decode(data: bytes, min_side: int) -> Image.Image:
    """Any supported format as an upright RGB image whose shorter side is still at least `min_side`
    (a JPEG is decoded at the smallest DCT scale that keeps it: a 24 MP photo costs 1/64 of the pixels)."""
    with _decoding():
        image = _open(data)
        if image.format == "JPEG":
            width, height = image.size
            scale = max(min_side / max(1, min(width, height)), 1 / 8)
            image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
        image.load()
        return _upright(image, grey=False)


def to_jpeg(data: bytes, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE) -> bytes:
    """Decode any supported format, orient it, and re-encode as JPEG under both limits.

    Memory stays near one decoded image at about the size sent: a JPEG is decoded at a reduced DCT scale
    (`draft`); a too-large result shrinks by the square root of the excess, a far too small one grows once."""
    with _decoding():
        image = _open(data)
        width, height = image.size
        side = min(max_side, max(width, height))
        if image.format == "JPEG":
            side = _first_side(data, width, height, max_bytes, max_side)
            image.draft("RGB", _target(width, height, side))  # the smallest DCT scale at or above it
        image.load()
        image = _upright(image)
        best = None
        for _ in range(8):
            attempt = image.copy() if side < max(image.size) else image
            attempt.thumbnail((side, side), Image.Resampling.LANCZOS)  # never enlarges
            out = io.BytesIO()
            attempt.save(out, "JPEG", quality=JPEG_QUALITY)
            used = out.tell()
            if used <= max_bytes:
                if best is None and used < max_bytes // 2 and side < max(image.size):
                    # the guess was cautious (a scaled-down photo costs fewer bits a pixel): grow once
                    best = out.getvalue()
                    side = min(max(image.size), int(side * math.sqrt(max_bytes / used) * 0.8))
                    continue
                return out.getvalue()
            if best is not None:
                return best
            if side <= 256:
                break
            side = max(256, min(int(side * 0.9), int(side * math.sqrt(max_bytes / used) * 0.95)))
        raise BadImage("cannot fit the image under the Rekognition byte limit")
