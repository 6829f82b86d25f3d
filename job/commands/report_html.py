"""The HTML catalogue (`python -m job report --html`, the demo's report.html): one self-contained page, no
CDN, plain JS. A summary, a filter, sorting, a grid/table toggle, a map of the GPS points, and one card per
image with its upright preview (or why it has none)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

MAP_W, MAP_H = 720, 360
TOP = 10  # labels and cameras in the summary

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}.sub{color:#666;margin:0 0 1em}
.note{background:#fff6d5;padding:.6em 1em;border-radius:4px}
.summary{display:flex;flex-wrap:wrap;gap:.5em 2em;margin:1em 0}.summary div{max-width:40em}
.controls{display:flex;gap:.6em;align-items:center;margin:1em 0;position:sticky;top:0;background:#fafafa;padding:.4em 0}
#filter{flex:1;max-width:30em;padding:.4em}
svg.map{width:100%;max-width:720px;background:#dde8f0;border-radius:4px}
svg.map circle{fill:#d33;stroke:#fff;stroke-width:1}
#cards.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:1em}
#cards.table .card{display:grid;grid-template-columns:170px 1fr;gap:1em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em;overflow:hidden}
.card[hidden]{display:none!important}
.preview{width:100%;max-width:320px;height:160px;object-fit:contain;background:#eee;display:block}
.nopreview{height:160px;display:flex;align-items:center;justify-content:center;text-align:center;
 background:#eee;color:#777;font-size:.85em;padding:0 .5em}
.key{font-weight:600;word-break:break-all}.when{white-space:nowrap}.meta{color:#555;font-size:.9em}
.chip{display:inline-block;background:#eef;border-radius:3px;padding:0 .3em;margin:.1em;font-size:.85em}
.error{color:#b00}.deleted{color:#888;text-decoration:line-through}
"""

SCRIPT = """
const cards=[...document.querySelectorAll('#cards .card')],box=document.getElementById('cards');
const filter=document.getElementById('filter'),sort=document.getElementById('sort');
function apply(){const words=filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
 let shown=0;for(const c of cards){const ok=words.every(w=>c.dataset.search.includes(w));
 c.hidden=!ok;if(ok)shown++}document.getElementById('shown').textContent=shown}
function order(){const by=sort.value;const key=c=>by==='key'?c.dataset.key:
 by==='confidence'?-parseFloat(c.dataset.confidence||0):(c.dataset.taken?'0'+c.dataset.taken:'1');
 cards.sort((a,b)=>{const x=key(a),y=key(b);return x<y?-1:x>y?1:0});
 if(by==='taken'){const dated=cards.filter(c=>c.dataset.taken).reverse();
  cards.splice(0,dated.length,...dated)}for(const c of cards)box.appendChild(c)}
filter.addEventListener('input',apply);sort.addEventListener('change',order);
document.getElementById('view').addEventListener('click',e=>{const grid=box.className==='grid';
 box.className=grid?'table':'grid';e.target.textContent=grid?'Grid':'Table'});
order();
const q=new URLSearchParams(location.hash.slice(1)).get('q');
if(q){filter.value=q;filter.dispatchEvent(new Event('input'))}
"""


def camera(exif: Mapping[str, Any]) -> str:
    """Make and model without the make twice ("Canon" + "Canon EOS R5" is "Canon EOS R5")."""
    make, model = str(exif.get("make") or "").strip(), str(exif.get("model") or "").strip()
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(part for part in (make, model) if part)


def exposure(exif: Mapping[str, Any]) -> str:
    """As photographers write it: 1/250 s · f/2.8 · ISO 200 · 35 mm."""
    parts = []
    seconds = exif.get("exposure_time")
    if seconds:
        seconds = float(seconds)
        parts.append(f"{seconds:g} s" if seconds >= 1 else f"1/{round(1 / seconds)} s")
    if exif.get("f_number"):
        parts.append(f"f/{float(exif['f_number']):g}")
    if exif.get("iso"):
        parts.append(f"ISO {int(exif['iso'])}")
    if exif.get("focal_length"):
        parts.append(f"{float(exif['focal_length']):g} mm")
    return " · ".join(parts)


