"""Find the EXIF block and the pixel size inside each image container, reading as little as possible."""

from __future__ import annotations

import binascii
import struct
import zlib
from dataclasses import dataclass

from job.exif.source import BLOCK, Source
from job.exif.tiff import mpf_images

MAX_STEPS = 100_000  # marker/chunk/box walks stop here whatever the data says
EXIF_PREFIX = b"Exif\0\0"


class FormatError(Exception):
    """The container is damaged in a way that hides the metadata."""


@dataclass
class Found:
    """What a container walk found: the EXIF block (TIFF bytes) and the frame size."""

    format: str
    exif: bytes | None = None
    exif_offset: int | None = None  # for TIFF files: read the IFDs straight from the source
    width: int | None = None
    height: int | None = None


def sniff(head: bytes) -> str | None:
    """The container format from the first bytes, or None when unknown."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return "ISOBMFF"
    return None


def describe_unknown(head: bytes) -> str:
    """A name for formats we recognise but do not read, for the error message."""
    signatures = [
        (b"GIF8", "GIF"),
        (b"BM", "BMP"),
        (b"\xff\x0a", "JPEG XL"),
        (b"\0\0\0\x0cJXL ", "JPEG XL"),
        (b"%PDF", "PDF"),
        (b"8BPS", "PSD"),
        (b"\0\0\1\0", "ICO"),
        (b"II\xbc\x01", "JPEG XR"),
    ]
    for magic, name in signatures:
        if head.startswith(magic):
            return name
    if not head:
        return "empty file"
    return "unknown"


def _strip_exif_prefix(data: bytes) -> bytes:
    return data[len(EXIF_PREFIX) :] if data.startswith(EXIF_PREFIX) else data


# --- JPEG / MPO -------------------------------------------------------------------------------

MAX_RESYNCS = 4
RESYNC_WINDOW = 4096


def _next_marker(data: bytes) -> int | None:
    """Offset of the next plausible segment marker (0xFF then an APPn, DQT, DHT or SOF byte)."""
    at = data.find(b"\xff")
    while at != -1 and at + 1 < len(data):
        if data[at + 1] >= 0xC0 and data[at + 1] not in (0xFF, *range(0xD0, 0xDA)):
            return at
        at = data.find(b"\xff", at + 1)
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8}


def jpeg(src: Source) -> Found:
    """Walk markers up to the frame header; the Exif APP1 payload is parsed where it lies."""
    found = Found("JPEG")
    pos = 2
    resyncs = 0
    for _ in range(MAX_STEPS):
        head = src.get(pos, 4)
        if len(head) >= 2 and head[0] != 0xFF and resyncs < MAX_RESYNCS:
            # A segment with a wrong length: like exiftool, look ahead for the next marker.
            resyncs += 1
            ahead = _next_marker(src.get(pos, RESYNC_WINDOW))
            if ahead is not None:
                pos += ahead
                continue
        if len(head) < 2 and found.width is None and found.exif is None:
            raise FormatError(f"JPEG ends at byte {pos} before any metadata or frame header")
        if len(head) < 2 or head[0] != 0xFF:
            if found.width is None and found.exif is None:
                raise FormatError(f"JPEG marker expected at byte {pos}")
            break
        marker = head[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA) or len(head) < 4:  # EOI, start of scan, or cut short
            break
        length = struct.unpack(">H", head[2:4])[0]
        if length < 2:
            raise FormatError(f"JPEG segment of length {length} at byte {pos}")
        body = pos + 4
        if marker == 0xE1 and found.exif is None and src.get(body, 6) == EXIF_PREFIX:
            found.exif = src.get(body + 6, length - 8)
        elif (
            marker == 0xE2 and src.get(body, 4) == b"MPF\0" and mpf_images(src.get(body + 4, length - 6)) > 1
        ):
            found.format = "MPO"
        elif marker in _SOF:
            frame = src.get(body, 5)
            if len(frame) == 5:
                found.height, found.width = struct.unpack(">HH", frame[1:5])
            break  # the frame header comes after every metadata segment we read
        pos = body + length - 2
    return found


# --- PNG ----------------------------------------------------------------------------------------

MAX_TEXT = 4 * 1024 * 1024  # decompressed text chunk bound (zip bombs)


def _raw_profile(text: bytes) -> bytes | None:
    """ImageMagick's "Raw profile type exif": a name line, a length line, then hex digits."""
    lines = text.strip().split(b"\n", 2)
    if len(lines) < 3:
        return None
    try:
        length = int(lines[1].strip())
        data = binascii.unhexlify(b"".join(lines[2].split()))
    except ValueError:
        return None
    return data[:length] if length > 0 else data


