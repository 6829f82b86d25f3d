"""What the benchmarks compute from what they measured: a broken reader, a failed run or a cost with a
different assumption must show, not be averaged or priced away."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench import exif_bench, faults_bench, latency_bench, onnx_bench, worker_bench


def test_an_exif_run_whose_every_answer_is_an_error_fails_the_bench(tmp_path):
    # given two files exiftool read EXIF from, and bucketlens answering both with an error record
    truth = [{"path": f"{n}.jpg", "has_exif": True} for n in ("a", "b")]
    out = "".join(json.dumps({"path": str(tmp_path / e["path"]), "error": "x"}) + "\n" for e in truth)
    # when the output is checked / then the bench fails before any time counts
    with pytest.raises(exif_bench.Failed, match="errors where exiftool read EXIF"):
        exif_bench.check_output(out.encode(), truth, tmp_path)


def test_an_exif_run_that_leaves_a_file_out_fails_the_bench(tmp_path):
    # given two files and one line of output / when checked / then it fails, naming the count
    truth = [{"path": f"{n}.jpg", "has_exif": True} for n in ("a", "b")]
    out = json.dumps({"path": str(tmp_path / "a.jpg")}).encode()
    with pytest.raises(exif_bench.Failed, match="printed 1 lines for 2 files"):
        exif_bench.check_output(out, truth, tmp_path)


def test_repeated_worker_runs_report_the_worst_failure_not_the_median():
    # given three runs of a scenario, one of which failed a child and lost an image
    good = {"children": 16, "quota_share_steady": 0.93, "failed_images": 0, "exit_codes_nonzero": 0}
    runs = [good, {**good, "quota_share_steady": 0.91, "failed_images": 1, "exit_codes_nonzero": 1}, good]
    # when the runs are summarized
    summary = worker_bench._median(runs)
    # then the share is the median, and the failure is still there
    assert summary["quota_share_steady"] == 0.93
    assert (summary["failed_images"], summary["exit_codes_nonzero"], summary["runs"]) == (1, 1, 3)


def test_costs_are_per_image_done_and_the_label_index_is_reckoned_alike():
    # given the calls of a run that did 100 images, its label index holding 1 row an image (the emulator)
    counts = Counter({"Rekognition.DetectLabels": 100, "S3.GetObject": 100, "DynamoDB.BatchWriteItem": 100})
    # when priced
    table = faults_bench.cost_table(counts, 100, label_rows=100)
    # then DetectLabels is $1,000 per million images done, and the index is priced at the reckoned rows
    assert table["counted_usd"]["Rekognition.DetectLabels"] == 1000.0
    assert table["label_index_rows_reckoned"] == faults_bench.LABEL_ROWS_RECKONED == 10
    assert table["label_index_usd_reckoned"] == faults_bench.label_index_usd(10) == 12.5
    assert table["total_usd_per_million"] == round(table["counted_usd_per_million"] + 12.5, 2)
    # and a labeler that wrote 5 rows an image is priced the same for its index
    assert faults_bench.cost_table(counts, 100, label_rows=500)["label_index_usd_reckoned"] == 12.5
    # and the same calls over 50 images done cost twice as much per image
    assert faults_bench.cost_table(counts, 50, 100)["counted_usd"]["S3.GetObject"] == 0.8


def test_the_onnx_cost_prices_the_index_as_rekognitions_and_its_target_leaves_it_out():
    # given an onnx run: 10 images/s per vCPU, 1 s per model load, 2 GETs and 1 PutItem an image
    run = {
        "images_per_s_per_vcpu": 10.0,
        "model_load_s": 1.0,
        "images": 10,
        "label_rows": 50,
        "counts": Counter({"S3.GetObject": 20, "DynamoDB.PutItem": 10, "DynamoDB.BatchWriteItem": 10}),
    }
    # when priced at $0.02 a vCPU-hour
    priced = onnx_bench.cost(run, 0.02)
    # then compute is (27.8 + 0.3) vCPU-hours, the index is Rekognition's, and the share is of the rest
    assert priced["vcpu_hours_per_million"] == 28.1 and priced["compute_usd"] == 0.56
    assert priced["label_index_usd_reckoned"] == faults_bench.label_index_usd(10)
    own = round(priced["compute_usd"] + priced["counted_usd"], 2)
    assert priced["share_of_rekognition"] == round(own / 1000, 4)
    assert priced["onnx_total_usd_per_million"] == pytest.approx(own + 12.5)


def test_the_aws_latency_estimate_adds_every_part_to_the_measured_handler():
    # given a handler p50 of 0.1 s, a 1 s batching window and 0.4 s of our imports
    estimate = latency_bench.aws_estimate(0.1, 1.0, 0.4)
    # then warm is handler + window + delivery + DetectLabels, and cold adds the runtime's start and imports
    delivery, detect, start = (
        latency_bench.RECKONED_S[p] for p in ("delivery", "detect_labels", "runtime_start")
    )
    assert estimate["warm"] == [round(1.1 + delivery[i] + detect[i], 1) for i in (0, 1)]
    assert estimate["cold"] == [round(estimate["warm"][i] + start[i] + 0.4, 1) for i in (0, 1)]
