import threading

from job.core.summary import OUTCOMES, Stats, add_up, build_summary, summary_uri


def test_counters_from_many_threads_add_up():
    # given stats shared by 8 threads
    stats = Stats()

    def work() -> None:
        for _ in range(500):
            stats.saw()
            stats.outcome("done")
            stats.call("rekognition.DetectLabels")

    threads = [threading.Thread(target=work) for _ in range(8)]
    # when they all count
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    snap = stats.snapshot()
    # then nothing was lost
    assert snap["seen"] == 4000 and snap["finished"] == 4000
    assert snap["outcomes"]["done"] == 4000 and snap["rekognition_calls"] == 4000


def test_summary_has_every_outcome_and_the_exit_code():
    # given a run with one error and a throttle
    stats = Stats()
    stats.outcome("error", "BadImage")
    stats.throttled("DetectLabels")
    stats.read_bytes(123)
    # when summarized
    doc = build_summary(stats, {"job_id": "j", "index": 3}, {"kind": "prefix"}, 75, True)
    # then all outcome counters exist and the facts are carried
    assert set(OUTCOMES) <= set(doc["outcomes"])
    assert doc["errors_by_class"] == {"BadImage": 1}
    assert doc["throttles"] == 1 and doc["bytes_read"] == 123
    assert doc["exit_code"] == 75 and doc["stopped_by_signal"] is True
    assert (doc["job_id"], doc["index"]) == ("j", 3)


def test_summary_location_and_totals():
    # given/when/then: summaries live at <prefix>/<job id>/<index>.json and add up
    assert summary_uri("s3://r/runs/", "job-9", 4) == "s3://r/runs/job-9/4.json"
    total = add_up(
        [
            {"outcomes": {"done": 2, "error": 1}, "rekognition_calls": 2},
            {"outcomes": {"done": 3}, "bytes_read": 5},
        ]
    )
    assert (
        total["done"] == 5
        and total["error"] == 1
        and total["rekognition_calls"] == 2
        and total["bytes_read"] == 5
    )