def taken(exif: Mapping[str, Any]) -> str:
    """`2024-06-21 09:15` from the ISO time taken; empty when unknown."""
    value = str(exif.get("datetime_original") or "")
    return value[:16].replace("T", " ") if len(value) >= 16 else ""


def osm(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=12/{lat:.5f}/{lon:.5f}"


def _gps(exif: Mapping[str, Any]) -> tuple[float, float] | None:
    gps = exif.get("gps") or {}
    if gps.get("latitude") is None or gps.get("longitude") is None:
        return None
    return float(gps["latitude"]), float(gps["longitude"])


def _labels(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(item.get("labels") or ()), *(item.get("custom_labels") or ())]


def summary(items: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What the page says first: counts, errors by class, top labels, cameras, the span of time taken."""
    status = Counter(str(i.get("status")) for i in items)
    errors = Counter(str(i.get("error_class")) for i in items if i.get("status") == "error")
    labels = Counter(str(lb.get("name")) for i in items for lb in _labels(i))
    cameras = Counter(name for i in items if (name := camera(i.get("exif") or {})))
    times = sorted(t for i in items if (t := taken(i.get("exif") or {})))
    return {
        "images": len(items),
        "status": dict(status),
        "errors": dict(errors.most_common()),
        "labels": labels.most_common(TOP),
        "cameras": cameras.most_common(TOP),
        "taken": (times[0], times[-1]) if times else None,
    }


def _summary_html(s: Mapping[str, Any]) -> str:
    st = s["status"]
    errors = ", ".join(f"{html.escape(k)} {n}" for k, n in s["errors"].items())
    counts = (
        f"<b>{s['images']}</b> images · <b>{st.get('done', 0)}</b> done · <b>{st.get('error', 0)}</b> errors"
        + (f" ({errors})" if errors else "")
        + f" · <b>{st.get('deleted', 0)}</b> deleted"
    )
    labels = ", ".join(f"{html.escape(k)} {n}" for k, n in s["labels"]) or "—"
    cameras = ", ".join(f"{html.escape(k)} {n}" for k, n in s["cameras"]) or "—"
    span = f"{s['taken'][0]} to {s['taken'][1]}" if s["taken"] else "—"
    return (
        f'<section class="summary"><div>{counts}</div><div>Top labels: {labels}</div>'
        f"<div>Cameras: {cameras}</div><div>Taken: <span class='when'>{html.escape(span)}</span></div></section>"
    )


def map_svg(items: Iterable[Mapping[str, Any]]) -> str:
    """The GPS points on a plain equirectangular frame (no tiles, nothing fetched); each links to OSM."""
    lines = "".join(
        f'<line x1="0" y1="{y}" x2="{MAP_W}" y2="{y}" stroke="#fff"/>' for y in range(0, MAP_H + 1, 60)
    ) + "".join(
        f'<line x1="{x}" y1="0" x2="{x}" y2="{MAP_H}" stroke="#fff"/>' for x in range(0, MAP_W + 1, 60)
    )
    points = []
    for item in items:
        where = _gps(item.get("exif") or {})
        if where is None or item.get("status") == "deleted":
            continue
        lat, lon = where
        x, y = (lon + 180) / 360 * MAP_W, (90 - lat) / 180 * MAP_H
        points.append(
            f'<a href="{html.escape(osm(lat, lon))}"><circle cx="{x:.1f}" cy="{y:.1f}" r="5">'
            f"<title>{html.escape(str(item.get('key')))} ({lat:.4f}, {lon:.4f})</title></circle></a>"
        )
    return (
        f'<svg class="map" viewBox="0 0 {MAP_W} {MAP_H}" role="img" aria-label="where the photos were taken">'
        f"{lines}{''.join(points)}</svg>"
    )


def _card(item: Mapping[str, Any], src: str | None, reason: str) -> str:
    exif = item.get("exif") or {}
    key, status = str(item.get("key")), str(item.get("status") or "?")
    labels = _labels(item)
    if status == "deleted":
        picture, outcome = '<div class="nopreview">deleted</div>', '<span class="deleted">deleted</span>'
    else:
        picture = (
            f'<img class="preview" src="{html.escape(src)}" alt="{html.escape(key)}" loading="lazy">'
            if src
            else f'<div class="nopreview">{html.escape(reason)}</div>'
        )
        outcome = (
            f'<span class="error">error: {html.escape(str(item.get("error_class")))}</span>'
            f"<div class='meta'>{html.escape(str(item.get('error_message') or ''))[:300]}</div>"
            if status == "error"
            else ""
        )
    where = _gps(exif)
    texts = [str(t.get("text") if isinstance(t, Mapping) else t) for t in item.get("text") or ()]
    made_by, shot = camera(exif), exposure(exif)
    search = " ".join([key, made_by, *(str(lb.get("name")) for lb in labels), *texts, status]).lower()
    confidence = max((float(lb.get("confidence") or 0) for lb in labels), default=0.0)
    when = taken(exif)
    chips = "".join(
        f'<span class="chip">{html.escape(str(lb.get("name")))} {float(lb.get("confidence") or 0):.0f}%</span>'
        for lb in labels[:8]
    )
    score = item.get("score")  # a search by meaning's: how close to what was asked (1 - cosine distance)
    rows = [
        f'<div class="key">{html.escape(key)}</div>',
        f'<div class="meta score">score {float(score):.3f}</div>' if score is not None else "",
        outcome,
        f'<div class="meta">{html.escape(made_by)}</div>' if made_by else "",
        f'<div class="meta when">{html.escape(when)}</div>' if when else "",
        f'<div class="meta">{html.escape(shot)}</div>' if shot else "",
        f"<div>{chips}</div>" if chips and status != "deleted" else "",
        f'<div class="meta">“{html.escape(texts[0][:80])}”</div>' if texts and status != "deleted" else "",
        f'<div class="meta"><a href="{html.escape(osm(*where))}">{where[0]:.4f}, {where[1]:.4f}</a></div>'
        if where and status != "deleted"
        else "",
    ]
    return (
        f'<article class="card" data-search="{html.escape(search)}" data-key="{html.escape(key)}" '
        f'data-taken="{html.escape(when)}" data-confidence="{confidence:.1f}" data-status="{html.escape(status)}">'
        f"{picture}<div>{''.join(rows)}</div></article>"
    )


def render(
    items: Iterable[Mapping[str, Any]],
    previews: Mapping[str, str],
    title: str,
    note: str = "",
    reasons: Mapping[str, str] | None = None,
    skipped: Mapping[str, str] | None = None,
) -> str:
    """The page: `previews` maps a key to its preview's src (a data: URI or a link), `reasons` says why
    an image has none, `skipped` lists files that are not images (the demo's folder) with the reason."""
    items = list(items)
    reasons = reasons or {}
    cards = "".join(
        _card(i, previews.get(str(i.get("key"))), reasons.get(str(i.get("key")), "no preview")) for i in items
    )
    skipped_html = (
        "<details><summary>"
        f"{len(skipped)} files skipped (not images)</summary><ul>"
        + "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in sorted(skipped.items()))
        + "</ul></details>"
        if skipped
        else ""
    )
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    head, _, sub = title.partition("\n")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(head)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(head)}</h1><p class='sub'>{html.escape(sub)}</p>{note_html}"
        f"{_summary_html(summary(items))}{map_svg(items)}{skipped_html}"
        "<div class='controls'><input id='filter' type='search' placeholder='filter: label, camera, text, key'>"
        "<label>sort <select id='sort'><option value='taken'>taken at</option>"
        "<option value='confidence'>confidence</option><option value='key'>key</option></select></label>"
        "<button id='view' type='button'>Table</button>"
        f"<span><span id='shown'>{len(items)}</span> shown</span></div>"
        f"<div id='cards' class='grid'>{cards}</div>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
