"""Fault and cost benchmark: peak RSS per worker thread count on camera-sized images, a cost table from
measured calls, and a full-minute throttling storm at the emulated account quota.

Usage: python bench/faults_bench.py [--threads 4,16,64] [--storm-seconds 60]

Every child runs `python -m job run` with what Terraform gives a job (bench/worker_bench.py
deployed_environment: the account quota of 20 TPS shared through the limiter table, the emulated
Rekognition throttling above 20 TPS with 150 ms latency). Why 20 and not 50: worker_bench.py says.
Part 1 runs one child per thread count (BUCKETLENS_WORKERS, the one thing set by hand: memory per thread
is what is measured) over camera-sized images: 24 MP JPEGs (3.6 MB, sent to Rekognition by S3 reference,
never decoded), 12 MP HEICs (decoded and re-encoded as a phone's photos are) and 61 MP JPEGs (29 MB, over
Rekognition's 15 MB S3 limit: decoded and scaled down), and reads the child's peak RSS with os.wait4.
Part 2 turns the per-operation calls the fault layer counted over 200 small JPEGs into USD per 1,000,000
images at published us-east-1 list prices (PRICES_AS_OF below); the first run and a rerun of the same
shard are priced separately, so the cost of idempotency shows. Part 3 is a storm: once a child works at the
account quota, the quota halves for a whole minute (another application takes half of it); it reports
what the child used of what was left, the throttled share, and whether every image finished.
Costs are divided by the images done, and a run with a recorded error misses its target. Every target
is enforced: the bench exits 1 naming those missed (a child that exits non-zero, an image not done, peak
RSS over the job definition's 2,048 MiB, a storm that does not use >= 90 % of what is left or throttles > 5 %).
Writes bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from bench.results import Report  # noqa: E402
from bench.worker_bench import QUOTA, deployed_environment, sample_jpeg  # noqa: E402
from job.commands import provision  # noqa: E402
from job.core import clients, label_index  # noqa: E402
from lambda_submitter.pricing import GROUP_2, PRICES_AS_OF, tiered_cost  # noqa: E402
from tests import peak_rss  # noqa: E402
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
    "DynamoDB.DeleteItem": DDB_WRITE_PER_M / 1e6,  # the limiter's row, when a child leaves
    "DynamoDB.Query": DDB_READ_PER_M / 1e6,  # limiter rows; an image's label rows (by_ref), under 4 KB
}  # DynamoDB.BatchWriteItem (the label index) is priced by rows: label_index_usd
# A label index row is written to the table and to its one index (by_ref): 2 write units.
LABEL_ROW_WRITES = 2
# Label index rows an image, reckoned the same for both labelers: a photo has about 10 labels at >= 70 %
# confidence from DetectLabels; an onnx model keeps up to model_top_k (5 by default, 10 here for a like
# comparison). The emulator's canned answer has 1, so the row count cannot be measured here.
LABEL_ROWS_RECKONED = 10
JOB_MEMORY_MB = 2048  # terraform job_memory's default: what a child may use
REKOGNITION = ("Rekognition.DetectLabels", "Rekognition.DetectText")


CAMERA = (  # (key prefix, width, height, format, noise sigma, copies)
    ("cam/24mp-", 6000, 4000, "JPEG", 6, 10),
    ("cam/12mp-heic-", 4032, 3024, "HEIF", 6, 10),
    ("cam/61mp-", 9504, 6336, "JPEG", 40, 4),
)
LATENCY = 0.15


def camera_image(width: int, height: int, fmt: str, sigma: int) -> bytes:
    """A photo-sized image that compresses like a photo (a gradient under noise), with its pixels."""
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), sigma).convert("RGB")
    buf = io.BytesIO()
    Image.blend(base, noise, 0.5).save(buf, fmt, quality=90)
    return buf.getvalue()


def _child(
    server: FaultServer, job: str, prefix: str, timeout: float = 900, **env: str
) -> tuple[int, float, float]:
    """(exit code, peak RSS MB, wall s) of one child over the whole prefix, with the deployed environment."""
    cmd = [sys.executable, "-m", "job", "run", "--source", f"s3://{BUCKET}/{prefix}"]
    deployed = {**deployed_environment(server.url, f"t-{job}"), "AWS_BATCH_JOB_ID": job}
    deployed["BUCKETLENS_PROGRESS_SECONDS"] = "600"
    measured = peak_rss.run(cmd, {**deployed, **env}, ROOT, timeout)  # the child's own peak, not ours
    return measured.exit, measured.peak_rss_mb, measured.wall_s


def _done(table: str) -> tuple[int, int]:
    done = errors = 0
    for page in clients.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            done += item["status"]["S"] == "done"
            errors += item["status"]["S"] == "error"
    return done, errors


def _setup(job: str) -> None:
    provision.setup(clients.client("dynamodb"), clients.client("s3"), f"t-{job}", [], "us-east-1")


def rss_by_threads(server: FaultServer, images: int, threads: list[int]) -> list[dict]:
    rows = []
    for n in threads:
        job = f"rss-{n}"
        _setup(job)
        code, rss, wall = _child(server, job, "cam/", BUCKETLENS_WORKERS=str(n))
        done, errors = _done(f"t-{job}")
        rows.append(
            {
                "threads": n,
                "images": images,
                "exit": code,
                "done": done,
                "errors": errors,
                "peak_rss_mb": round(rss),
                "wall_s": round(wall, 1),
            }
        )
    return rows


def first_and_rerun(server: FaultServer) -> tuple[Counter, Counter, list[dict], int]:
    """The calls of a first run over small/ and of a rerun of the same shard, counted by the fault layer,
    and the label index rows the first run wrote."""
    job, layer, counted, rows = "cost", server.layer, [], []
    _setup(job)
    for _ in range(2):
        layer.reset_counts()
        code, _, wall = _child(server, job, "small/")
        counted.append(layer.counts("passed"))
        done, errors = _done(f"t-{job}")
        rows.append({"exit": code, "wall_s": round(wall, 1), "done": done, "errors": errors})
    label_rows = clients.client("dynamodb").scan(
        TableName=label_index.table_name(f"t-{job}"), Select="COUNT"
    )["Count"]
    return counted[0], counted[1], rows, label_rows


def cost_table(counts: Counter, images: int, label_rows: int) -> dict:
    """USD per 1,000,000 images: the calls counted per image done (Rekognition at its first volume tier),
    and the label index reckoned at LABEL_ROWS_RECKONED rows an image for either labeler (its
    BatchWriteItem calls are counted, but the emulator's canned answer has one label, a real one about 10)."""
    per_image = {op: n / images for op, n in sorted(counts.items()) if n}
    counted = {}
    for op, n in per_image.items():
        if op in REKOGNITION:
            counted[op] = tiered_cost(round(n * 1_000_000), GROUP_2)
        elif op in PRICE:
            counted[op] = round(n * 1_000_000 * PRICE[op], 2)
    index = label_index_usd(LABEL_ROWS_RECKONED) if label_rows else 0.0
    return {
        "calls_per_image": {k: round(v, 3) for k, v in per_image.items()},
        "label_rows_counted_per_image": round(label_rows / images, 2),
        "counted_usd": counted,  # moto-api and STS calls are not priced
        "counted_usd_per_million": round(sum(counted.values()), 2),
        "label_index_rows_reckoned": LABEL_ROWS_RECKONED if label_rows else 0,
        "label_index_usd_reckoned": index,
        "total_usd_per_million": round(sum(counted.values()) + index, 2),
        "prices_as_of": PRICES_AS_OF,
    }


def label_index_usd(rows_per_image: float) -> float:
    """The label index per million images: each row is written to the table and to its `by_ref` index."""
    return round(rows_per_image * LABEL_ROW_WRITES * DDB_WRITE_PER_M, 2)


STORM_AFTER = 100  # DetectLabels calls passed before the storm opens: it hits a child at full rate


def storm(server: FaultServer, images: int, seconds: float) -> dict:
    """For `seconds`, once the child runs at full rate, the account's quota halves (another application
    takes half of it): what the child then uses of what is left, how much is throttled, and whether
    every image still finishes."""
    job = "storm"
    _setup(job)
    layer = server.layer
    layer.reset_counts()
    left = QUOTA / 2
    layer.set(
        "Rekognition.DetectLabels",
        for_seconds=seconds,
        after=("Rekognition.DetectLabels", STORM_AFTER),
        quota=left,
        burst=5,
        latency=LATENCY,
    )
    code, _, wall = _child(server, job, "storm/")
    done, errors = _done(f"t-{job}")
    stats = layer.stats["Rekognition.DetectLabels"]  # the storm's rule has expired by now
    return {
        "storm_s": seconds,
        "tps_quota": QUOTA,
        "tps_left_during_storm": left,
        "images": images,
        "exit": code,
        "done": done,
        "errors": errors,
        "wall_s": round(wall, 1),
        **_storm_figures(stats, seconds, left),
    }


def _storm_figures(stats, seconds: float, left: float) -> dict:
    """Calls, throttles and the rate used inside the storm window (from the passed calls' times)."""
    times = sorted(stats.pass_times)
    start = times[STORM_AFTER - 1]
    inside = [t for t in times if start < t <= start + seconds]
    used = len(inside) / seconds
    return {
        "detectlabels_calls": stats.calls,
        "throttled": stats.throttled,
        "throttled_share": round(stats.throttled / stats.calls, 4),
        "tps_used_during_storm": round(used, 2),
        "share_of_what_was_left": round(used / left, 3),
    }


def _upload(s3, prefix: str, body: bytes, copies: int) -> None:
    for i in range(copies):
        s3.put_object(
            Bucket=BUCKET, Key=f"{prefix}{i:05d}.{'heic' if b'ftyp' in body[:16] else 'jpg'}", Body=body
        )


def build_parser() -> argparse.ArgumentParser:
    """The bench's command line (tests/test_docs.py parses the documented ones with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="4,16,64")
    parser.add_argument("--storm-seconds", type=float, default=60.0)
    return parser


def main() -> int:
    args = build_parser().parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    # enough images that the child, at half the quota while the storm lasts, is still working when it ends
    storm_images = STORM_AFTER + int(1.5 * args.storm_seconds * QUOTA / 2)
    with FaultServer() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        clients.reset()
        provision.setup(
            clients.client("dynamodb"), clients.client("s3"), "bench-setup", [BUCKET, RESULTS], "us-east-1"
        )
        s3 = clients.client("s3")
        for prefix, width, height, fmt, sigma, copies in CAMERA:
            _upload(s3, prefix, camera_image(width, height, fmt, sigma), copies)
        small = sample_jpeg()
        _upload(s3, "small/", small, 200)
        _upload(s3, "storm/", small, storm_images)
        server.layer.set("Rekognition.Detect*", latency=LATENCY, quota=QUOTA, burst=5)
        camera = sum(c[-1] for c in CAMERA)
        rows = rss_by_threads(server, camera, [int(n) for n in args.threads.split(",")])
        print(json.dumps({"bench": "peak_rss_by_threads", "images": camera, "rows": rows}))
        first, rerun, runs, label_rows = first_and_rerun(server)
        done = runs[0]["done"]  # costs are per image done: the same images, done once, then skipped
        print(json.dumps({"bench": "cost_first_run", **cost_table(first, max(1, done), label_rows)}))
        print(json.dumps({"bench": "cost_rerun", **cost_table(rerun, max(1, done), 0)}))
        result = storm(server, storm_images, args.storm_seconds)
        print(json.dumps({"bench": "throttling_storm", **result}))
    report = Report(
        "faults",
        {
            "threads": args.threads,
            "storm_seconds": args.storm_seconds,
            "quota_tps": QUOTA,
            "label_index_rows_reckoned": LABEL_ROWS_RECKONED,
        },
    )
    for row in rows:
        n = row["threads"]
        report.figure(
            f"peak_rss_mb_{n}_threads", row["peak_rss_mb"], f"one child, {n} threads, camera images"
        )
        report.target(
            f"{n} threads: every camera image done", row["done"] if not row["exit"] else -1, "==", camera
        )
    if 16 in {row["threads"] for row in rows}:
        report.target(
            "peak RSS MB at 16 threads",
            next(r["peak_rss_mb"] for r in rows if r["threads"] == 16),
            "<=",
            1024,
        )
    costed = cost_table(first, max(1, runs[0]["done"]), label_rows)
    again = cost_table(rerun, max(1, runs[0]["done"]), 0)
    report.figure(
        "counted_usd_per_million",
        costed["counted_usd_per_million"],
        "counted calls per image done at list prices: DetectLabels, S3, DynamoDB (label index apart)",
    )
    report.figure(
        "label_index_usd_per_million",
        costed["label_index_usd_reckoned"],
        f"reckoned, not counted: {LABEL_ROWS_RECKONED} rows an image, as for the onnx labeler",
    )
    report.figure(
        "total_usd_per_million",
        costed["total_usd_per_million"],
        "counted calls plus the reckoned label index",
    )
    report.figure(
        "rerun_usd_per_million", again["total_usd_per_million"], "a rerun of the same shard, counted"
    )
    report.figure("counted_usd_by_call", costed["counted_usd"], "first run, USD per million images by call")
    report.figure("calls_per_image", costed["calls_per_image"], "first run, counted per image done")
    report.target(
        "cost runs: every image done, no error", sum(r["errors"] + r["exit"] for r in runs), "==", 0
    )
    report.target("cost run: images done", runs[0]["done"], "==", 200)
    report.figure(
        "storm_share_of_what_was_left", result["share_of_what_was_left"], "quota halved for the storm"
    )
    report.figure(
        "storm_throttled_share", result["throttled_share"], "DetectLabels calls throttled, whole run"
    )
    report.target("storm: every image done", result["done"] if not result["exit"] else -1, "==", storm_images)
    report.target("storm: share of what was left", result["share_of_what_was_left"], ">=", 0.90)
    report.target("storm: calls throttled", result["throttled_share"], "<=", 0.05)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
