"""Sample images made at demo time, so the demo ships no third-party pictures: several cameras,
GPS in all four hemispheres, rotated orientations, every format we read, a large image that needs
conversion and scaling, and two corrupt files."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image, ImageDraw, features
from PIL.TiffImagePlugin import IFDRational

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


@dataclass(frozen=True)
class Sample:
    """One picture to make: who took it, where, and how it is stored."""

    key: str
    make: str
    model: str
    taken: str  # EXIF form, YYYY:MM:DD HH:MM:SS
    gps: tuple[float, float] | None
    orientation: int = 1
    fmt: str = "JPEG"
    size: tuple[int, int] = (640, 480)
    sky: tuple[int, int, int] = (90, 150, 220)


SAMPLES = (
    Sample("cameras/canon/paris.jpg", "Canon", "Canon EOS R5", "2024:06:21 09:15:00", (48.8584, 2.2945)),
    Sample(
        "cameras/nikon/rio.jpg",
        "NIKON CORPORATION",
        "NIKON Z 9",
        "2024:02:10 17:40:12",
        (-22.9519, -43.2105),
        6,
        sky=(225, 85, 50),  # a sunset: the demo's search by colour finds it for "red"
    ),
    Sample(
        "cameras/sony/new york.tif",
        "SONY",
        "ILCE-7M4",
        "2023:12:31 23:59:30",
        (40.6892, -74.0445),
        1,
        "TIFF",
        sky=(30, 30, 70),  # midnight
    ),
    Sample(
        "cameras/fuji/sydney+harbour.webp",
        "FUJIFILM",
        "X-T5",
        "2024:01:26 12:00:00",
        (-33.8568, 151.2153),
        8,
        "WEBP",
    ),
    Sample(
        "phones/iphone/tokyo.heic",
        "Apple",
        "iPhone 15 Pro",
        "2024:04:01 08:30:45",
        (35.6586, 139.7454),
        6,
        "HEIF",
    ),
    Sample(
        "phones/pixel/reykjavík.png",
        "Google",
        "Pixel 8",
        "2024:03:03 21:05:00",
        (64.1466, -21.9426),
        3,
        "PNG",
        sky=(210, 90, 110),  # the evening light
    ),
    Sample(
        "phones/pixel/no-gps.jpg", "Google", "Pixel 8", "2024:05:05 10:10:10", None, 1, "JPEG", (480, 640)
    ),
    Sample(
        "panoramas/alps-wide.webp",
        "DJI",
        "Mavic 3",
        "2023:08:14 06:45:00",
        (46.5580, 7.8350),
        1,
        "WEBP",
        (10_800, 1_200),
    ),
)
NOT_AN_IMAGE = b"this file is named .png but holds text\n"


def _rational(value: float) -> IFDRational:
    fraction = Fraction(value).limit_denominator(10_000)
    return IFDRational(fraction.numerator, fraction.denominator)


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (IFDRational(degrees, 1), IFDRational(minutes, 1), _rational(seconds))


def exif_for(sample: Sample) -> Image.Exif:
    info = Image.Exif()
    info[0x010F], info[0x0110], info[0x0112] = sample.make, sample.model, sample.orientation
    info[0x0131] = "bucketlens demo"
    sub = info.get_ifd(EXIF_IFD)
    sub[0x9003] = sample.taken
    sub[0x829A], sub[0x829D] = IFDRational(1, 250), IFDRational(28, 10)
    sub[0x8827], sub[0x920A] = 200, IFDRational(35, 1)
    if sample.gps:
        lat, lon = sample.gps
        gps = info.get_ifd(GPS_IFD)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    return info


# How a camera stores what it saw upright under each EXIF orientation: the inverse of the turn a viewer
# applies (Pillow's ImageOps.exif_transpose), so a viewer that honours the tag shows the scene upright.
STORED_AS = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def upright_size(sample: Sample) -> tuple[int, int]:
    """The scene's size as shown: the stored size, turned a quarter for orientations 5 to 8."""
    width, height = sample.size
    return (height, width) if sample.orientation in (5, 6, 7, 8) else (width, height)


def picture(sample: Sample) -> Image.Image:
    """The stored pixels of a simple upright scene (sky, sun top right, grass below, the camera's name),
    turned as the sample's orientation says a camera stores it."""
    scene = _scene(sample, upright_size(sample))
    turn = STORED_AS.get(sample.orientation)
    return scene.transpose(turn) if turn is not None else scene


def _scene(sample: Sample, size: tuple[int, int]) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, sample.sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(60, 130, 60))
    r = min(width, height) // 8
    draw.ellipse((width - 3 * r, r, width - r, 3 * r), fill=(250, 220, 80))
    draw.text((10, 10), f"{sample.model} - {sample.key.rsplit('/', 1)[-1]}", fill=(255, 255, 255))
    return image


PREVIEW_PX = 160  # the EXIF preview cameras keep in IFD1 (160 x 120 for a 4:3 sensor)


def with_preview(exif: bytes, preview: bytes) -> bytes:
    """Pillow's EXIF bytes (`Exif\\0\\0` + a TIFF block, which Pillow writes without IFD1) with an IFD1 that
    points at a JPEG preview (JPEGInterchangeFormat and -Length, TIFF 6.0), as a camera writes it."""
    head, tiff = exif[:6], bytearray(exif[6:])
    order = ">" if tiff[:2] == b"MM" else "<"
    ifd0 = struct.unpack_from(order + "I", tiff, 4)[0]
    entries = struct.unpack_from(order + "H", tiff, ifd0)[0]
    ifd1 = len(tiff)
    struct.pack_into(order + "I", tiff, ifd0 + 2 + 12 * entries, ifd1)  # IFD0's link to the next IFD
    data = ifd1 + 2 + 2 * 12 + 4
    tiff += struct.pack(order + "H", 2)
    tiff += struct.pack(order + "HHII", 0x0201, 4, 1, data) + struct.pack(
        order + "HHII", 0x0202, 4, 1, len(preview)
    )
    tiff += struct.pack(order + "I", 0) + preview
    return head + bytes(tiff)


def encode(sample: Sample) -> bytes:
    fmt = sample.fmt
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    options = {"quality": 60, "method": 0} if fmt == "WEBP" else {}
    stored = picture(sample)
    exif = exif_for(sample).tobytes()
    if fmt == "JPEG":  # cameras and phones keep a small preview, stored turned like the photo
        small = stored.copy()
        small.thumbnail((PREVIEW_PX, PREVIEW_PX))
        preview = io.BytesIO()
        small.save(preview, "JPEG", quality=80)
        exif = with_preview(exif, preview.getvalue())
    buf = io.BytesIO()
    stored.save(buf, fmt, exif=exif, **options)
    return buf.getvalue()


def can_write(fmt: str) -> bool:
    """HEIF needs a pillow-heif build with an encoder; the rest Pillow writes itself."""
    if fmt == "HEIF":
        try:
            import pillow_heif
        except ImportError:
            return False
        return bool(pillow_heif.libheif_info().get("encoders"))
    return fmt != "WEBP" or features.check("webp")


def make_samples() -> dict[str, bytes]:
    """key -> bytes for every sample this machine's libraries can write, plus the corrupt files."""
    objects = {s.key: encode(s) for s in SAMPLES if can_write(s.fmt)}
    objects["broken/truncated.jpg"] = encode(SAMPLES[0])[:200]  # a real JPEG cut inside its Exif segment
    objects["broken/not-an-image.png"] = NOT_AN_IMAGE
    return objects
