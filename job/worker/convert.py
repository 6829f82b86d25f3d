"""How Rekognition gets each image: by S3 reference when it can read the object itself, else as JPEG bytes
we make small enough (5 MB, 10,000 px a side), so no image is sent that Rekognition would refuse.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

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

_registered = False


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


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def to_jpeg(data: bytes, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE) -> bytes:
    """Decode any supported format, orient it, and re-encode as JPEG under both limits."""
    register_openers()
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise BadImage(f"decompression bomb: {width}x{height} pixels is over {MAX_PIXELS}")
        if image.format == "JPEG":
            image.draft("RGB", (max_side, max_side))  # decode at a reduced scale: far cheaper
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
            image = image.convert("RGBA").convert("RGB")
        elif image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        side = min(max_side, max(image.size))
        while True:
            out = io.BytesIO()
            _fit(image, side).save(out, "JPEG", quality=JPEG_QUALITY)
            if out.tell() <= max_bytes:
                return out.getvalue()
            if side <= 256:
                raise BadImage("cannot fit the image under the Rekognition byte limit")
            side = int(side * 0.75)
    except BadImage:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImage(f"decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, RuntimeError, TypeError) as exc:
        raise BadImage(f"cannot decode image: {type(exc).__name__}: {exc}") from exc
