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


def run_summary(job_id: str = "local", index: int = 0) -> dict:
    """The run summary a child wrote under --results-uri s3://<RESULTS>/runs."""
    import json

    body = clients.client("s3").get_object(Bucket=RESULTS, Key=f"runs/{job_id}/{index}.json")["Body"].read()
    return json.loads(body)


def items(table: str = TABLE) -> dict[str, dict]:
    """Every result item by key, plain Python values."""
    from job.commands import export

    return {item["key"]: item for item in export.scan(clients.client("dynamodb"), table)}


RED, BLUE = (220, 30, 30), (30, 40, 220)


def camera_jpeg(orientation: int, size: tuple[int, int] = (400, 300)) -> bytes:
    """A JPEG as a camera writes it: a scene (red sky over blue water) stored turned as `orientation` says,
    with an EXIF block holding that Orientation and, in IFD1, a 1/4-size JPEG preview stored the same way."""
    from job.demo.samples import STORED_AS, with_preview

    width, height = size
    scene = Image.new("RGB", (height, width) if orientation in (5, 6, 7, 8) else size, BLUE)
    scene.paste(RED, (0, 0, scene.width, scene.height // 2))
    stored = scene.transpose(STORED_AS[orientation]) if orientation in STORED_AS else scene
    small = io.BytesIO()
    stored.resize((stored.width // 4, stored.height // 4)).save(small, "JPEG", quality=90)
    tags = Image.Exif()
    tags[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=90, exif=with_preview(tags.tobytes(), small.getvalue()))
    return out.getvalue()
