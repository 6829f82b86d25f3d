"""Upload-to-indexed latency on the event path, measured through the demo's event step.

Usage: python bench/latency_bench.py [--resources auto|terraform|setup]
Runs `make demo` in this process (resources by Terraform when it is installed, so the submitter's
environment is the one Terraform gives the Lambda: fast path on, at most 20 images), then reads the
demo's timings: ten uploads made one at a time, each timed from its PUT until its result is in the
table (S3 -> SQS -> the submitter's handler -> the table). Target: p50 <= 3 s in the emulator.
Exits 1 when the demo fails, when an upload went to a Batch job instead of the fast path, or when the
target is missed. What AWS adds (batching window, polling, cold starts, Rekognition's own latency) is
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
    p50, p95 = pipeline.percentile(times, 0.5), pipeline.percentile(times, 0.95)
    print(
        f"upload to indexed ({len(times)} uploads, resources by {outcome.resources}, notifications "
        f"delivered by {outcome.events_delivered_by}): p50 {p50:.2f} s, p95 {p95:.2f} s, "
        f"max {max(times):.2f} s (target p50 <= {TARGET_P50_S:g} s)"
    )
    if outcome.event_jobs:
        print(f"FAILED: {outcome.event_jobs} upload batch(es) went to Batch instead of the fast path")
        return 1
    return 0 if p50 <= TARGET_P50_S else 1


if __name__ == "__main__":
    sys.exit(main())
