"""Fault and cost benchmark: peak RSS per worker thread count, a cost table from measured calls, and a
full-minute throttling storm.

Usage: python bench/faults_bench.py [--images N] [--threads 4,16,64] [--storm-seconds 60]

Part 1 runs one `python -m job run` child per thread count over N camera-sized JPEGs behind
tests/faults.py (Rekognition at 150 ms), and reads the child's own peak RSS with os.wait4.
Part 2 turns the per-operation calls the fault layer counted in part 1 into USD per 1,000,000 images at
published us-east-1 list prices (PRICES_AS_OF below); the first run and a rerun of the same shard are
priced separately, so the cost of idempotency shows. Part 3 throttles half of all DetectLabels calls for
a whole minute and reports how long every image took to finish and how many ended as errors.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.worker_bench import sample_jpeg  # noqa: E402
from job.commands import provision  # noqa: E402
from job.core import clients  # noqa: E402
from lambda_submitter.pricing import GROUP_2, PRICES_AS_OF, tiered_cost  # noqa: E402
from tests.faults import FaultServer  # noqa: E402

BUCKET, RESULTS = "bench-images", "bench-results"
# us-east-1 list prices, USD: S3 Standard requests; DynamoDB on-demand request units as of 2024-11-01
# (a write unit is 1 KB, a strongly consistent read unit 4 KB; a result item is 1-3 KB, priced as 1 here).
S3_GET_PER_1K = 0.0004
S3_PUT_PER_1K = 0.005
DDB_WRITE_PER_M = 0.625
DDB_READ_PER_M = 0.125
PRICE = {
    "S3.GetObject": S3_GET_PER_1K / 1000,
    "S3.HeadObject": S3_GET_PER_1K / 1000,
    "S3.ListObjectsV2": S3_PUT_PER_1K / 1000,  # LIST is billed at the PUT rate
    "S3.PutObject": S3_PUT_PER_1K / 1000,
    "DynamoDB.PutItem": DDB_WRITE_PER_M / 1e6,
    "DynamoDB.UpdateItem": DDB_WRITE_PER_M / 1e6,
    "DynamoDB.GetItem": DDB_READ_PER_M / 1e6,
    "DynamoDB.BatchGetItem": 100 * DDB_READ_PER_M / 1e6,  # up to 100 strongly consistent reads
    "DynamoDB.DescribeTable": 0.0,
}
REKOGNITION = ("Rekognition.DetectLabels", "Rekognition.DetectText")


def _env(server: FaultServer, job: str, workers: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_")}
    env.update(
        AWS_ENDPOINT_URL=server.url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_BATCH_JOB_ID=job,
        PYTHONPATH=str(ROOT),
        BUCKETLENS_TABLE=f"t-{job}",
        BUCKETLENS_WORKERS=str(workers),
        BUCKETLENS_RESULTS_URI=f"s3://{RESULTS}/runs",
        BUCKETLENS_PROGRESS_SECONDS="600",
    )
    return env


def _child(
    server: FaultServer, job: str, workers: int, timeout: float = 900, **env: str
) -> tuple[int, float, float]:
    """(exit code, peak RSS MB, wall s) of one child over the whole prefix."""
    cmd = [sys.executable, "-m", "job", "run", "--source", f"s3://{BUCKET}/imgs/"]
    start = time.monotonic()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, env={**_env(server, job, workers), **env}, cwd=ROOT, stderr=sink)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, time.monotonic() - start
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.05)


def _done(table: str) -> tuple[int, int]:
    done = errors = 0
    for page in clients.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            done += item["status"]["S"] == "done"
            errors += item["status"]["S"] == "error"
    return done, errors


def rss_by_threads(
    server: FaultServer, images: int, threads: list[int]
) -> tuple[list[dict], Counter, Counter]:
    layer = server.layer
    rows, first, rerun = [], Counter(), Counter()
    for n in threads:
        job = f"rss-{n}"
        provision.ensure_table(clients.client("dynamodb"), f"t-{job}")
        layer.reset_counts()
        code, rss, wall = _child(server, job, n)
        counted = layer.counts("passed")
        if not first:
            first = counted
            layer.reset_counts()
            _child(server, job, n)
            rerun = layer.counts("passed")
        done, errors = _done(f"t-{job}")
        rows.append(
            {
                "threads": n,
                "exit": code,
                "done": done,
                "errors": errors,
                "peak_rss_mb": round(rss),
                "wall_s": round(wall, 1),
            }
        )
    return rows, first, rerun


def cost_table(counts: Counter, images: int) -> dict:
    """USD per 1,000,000 images from calls counted per image (Rekognition at its first volume tier)."""
    per_image = {op: n / images for op, n in sorted(counts.items()) if n}
    usd = {}
    for op, n in per_image.items():
        if op in REKOGNITION:
            usd[op] = tiered_cost(round(n * 1_000_000), GROUP_2)
        elif op in PRICE:
            usd[op] = round(n * 1_000_000 * PRICE[op], 2)
        else:
            usd[op] = None  # not priced here (moto-api, STS)
    priced = {k: v for k, v in usd.items() if v is not None}
    return {
        "calls_per_image": {k: round(v, 3) for k, v in per_image.items()},
        "usd_per_million_images": priced,
        "total_usd_per_million": round(sum(priced.values()), 2),
        "prices_as_of": PRICES_AS_OF,
    }


def storm(server: FaultServer, images: int, seconds: float) -> dict:
    """Half of DetectLabels throttled for `seconds` from the start of a run: time to finish, errors.

    The child's --max-tps is set so that the run lasts about 1.5 times the storm: every image that
    starts inside the window meets it."""
    job = "storm"
    provision.ensure_table(clients.client("dynamodb"), f"t-{job}")
    layer = server.layer
    layer.reset_counts()
    layer.set("Rekognition.DetectLabels", for_seconds=seconds, error_rate=0.5, latency=0.15)
    max_tps = images / (1.5 * seconds)
    code, rss, wall = _child(server, job, 8, BUCKETLENS_MAX_TPS=f"{max_tps:.3f}")
    done, errors = _done(f"t-{job}")
    stats = layer.stats["Rekognition.DetectLabels"]
    return {
        "storm_s": seconds,
        "max_tps": round(max_tps, 2),
        "images": images,
        "exit": code,
        "done": done,
        "errors": errors,
        "detectlabels_calls": stats.calls,
        "throttled": stats.throttled,
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", default="4,16,64")
    parser.add_argument("--storm-seconds", type=float, default=60.0)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    with FaultServer() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        clients.reset()
        provision.setup(
            clients.client("dynamodb"), clients.client("s3"), "bench-setup", [BUCKET, RESULTS], "us-east-1"
        )
        body = sample_jpeg()
        s3 = clients.client("s3")
        for i in range(args.images):
            s3.put_object(Bucket=BUCKET, Key=f"imgs/{i:05d}.jpg", Body=body)
        server.layer.set("Rekognition.DetectLabels", latency=0.15)
        threads = [int(n) for n in args.threads.split(",")]
        rows, first, rerun = rss_by_threads(server, args.images, threads)
        print(json.dumps({"bench": "peak_rss_by_threads", "images": args.images, "rows": rows}))
        print(json.dumps({"bench": "cost_first_run", **cost_table(first, args.images)}))
        print(json.dumps({"bench": "cost_rerun", **cost_table(rerun, args.images)}))
        print(json.dumps({"bench": "throttling_storm", **storm(server, args.images, args.storm_seconds)}))


if __name__ == "__main__":
    main()