def _inflate(data: bytes) -> bytes | None:
    try:
        return zlib.decompressobj().decompress(data, MAX_TEXT)
    except zlib.error:
        return None


def _png_text(chunk_type: bytes, data: bytes) -> bytes | None:
    """The EXIF block carried in a tEXt/zTXt/iTXt "Raw profile type exif|APP1" chunk, if any."""
    keyword, _, rest = data.partition(b"\0")
    if keyword not in (b"Raw profile type exif", b"Raw profile type APP1"):
        return None
    if chunk_type == b"zTXt":
        rest = _inflate(rest[1:]) or b""
    elif chunk_type == b"iTXt":
        compressed = rest[:1] == b"\1"
        rest = rest[2:].split(b"\0", 2)[-1]
        if compressed:
            rest = _inflate(rest) or b""
    payload = _raw_profile(rest)
    return _strip_exif_prefix(payload) if payload else None


def _png_tail_exif(src: Source, after: int) -> bytes | None:
    """EXIF from a chunk in the last 64 KiB, found by its type and checked by its CRC, so the pixel
    data in between is never read."""
    start = max(after, src.size - BLOCK)
    tail = src.get(start, src.size - start)
    for kind in (b"eXIf", b"zTXt", b"tEXt", b"iTXt"):
        at = tail.find(kind, 4)
        while at != -1:
            length = struct.unpack(">I", tail[at - 4 : at])[0]
            end = at + 4 + length
            if (
                end + 4 <= len(tail)
                and zlib.crc32(tail[at:end]) == struct.unpack(">I", tail[end : end + 4])[0]
            ):
                data = tail[at + 4 : end]
                payload = _strip_exif_prefix(data) if kind == b"eXIf" else _png_text(kind, data)
                if payload:
                    return payload
            at = tail.find(kind, at + 1)
    return None


def png(src: Source) -> Found:
    found = Found("PNG")
    pos = 8
    for _ in range(MAX_STEPS):
        head = src.get(pos, 8)
        if len(head) < 8:
            break
        length, chunk_type = struct.unpack(">I4s", head)
        if chunk_type == b"IHDR":
            ihdr = src.get(pos + 8, 8)
            if len(ihdr) == 8:
                found.width, found.height = struct.unpack(">II", ihdr)
        elif chunk_type == b"eXIf" and found.exif is None:
            found.exif = _strip_exif_prefix(src.get(pos + 8, length))
        elif chunk_type in (b"tEXt", b"zTXt", b"iTXt") and found.exif is None:
            found.exif = _png_text(chunk_type, src.get(pos + 8, min(length, MAX_TEXT)))
        elif chunk_type == b"IDAT":
            if found.exif is None and src.size is not None and src.size - pos > 2 * BLOCK:
                found.exif = _png_tail_exif(src, pos)  # metadata after the pixels sits at the end
                break
            if found.exif is not None:
                break  # pixels start: nothing we need comes after them
        elif chunk_type == b"IEND":
            break
        pos += 12 + length
    if found.width is None:
        raise FormatError("PNG without an IHDR chunk")
    return found


# --- WebP ---------------------------------------------------------------------------------------


