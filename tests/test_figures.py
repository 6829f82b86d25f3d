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
    # given the results with one figure changed
    for source in figures.RESULTS.glob("*.json"):
        (tmp_path / source.name).write_text(source.read_text())
    exif = json.loads((tmp_path / "exif.json").read_text())
    exif["figures"]["help_ms"]["value"] = 999
    (tmp_path / "exif.json").write_text(json.dumps(exif))
    monkeypatch.setattr(figures, "RESULTS", tmp_path)
    # when rendered / then the README's row shows it
    assert "`--help` in 999 ms" in figures.readme_table(figures.load())
