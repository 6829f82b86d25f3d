"""The benchmarks' one way to record figures and enforce targets (bench/results.py)."""

from __future__ import annotations

import json

from bench import results


def test_a_missed_target_fails_the_bench_and_everything_is_written(tmp_path, monkeypatch, capsys):
    # given a bench that measured two figures, met one target and missed another
    monkeypatch.setattr(results, "RESULTS", tmp_path / "bench" / "results")
    report = results.Report("demo", {"files": 3})
    report.figure("files_per_s", 120, "whole process")
    assert report.target("files per second", 120, ">=", 100)
    assert not report.target("start-up ms", 180, "<=", 150)
    # when it finishes / then it exits 1 naming the missed target, and the JSON holds every figure and target
    assert report.finish() == 1
    assert "FAILED: missed start-up ms" in capsys.readouterr().out
    doc = json.loads((tmp_path / "bench" / "results" / "demo.json").read_text())
    assert doc["figures"]["files_per_s"] == {"value": 120, "what": "whole process"}
    assert [(t["name"], t["met"]) for t in doc["targets"]] == [
        ("files per second", True),
        ("start-up ms", False),
    ]
    assert doc["settings"] == {"files": 3} and doc["machine"]["cpus"] and doc["commit"]


def test_a_target_that_could_not_be_measured_is_missed():
    # given a comparison that could not run (exiftool missing) / then its target is not met
    report = results.Report("demo", {})
    assert report.target("speed-up", None, ">=", 15) is False and report.missed == ["speed-up"]