def webp(src: Source) -> Found:
    found = Found("WEBP")
    riff_end = 8 + struct.unpack("<I", src.get(4, 4))[0]
    pos = 12
    for _ in range(MAX_STEPS):
        head = src.get(pos, 8)
        if len(head) < 8 or pos >= riff_end:
            break
        fourcc, length = struct.unpack("<4sI", head)
        body = pos + 8
        if fourcc == b"VP8X":
            data = src.get(body, 10)
            if len(data) == 10:
                found.width = 1 + int.from_bytes(data[4:7], "little")
                found.height = 1 + int.from_bytes(data[7:10], "little")
            if not data or not data[0] & 0x08:  # no EXIF flag: nothing more to find
                break
        elif fourcc == b"VP8 " and found.width is None:
            data = src.get(body, 10)
            if len(data) == 10 and data[3:6] == b"\x9d\x01\x2a":
                w, h = struct.unpack("<HH", data[6:10])
                found.width, found.height = w & 0x3FFF, h & 0x3FFF
            break
        elif fourcc == b"VP8L" and found.width is None:
            data = src.get(body, 5)
            if len(data) == 5 and data[0] == 0x2F:
                bits = int.from_bytes(data[1:5], "little")
                found.width, found.height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            break
        elif fourcc == b"EXIF":
            found.exif = _strip_exif_prefix(src.get(body, length))
            break
        pos = body + length + (length & 1)
    return found


# --- TIFF ---------------------------------------------------------------------------------------


def tiff(src: Source) -> Found:
    """A TIFF file is itself the EXIF structure: its IFDs are read in place."""
    return Found("TIFF", exif_offset=0)


# --- HEIC / HEIF / AVIF (ISO base media file format) --------------------------------------------

_BRANDS = {
    b"heic": "HEIC",
    b"heix": "HEIC",
    b"heim": "HEIC",
    b"heis": "HEIC",
    b"hevc": "HEIC",
    b"hevx": "HEIC",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
    b"avif": "AVIF",
    b"avis": "AVIF",
}


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, body_start, body_end) of the boxes laid end to end in data[start:end]."""
    end = len(data) if end is None else min(end, len(data))
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, end)
        pos += size


class _Bits:
    """Big-endian unsigned reads with variable sizes, as iloc needs; short data raises FormatError."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def uint(self, size: int) -> int:
        if size == 0:
            return 0
        chunk = self.data[self.pos : self.pos + size]
        if len(chunk) < size:
            raise FormatError("HEIF box cut short")
        self.pos += size
        return int.from_bytes(chunk, "big")


def _iloc(data: bytes, start: int) -> dict[int, tuple[int, list[tuple[int, int]]]]:
    """item id -> (construction method, [(offset, length), ...])."""
    r = _Bits(data, start)
    version = r.uint(1)
    r.uint(3)
    sizes = r.uint(2)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
    base_size, index_size = (sizes >> 4) & 0xF, (sizes & 0xF) if version in (1, 2) else 0
    count = r.uint(2 if version < 2 else 4)
    items: dict[int, tuple[int, list[tuple[int, int]]]] = {}
    for _ in range(min(count, MAX_STEPS)):
        item_id = r.uint(2 if version < 2 else 4)
        method = r.uint(2) & 0xF if version in (1, 2) else 0
        r.uint(2)  # data reference index
        base = r.uint(base_size)
        extents = []
        for _ in range(r.uint(2)):
            r.uint(index_size)
            extents.append((base + r.uint(offset_size), r.uint(length_size)))
        items[item_id] = (method, extents)
    return items


