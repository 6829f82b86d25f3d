"""The docs' figures are the benchmarks' JSON, rendered: never typed by hand."""

from __future__ import annotations

import json

from bench import figures


def test_the_readme_and_the_benchmarks_page_show_what_the_bench_results_say():
    # given the committed bench/results/*.json / when the docs' figures are rendered from them
    # then the README and docs/benchmarks.md hold exactly that (run `make figures` after `make bench`)
    for path, text in figures.expected().items():
        assert path.read_text() == text, f"{path.name} differs from bench/results: run make figures"


def test_a_changed_result_changes_the_readme(tmp_path, monkeypatch):
    # given the EXIF bench's result, with its start-up time at 999 ms
    doc = {
        "bench": "exif",
        "measured_at": "2026-12-07T00:00:00Z",
        "commit": "abc",
        "machine": {"cpus": 2},
        "settings": {},
        "figures": {"speed_up": {"value": 16.5, "what": "x"}, "help_ms": {"value": 999, "what": "y"}},
        "targets": [],
    }
    (tmp_path / "exif.json").write_text(json.dumps(doc))
    monkeypatch.setattr(figures, "RESULTS", tmp_path)
    # when rendered / then the README's row shows it, and a bench without results says so
    table = figures.readme_table(figures.load())
    assert "16.5× faster than `exiftool -fast2`; `--help` in 999 ms" in table
    assert "not measured (no bench/results/worker.json)" in table
