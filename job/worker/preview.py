"""The preview a report shows: the camera's own EXIF thumbnail turned upright (no decode when it already
is), or one made from the whole image for files that carry none (HEIC, TIFF, WebP, PNG)."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

PX = 320  # the longest side of a preview made from the whole image
QUALITY = 80
# what a viewer does to show the stored pixels upright, per EXIF Orientation (TIFF 6.0 / CIPA DC-008)
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class NoPreview(Exception):
    """The bytes do not decode into a picture."""


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


def upright_thumbnail(jpeg: bytes, orientation: int | None) -> bytes:
    """The EXIF thumbnail, stored like the main image's pixels, shown the way its Orientation says."""
    turn = UPRIGHT.get(orientation or 1)
    if turn is None:
        return jpeg  # already upright: the camera's bytes as they are
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            return _jpeg(image.transpose(turn))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NoPreview(f"EXIF thumbnail does not decode: {exc}") from exc


def from_image(data: bytes, px: int = PX) -> bytes:
    """A preview made from the whole image (any format Pillow or pillow-heif reads), upright."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - HEIC files then have no preview
        pass
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (px * 2, px * 2))
            small = ImageOps.exif_transpose(image)
            small.thumbnail((px, px))
            return _jpeg(small)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise NoPreview(f"does not decode: {exc}") from exc
