"""Results as one self-contained HTML page: thumbnails are embedded, because the emulator's (or a
bucket's presigned) URLs are not reachable from the browser that opens the report later."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image, ImageOps

THUMB_PX = 160
STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.5em;vertical-align:top;text-align:left}
img{max-width:160px;max-height:160px}.error{color:#b00}.deleted{color:#888;text-decoration:line-through}
.note{background:#fff6d5;padding:.6em 1em;border-radius:4px}small{color:#666}"""


def thumbnail(data: bytes, px: int = THUMB_PX) -> str | None:
    """A small JPEG as a data: URI, oriented by its EXIF; None when the bytes do not decode."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - HEIC thumbnails are then simply absent
        pass
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (px * 2, px * 2))
            small = ImageOps.exif_transpose(img).convert("RGB")
            small.thumbnail((px, px))
            out = io.BytesIO()
            small.save(out, "JPEG", quality=70)
    except Exception:  # noqa: BLE001 - a corrupt image has no thumbnail, the row still shows its error
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def map_link(gps: Mapping[str, Any] | None) -> str:
    if not gps or gps.get("latitude") is None or gps.get("longitude") is None:
        return "—"
    lat, lon = float(gps["latitude"]), float(gps["longitude"])
    url = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=12/{lat:.5f}/{lon:.5f}"
    return f'<a href="{html.escape(url)}">{lat:.4f}, {lon:.4f}</a>'


def _exif_lines(exif: Mapping[str, Any]) -> str:
    fields = ("format", "width", "height", "orientation", "lens_model", "exposure_time", "f_number", "iso")
    parts = [f"{name}: {html.escape(str(exif[name]))}" for name in fields if exif.get(name) is not None]
    return "<br>".join(parts)


def _row(item: Mapping[str, Any], thumb: str | None) -> str:
    exif = item.get("exif") or {}
    status = item.get("status") or "?"
    if status == "error":
        outcome = f'<span class="error">error: {html.escape(str(item.get("error_class")))}</span><br>'
        outcome += f"<small>{html.escape(str(item.get('error_message') or ''))[:300]}</small>"
    else:
        outcome = f'<span class="{html.escape(status)}">{html.escape(status)}</span>'
    labels = ", ".join(
        f"{html.escape(str(lb.get('name')))} ({float(lb.get('confidence') or 0):.0f}%)"
        for lb in (item.get("labels") or [])[:8]
    )
    camera = " ".join(str(exif[k]) for k in ("make", "model") if exif.get(k))
    image = f'<img src="{thumb}" alt="">' if thumb else "<small>no preview</small>"
    return (
        f"<tr><td>{image}</td><td><b>{html.escape(str(item.get('key')))}</b><br>{outcome}</td>"
        f"<td>{html.escape(camera) or '—'}<br><small>{_exif_lines(exif)}</small></td>"
        f"<td>{html.escape(str(exif.get('datetime_original') or '—'))}</td>"
        f"<td>{map_link(exif.get('gps'))}</td><td>{labels or '—'}</td></tr>"
    )


def render(
    items: Iterable[Mapping[str, Any]],
    images: Mapping[str, bytes],
    title: str,
    note: str = "",
    urls: Mapping[str, str] | None = None,
) -> str:
    """The page: one row per result item; thumbnails from `images` (key -> bytes, embedded) or `urls`
    (key -> a presigned GET URL)."""
    urls = urls or {}

    def picture(key: str | None) -> str | None:
        if key in images:
            return thumbnail(images[key])
        return urls.get(key or "")

    rows = [_row(item, picture(item.get("key"))) for item in items]
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{note_html}"
        "<table><tr><th>Image</th><th>Key / status</th><th>Camera / EXIF</th><th>Taken at</th>"
        f"<th>GPS</th><th>Labels</th></tr>{''.join(rows)}</table></body></html>\n"
    )
