"""The docs' measured figures, generated from the benchmarks' JSON (bench/results/*.json): the README's
"Measured" and labelling-cost tables, docs/benchmarks.md's targets and each bench's figures, and
docs/own-model.md's cost table. Each sits between `<!-- figures: NAME ... -->` and `<!-- /figures -->`;
`make figures` rewrites them, and tests/bench/test_figures.py fails when one differs from what the JSON says.

Usage: python bench/figures.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import deployed_default  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
END = "<!-- /figures -->"


def load() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}


def _v(doc: dict, key: str) -> object:
    return doc["figures"][key]["value"]


def _pct(value: object) -> str:
    return f"{float(value) * 100:.1f} %"


# README rows: (what, bench, how the figure reads); a bench without results is left out, saying so
ROWS: list[tuple[str, str, Callable[[dict], str]]] = [
    (
        "EXIF, 171 real camera files, whole processes, the same tags",
        "exif",
        lambda d: f"{_v(d, 'speed_up')}× faster than `exiftool -fast2`; `--help` in {_v(d, 'help_ms')} ms",
    ),
    (
        "Share of an emulated 20 TPS Rekognition quota used, 1 / 4 / 16 children (steady state)",
        "worker",
        lambda d: (
            " / ".join(_pct(_v(d, f"quota_share_steady_{c}")) for c in (1, 4, 16))
            + "; throttled "
            + " / ".join(_pct(_v(d, f"throttled_share_{c}")) for c in (1, 4, 16))
            + f"; two jobs at once {_pct(_v(d, 'two_jobs_throttled_share'))} throttled"
        ),
    ),
    (
        "Worker CPU per image done (instant backends)",
        "worker",
        lambda d: (
            f"{_v(d, 'cpu_ms_per_image_logic')} ms of its own logic; "
            f"{_v(d, 'cpu_ms_per_image_boto3')} ms with boto3"
        ),
    ),
    (
        "Upload to indexed, fast path",
        "latency",
        lambda d: (
            f"p50 {_v(d, 'upload_to_indexed_p50_s')} s, max {_v(d, 'upload_to_indexed_max_s')} s of "
            f"{d['settings']['uploads']}: the handler in-process against the emulator. On AWS, estimated "
            f"{_cell(_v(d, 'aws_estimate_warm_s'))} s warm, {_cell(_v(d, 'aws_estimate_cold_s'))} s after idle: "
            f"+ {_v(d, 'batching_window_s'):g} s batching window (deployed default), "
            f"{_cell(_v(d, 'delivery_s'))} s delivery and {_cell(_v(d, 'detect_labels_s'))} s `DetectLabels` "
            f"(reckoned); cold: {_cell(_v(d, 'runtime_start_s'))} s runtime start (reckoned) + "
            f"{_v(d, 'cold_imports_s')} s of our imports (measured)"
        ),
    ),
    (
        "Cost per million images, Rekognition labeler",
        "faults",
        lambda d: (
            f"${_v(d, 'total_usd_per_million'):,.2f}: ${_v(d, 'counted_usd_per_million'):,.2f} counted calls "
            f"per image done at list prices (`DetectLabels` $1,000) + ${_v(d, 'label_index_usd_per_million'):,.2f} "
            "label index (reckoned, 10 rows an image); a rerun "
            f"${_v(d, 'rerun_usd_per_million'):,.2f}"
        ),
    ),
    (
        "Inventory CSV, submitter path",
        "inventory",
        lambda d: f"{_v(d, 'rows_per_s'):,} rows/s; {_v(d, 'peak_rss_mb')} MB peak RSS (its own)",
    ),
    (
        "Search by meaning: one query's text encoding and our overhead, CLIP ViT-B/32-sized text tower, one vCPU",
        "query",
        lambda d: (
            f"p50 {_v(d, 'text_p50_ms')} ms, p95 {_v(d, 'text_p95_ms')} ms (the vector store's own time is AWS's)"
        ),
    ),
    (
        "Embeddings: CLIP ViT-B/32-sized image tower on one vCPU, labels from prompts, camera JPEGs read whole",
        "embed",
        lambda d: (
            f"{_v(d, 'images_per_s_per_vcpu')} images/s; ${_v(d, 'embedding_usd_per_million'):,.2f} per million "
            f"on Spot with every call counted and the vectors' PUT (${_v(d, 'total_usd_per_million'):,.2f} with "
            f"the label index reckoned); relabel {_v(d, 'relabel_vectors_per_s_per_vcpu')} stored vectors/s "
            f"reading no image; fast path {_v(d, 'fast_path_warm_s')} s warm, {_v(d, 'fast_path_cold_s')} s "
            "cold (in-process handler, one CPU); GPU not measured"
        ),
    ),
    (
        "Your own model: ResNet-50 (ONNX) on one vCPU, camera JPEGs read whole",
        "onnx",
        lambda d: (
            f"{_v(d, 'images_per_s_per_vcpu')} images/s; ${_v(d, 'total_usd_per_million'):,.2f} per million "
            f"on Spot, the label index reckoned as above (compute and counted calls: "
            f"{_pct(_v(d, 'share_of_rekognition'))} of `DetectLabels`' price)"
        ),
    ),
]


def readme_table(results: dict[str, dict]) -> str:
    lines = ["| | |", "|---|---|"]
    for what, bench, render in ROWS:
        doc = results.get(bench)
        lines.append(
            f"| {what} | {render(doc) if doc else f'not measured (no bench/results/{bench}.json)'} |"
        )
    dates = sorted({d["measured_at"][:10] for d in results.values()})
    lines.append("")
    lines.append(
        f"Measured on a {next(iter(results.values()))['machine']['cpus']}-core machine "
        f"({', '.join(dates)}), with the deployed defaults; each bench's targets and the rest in "
        "[benchmarks](docs/benchmarks.md)."
        if results
        else "Nothing measured yet: run `make bench`."
    )
    return "\n".join(lines)


def benchmarks_table(results: dict[str, dict]) -> str:
    lines = ["| bench | target | measured | met |", "|---|---|---:|---|"]
    for name, doc in results.items():
        for t in doc["targets"]:
            lines.append(
                f"| {name} ({doc['commit']}, {doc['measured_at'][:10]}) | {t['name']} {t['op']} {t['bound']} "
                f"| {t['value']} | {'yes' if t['met'] else '**no**'} |"
            )
    return "\n".join(lines)


def start(name: str) -> str:
    return f"<!-- figures: {name}; generated by `make figures` from bench/results/*.json; do not edit -->"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def labels_table(results: dict[str, dict]) -> str:
    """Rekognition against the onnx labeler per million images, the label index reckoned alike for both."""
    faults, onnx = results.get("faults"), results.get("onnx")
    if not faults or not onnx:
        return "Not measured: run `make bench` (bench/results/faults.json and onnx.json)."
    by_call = _v(faults, "counted_usd_by_call")
    labelling = by_call["Rekognition.DetectLabels"]
    rek_other = round(_v(faults, "counted_usd_per_million") - labelling, 2)
    rek_total, onnx_total = _v(faults, "total_usd_per_million"), _v(onnx, "total_usd_per_million")
    rate = _v(onnx, "images_per_s_per_vcpu")
    rows = {faults["settings"]["label_index_rows_reckoned"], onnx["settings"]["label_index_rows_reckoned"]}
    if len(rows) != 1:
        raise SystemExit(f"the label index is reckoned at different rows an image: {sorted(rows)}")
    quota, vcpus = deployed_default("rekognition_tps_quota"), deployed_default("max_vcpus")
    days_rek, days_onnx = 100e6 / quota / 86400, 100e6 / (rate * vcpus) / 86400
    return "\n".join(
        [
            "| Per 1,000,000 images | Rekognition `DetectLabels` | Your ResNet-50 (ONNX) on CPU Spot |",
            "|---|---:|---:|",
            f"| Labelling (counted) | {_money(labelling)}: one call an image at the list price | "
            f"{_money(_v(onnx, 'compute_usd_per_million'))}: {_v(onnx, 'vcpu_hours_per_million')} vCPU-hours "
            f"({rate} images/s per vCPU) at ${onnx['settings']['spot_usd_per_vcpu_hour']} |",
            f"| The worker's other AWS calls (counted: S3 reads, the result, the limiter) | {_money(rek_other)} "
            f"| {_money(round(_v(onnx, 'counted_usd_per_million'), 2))} |",
            f"| Label index (reckoned, not counted: {rows.pop()} rows an image for both; the emulator answers 1 "
            f"label) | {_money(_v(faults, 'label_index_usd_per_million'))} "
            f"| {_money(_v(onnx, 'label_index_usd_per_million'))} |",
            f"| **Total** | **{_money(rek_total)}** | **{_money(onnx_total)} "
            f"({_pct(onnx_total / rek_total)} of Rekognition's)** |",
            f"| 100 M images | {days_rek:.0f} days at the default {quota:.0f} TPS quota | no quota: "
            f"{days_onnx:.1f} days on the default {vcpus:.0f} vCPUs |",
            "",
            f"Measured by `bench/faults_bench.py` ({faults['measured_at'][:10]}) and `bench/onnx_bench.py` "
            f"({onnx['measured_at'][:10]}) on a {onnx['machine']['cpus']}-core machine; the onnx labeler's "
            f"compute and counted calls are {_pct(_v(onnx, 'share_of_rekognition'))} of `DetectLabels`' price "
            "(target ≤ 1 %).",
        ]
    )


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "–".join(str(v) for v in value)
    return str(value)


def bench_table(doc: dict) -> str:
    """Every figure one bench wrote, with what it includes, and where and when it was measured."""
    lines = ["| figure | measured | what it is |", "|---|---:|---|"]
    lines += [f"| {k} | {_cell(f['value'])} | {f['what']} |" for k, f in doc["figures"].items()]
    settings = ", ".join(f"{k} {_cell(v)}" for k, v in doc["settings"].items())
    lines += [
        "",
        f"{doc['measured_at'][:10]}, commit {doc['commit']}, {doc['machine']['cpus']} cores, "
        f"Python {doc['machine'].get('python', '?')}; settings: {settings}.",
    ]
    return "\n".join(lines)


def blocks(results: dict[str, dict]) -> dict[tuple[str, str], str]:
    """Each generated block's text, by (file, block name)."""
    out = {
        ("README.md", "measured"): readme_table(results),
        ("README.md", "labels"): labels_table(results),
        ("docs/own-model.md", "labels"): labels_table(results),
        ("docs/benchmarks.md", "targets"): benchmarks_table(results),
    }
    for name, doc in results.items():
        out["docs/benchmarks.md", name] = bench_table(doc)
    return out


def render(path: Path, parts: dict[str, str]) -> str:
    """The file's text with each named block replaced; a block the file lacks, or one it has that is not
    generated, is an error."""
    text = path.read_text()
    for name, body in parts.items():
        head, found, rest = text.partition(start(name))
        if not found:
            raise SystemExit(f"{path.relative_to(ROOT)} has no {start(name)!r} block")
        _, _, tail = rest.partition(END)
        text = f"{head}{start(name)}\n{body}\n{END}{tail}"
    return text


def expected() -> dict[Path, str]:
    by_file: dict[str, dict[str, str]] = {}
    for (file, name), body in blocks(load()).items():
        by_file.setdefault(file, {})[name] = body
    return {ROOT / file: render(ROOT / file, parts) for file, parts in by_file.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a doc differs from the JSON")
    args = parser.parse_args()
    stale = []
    for path, text in expected().items():
        if path.read_text() != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(text)
    if args.check and stale:
        print(f"differ from bench/results: {', '.join(stale)} (run make figures)")
        return 1
    print("figures " + ("checked" if args.check else f"written: {', '.join(stale) or 'nothing changed'}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
