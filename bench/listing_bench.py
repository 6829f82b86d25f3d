"""Prefix backfill listing benchmark: keys listed a second, one pager against the folders side by side.

Usage: python bench/listing_bench.py [--keys N] [--folders N]
Puts N image keys (default 20,000) into F folders (default 40) of one prefix in an emulated S3 (a moto
server on 127.0.0.1), then lists the prefix as `make backfill` does (lambda_submitter.backfill.iter_listing,
pages of 1,000) with one pager and with the deployed LISTING_THREADS. Prints keys/s for each. The emulator
answers from one Python process, so the ratio here is a floor: S3 serves each pager on its own. Exits 1
when a listing misses or repeats a key. No speed target is printed, so none is enforced. Writes
bench/results/listing.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_parser() -> argparse.ArgumentParser:
    """The bench's command line (tests/test_docs.py parses the documented ones with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--folders", type=int, default=40)
    return parser


def main() -> int:
    args = build_parser().parse_args()

    import logging
    from concurrent.futures import ThreadPoolExecutor

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's request log

    from bench.results import Report
    from job.core import clients
    from job.demo.emulator import Emulator
    from lambda_submitter import backfill

    emulator = Emulator().start()
    url = emulator.url
    os.environ.update(
        AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1"
    )
    try:
        s3 = clients.client("s3", pool=32)
        s3.create_bucket(Bucket="photos")
        keys = [f"archive/{n % args.folders:03d}/IMG_{n:07d}.jpg" for n in range(args.keys)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket="photos", Key=k, Body=b"x"), keys))
        report = Report("listing", {"keys": args.keys, "folders": args.folders, "page_size": 1000})
        for label, threads in (
            ("one pager", 1),
            (f"{backfill.LISTING_THREADS} pagers", backfill.LISTING_THREADS),
        ):
            began = time.perf_counter()
            listed = [
                r.key for r in backfill.iter_listing(s3, "photos", "archive/", ["jpg"], threads=threads)
            ]
            seconds = time.perf_counter() - began
            ok = sorted(listed) == sorted(keys)
            report.figure(
                f"keys_per_s_{threads}_pagers", round(len(listed) / seconds), f"{label}, emulated S3"
            )
            report.target(f"{label}: every key listed once", int(ok), "==", 1)
            print(
                f"{label:>10}: {len(listed):,} keys in {seconds:.2f} s = {len(listed) / seconds:,.0f} keys/s"
                + ("" if ok else "  FAILED: keys missed or repeated")
            )
    finally:
        emulator.stop()
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