def _iinf(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """item id -> item type (b"Exif", b"hvc1", b"av01", b"grid", ...)."""
    version = data[start] if start < end else 0
    pos = start + 4 + (2 if version == 0 else 4)
    types: dict[int, bytes] = {}
    for kind, body, _ in _boxes(data, pos, end):
        if kind != b"infe" or body + 4 > end:
            continue
        infe_version = data[body]
        if infe_version < 2:
            continue
        id_size = 2 if infe_version == 2 else 4
        item_id = int.from_bytes(data[body + 4 : body + 4 + id_size], "big")
        type_at = body + 4 + id_size + 2
        types[item_id] = data[type_at : type_at + 4]
    return types


def _properties(
    data: bytes, start: int, end: int
) -> tuple[list[tuple[bytes, int, int]], dict[int, list[int]]]:
    """The ipco property boxes and the ipma map item id -> property indexes (1-based)."""
    props: list[tuple[bytes, int, int]] = []
    assoc: dict[int, list[int]] = {}
    for kind, body, box_end in _boxes(data, start, end):
        if kind == b"ipco":
            props = list(_boxes(data, body, box_end))
        elif kind == b"ipma":
            r = _Bits(data, body)
            version, flags = r.uint(1), r.uint(3)
            for _ in range(min(r.uint(4), MAX_STEPS)):
                item_id = r.uint(2 if version < 1 else 4)
                indexes = []
                for _ in range(r.uint(1)):
                    value = r.uint(2 if flags & 1 else 1)
                    indexes.append(value & (0x7FFF if flags & 1 else 0x7F))
                assoc[item_id] = indexes
    return props, assoc


def isobmff(src: Source) -> Found:
    """HEIC/HEIF/AVIF: the meta box says where the Exif item lies and how big the primary image is."""
    head = src.get(0, 32)
    ftyp_size = struct.unpack(">I", head[:4])[0]
    brand = head[8:12]
    if brand not in _BRANDS:
        ftyp = src.get(16, max(0, min(ftyp_size, 4096) - 16))
        compatible = [ftyp[i : i + 4] for i in range(0, len(ftyp) - 3, 4)]
        brand = next((b for b in compatible if b in _BRANDS), brand)
    if brand not in _BRANDS:
        raise FormatError(f"ISO media file of brand {brand.decode('latin-1')!r} is not HEIF or AVIF")
    found = Found(_BRANDS[brand])
    pos = ftyp_size
    meta = None
    for _ in range(64):  # meta is one of the first top-level boxes
        box = src.get(pos, 16)
        if len(box) < 8:
            break
        size, kind = struct.unpack(">I4s", box[:8])
        if size == 1 and len(box) == 16:
            size = struct.unpack(">Q", box[8:16])[0]
        if kind == b"meta":
            meta = src.get(pos, size)
            break
        if size < 8:
            break
        pos += size
    if meta is None:
        raise FormatError(f"{found.format} file without a meta box")
    body = 12  # box header + full-box version/flags
    primary, types, locations, idat = None, {}, {}, None
    props: list[tuple[bytes, int, int]] = []
    assoc: dict[int, list[int]] = {}
    for kind, start, end in _boxes(meta, body):
        if kind == b"pitm":
            primary = int.from_bytes(meta[start + 4 : start + (6 if meta[start] == 0 else 8)], "big")
        elif kind == b"iinf":
            types = _iinf(meta, start, end)
        elif kind == b"iloc":
            locations = _iloc(meta, start)
        elif kind == b"iprp":
            props, assoc = _properties(meta, start, end)
        elif kind == b"idat":
            idat = (start, end)
    for index in assoc.get(primary, []):
        kind, start, _ = props[index - 1] if 0 < index <= len(props) else (b"", 0, 0)
        if kind == b"ispe" and found.width is None:
            found.width, found.height = struct.unpack(">II", meta[start + 4 : start + 12])
        elif kind == b"clap":  # clean aperture: the encoder padded the coded size
            wn, wd, hn, hd = struct.unpack(">IIII", meta[start : start + 16])
            if wd and hd and wn // wd > 0 and hn // hd > 0:
                found.width, found.height = wn // wd, hn // hd
    exif_item = next((i for i, t in types.items() if t == b"Exif"), None)
    if exif_item is not None and exif_item in locations:
        method, extents = locations[exif_item]
        if method == 1 and idat:
            data = b"".join(meta[idat[0] + off : idat[0] + off + n] for off, n in extents)
        else:
            data = b"".join(src.get(off, n) for off, n in extents)
        if len(data) >= 4:
            skip = struct.unpack(">I", data[:4])[0]
            found.exif = _strip_exif_prefix(data[4 + skip :] if 4 + skip < len(data) else data[4:])
    return found


READERS = {"JPEG": jpeg, "PNG": png, "TIFF": tiff, "WEBP": webp, "ISOBMFF": isobmff}
