"""CloudWatch metrics as EMF lines: valid against the specification, deltas between flushes, and the
counts a real run's summary reports."""

from __future__ import annotations

import json

from job.core import metrics
from job.core.summary import Stats
from tests.job.core import emf_spec


def _totals(docs: list[dict], name: str) -> float:
    """A metric summed over the documents that carry it by deployment (the totals)."""
    return sum(
        d[name]
        for d in docs
        if name in d and ["Deployment"] in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    )


def test_a_flush_is_valid_emf_with_totals_operations_error_classes_and_latencies():
    # given a stats object with outcomes, calls, throttles, errors, limiter waits and 250 latencies
    stats = Stats()
    for _ in range(7):
        stats.tally("done")
    stats.tally("error:BadImage")
    stats.tally("error:EmptyFile")
    stats.tally("skipped_done")
    stats.call("rekognition.DetectLabels", 9)
    stats.call("rekognition.DetectText", 2)
    stats.throttled("DetectLabels")
    stats.throttled("PutItem")  # not Rekognition: not in its throttles
    stats.waited(0.25)
    stats.waited(0)
    stats.read_bytes(4096)
    for i in range(250):
        stats.latency(i / 1000)
    lines: list[str] = []
    # when flushed
    docs = metrics.Emitter("batch", "prod", write=lines.append, clock=lambda: 1_700_000_000.5).flush(stats)
    # then every line is one valid EMF document, in the bucketlens namespace, stamped in milliseconds
    assert [json.loads(line) for line in lines] == docs
    assert all(emf_spec.problems(d) == [] for d in docs)
    assert {d["_aws"]["Timestamp"] for d in docs} == {1_700_000_000_500}
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"bucketlens"}
    # and the totals are published by deployment and by deployment and path
    (totals,) = [d for d in docs if "ImagesDone" in d]
    assert totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Deployment"], ["Deployment", "Path"]]
    assert (totals["Deployment"], totals["Path"]) == ("prod", "batch")
    assert (totals["ImagesDone"], totals["ImagesErrored"], totals["ImagesSkipped"]) == (7, 2, 1)
    assert (totals["RekognitionCalls"], totals["RekognitionThrottles"], totals["BytesRead"]) == (11, 1, 4096)
    assert (totals["LimiterWaits"], totals["LimiterWaitTime"]) == (1, 0.25)
    # and Rekognition by operation, errors by class, and the latencies in documents of at most 100 values
    by_op = {
        d["Operation"]: (d["RekognitionCalls"], d["RekognitionThrottles"]) for d in docs if "Operation" in d
    }
    assert by_op == {"DetectLabels": (9, 1), "DetectText": (2, 0)}
    assert {d["ErrorClass"]: d["ImagesErrored"] for d in docs if "ErrorClass" in d} == {
        "BadImage": 1,
        "EmptyFile": 1,
    }
    latencies = [d["ImageLatency"] for d in docs if "ImageLatency" in d]
    assert [len(chunk) for chunk in latencies] == [100, 100, 50] and latencies[0][1] == 1.0


def test_flushes_carry_what_happened_since_the_last_one():
    # given a flush after two images
    stats, lines = Stats(), []
    emitter = metrics.Emitter("fast_path", "prod", write=lines.append)
    stats.tally("done")
    stats.tally("done")
    first = emitter.flush(stats)
    # when one more image is done / then the next flush counts that one only
    stats.tally("done")
    second = emitter.flush(stats)
    assert _totals(first, "ImagesDone") == 2 and _totals(second, "ImagesDone") == 1


def test_the_spec_check_catches_what_cloudwatch_would_drop():
    # given documents that break the specification / then the check names each fault
    good = metrics.document({"Deployment": "d"}, [["Deployment"]], {"ImagesDone": (1, "Count")}, 1)
    assert emf_spec.problems(good) == []
    assert emf_spec.problems({**good, "_aws": {**good["_aws"], "Timestamp": "now"}})
    wrong_unit = metrics.document({"Deployment": "d"}, [["Deployment"]], {"X": (1, "Images")}, 1)
    assert "unit 'Images'" in emf_spec.problems(wrong_unit)[0]
    too_many = metrics.document({"Deployment": "d"}, [["Deployment"]], {"X": (list(range(101)), "Count")}, 1)
    assert "1..100 numeric values" in emf_spec.problems(too_many)[0]
    no_dimension = metrics.document({}, [["Deployment"]], {"X": (1, "Count")}, 1)
    assert "dimension Deployment" in emf_spec.problems(no_dimension)[0]


def test_metrics_off_writes_nothing(monkeypatch):
    monkeypatch.setenv("BUCKETLENS_METRICS", "off")
    lines: list[str] = []
    stats = Stats()
    stats.tally("done")
    assert metrics.Emitter("batch", "prod", write=lines.append).flush(stats) == [] and lines == []
