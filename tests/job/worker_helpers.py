"""Shared builders for the worker tests: small real images and a bucket + table to run against."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from job.commands import provision
from job.core import clients

BUCKET = "bl-images"
TABLE = "bl-results"
RESULTS = "bl-results-bucket"


def image_bytes(
    fmt: str, size: tuple[int, int] = (120, 90), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A real, decodable image of the given Pillow format (HEIF needs pillow-heif registered)."""
    if fmt in ("HEIF", "HEIC"):
        from pillow_heif import register_heif_opener

        register_heif_opener()
        fmt = "HEIF"
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header claims billions of pixels: decoding it would exhaust memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def world(objects: dict[str, bytes], bucket: str = BUCKET, table: str = TABLE) -> None:
    """Create the table and buckets (via `job setup` logic) and upload the objects."""
    s3 = clients.client("s3")
    provision.setup(clients.client("dynamodb"), s3, table, [bucket, RESULTS], "us-east-1")
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def items(table: str = TABLE) -> dict[str, dict]:
    """Every result item by key, plain Python values."""
    from job.commands import export

    return {item["key"]: item for item in export.scan(clients.client("dynamodb"), table)}
