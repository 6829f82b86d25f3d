"""Upload-to-indexed latency on the event path, measured through the demo's event step.

Usage: python bench/latency_bench.py [--resources auto|terraform|setup]
Runs `make demo` in this process (resources by Terraform when it is installed, so the submitter's
environment is the one Terraform gives the Lambda: fast path on, at most 20 images), then reads the
demo's timings: ten uploads made one at a time, each timed from its PUT until its result is in the
table (S3 -> SQS -> the submitter's handler -> the table). Target: p50 <= 3 s in the emulator.
The figure is the handler's, called in-process: no Lambda invocation, no event source mapping, no batching
window, no cold start, canned Rekognition; with ten samples a p95 would be the maximum, so the maximum is
shown as such. Exits 1 when the demo fails or a target is missed (an upload sent to a Batch job instead of
the fast path misses its own). Writes bench/results/latency.json. What AWS adds (batching window, polling, cold starts, Rekognition's own latency) is
in docs/benchmarks.md, not measurable here.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Report  # noqa: E402
from job.demo import pipeline  # noqa: E402

TARGET_P50_S = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", default="auto", choices=("auto", "terraform", "setup"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out_dir:
        log = io.StringIO()
        outcome = pipeline.run_demo(pipeline.Options(out_dir=Path(out_dir), resources=args.resources), log)
    times = outcome.upload_to_indexed_s
    if outcome.exit_code != 0 or len(times) != pipeline.EVENT_UPLOADS:
        print(log.getvalue())
        print(f"FAILED: the demo did not finish its uploads ({outcome.failures})")
        return 1
    p50 = pipeline.percentile(times, 0.5)
    what = (
        f"the submitter's handler called in this process by the demo, against the emulator "
        f"({len(times)} uploads, resources by {outcome.resources}, notifications delivered by "
        f"{outcome.events_delivered_by}): no Lambda invocation, no event source mapping polling, no batching "
        "window, no cold start, canned Rekognition answers"
    )
    print(f"upload to indexed, {what}: p50 {p50:.2f} s, max {max(times):.2f} s (of {len(times)}: no p95)")
    report = Report("latency", {"uploads": len(times), "resources": outcome.resources})
    report.figure("upload_to_indexed_p50_s", round(p50, 2), what)
    report.figure("upload_to_indexed_max_s", round(max(times), 2), what)
    report.target(
        "upload to indexed p50 s (handler, in-process, emulator)", round(p50, 2), "<=", TARGET_P50_S
    )
    report.target("uploads labelled by the fast path, not Batch", outcome.event_jobs, "==", 0)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
