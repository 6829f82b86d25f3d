"""Inventory path benchmark: a 1,000,000-row gzip CSV report streamed into bucketlens manifest shards.

Usage: python bench/inventory_bench.py [--rows N] [--shard-size N] [--keep DIR]
Generates the report itself (a realistic mix: URL-encoded keys, delete markers, old versions, zero-byte
objects, non-images), then, in a fresh child process, runs the submitter's inventory path: gunzip, CSV,
key decoding, the work filter and gzip JSON Lines shards (S3 PUTs replaced by counting bytes). Prints rows/s
and the child's peak RSS. Targets: >= 100,000 rows/s and <= 200 MB peak RSS. It asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCHEMA = [
    "Bucket",
    "Key",
    "VersionId",
    "IsLatest",
    "IsDeleteMarker",
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
]
NAMES = [
    "IMG_{:07d}.JPG",
    "red+flower+{:07d}.jpg",
    "caf%C3%A9+{:07d}.heic",
    "scan%2B{:07d}.tiff",
    "doc-{:07d}.pdf",
]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A report shaped like S3's: quoted CSV, no header, gzip, keys URL-encoded."""
    rng = random.Random(seed)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        for i in range(rows):
            name = NAMES[i % len(NAMES)].format(i)
            roll = rng.random()
            latest, marker, size = "true", "false", str(rng.randint(1, 20_000_000))
            if roll < 0.03:
                marker, size = "true", ""
            elif roll < 0.08:
                latest = "false"
            elif roll < 0.09:
                size = "0"
            out.write(
                f'"bucketlens-images","photos/{i % 997:03d}/2026/{name}","v{i:x}","{latest}","{marker}",'
                f'"{size}","2026-01-{1 + i % 28:02d}T10:00:00.000Z","{i:032x}","STANDARD"\n'
            )


def measure(path: Path, shard_size: int, rows: int) -> dict:
    """The inventory path in this process; returns figures as a dict."""
    from job.core import inventory
    from job.core.manifest import write_manifest

    written = {"bytes": 0, "objects": 0}

    def put(key: str, body: bytes) -> None:
        written["bytes"] += len(body)
        written["objects"] += 1

    # Floor on this machine, right now: gunzip and csv.reader alone over the same file (no decoding, no
    # filter, no output). Figures from a shared machine vary; this puts them in proportion.
    floor_start = time.process_time()
    with open(path, "rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as text:
        floor_rows = sum(1 for _ in csv.reader(text))
    floor_cpu = time.process_time() - floor_start
    start, cpu_start = time.perf_counter(), time.process_time()
    with open(path, "rb") as stream:
        refs = inventory.iter_inventory_rows(
            stream, SCHEMA, True, inventory.DEFAULT_EXTENSIONS, "bucketlens-images"
        )
        manifest = write_manifest(
            put, "manifests/bench", "bench", refs, shard_size, {"kind": "bench"}, ("labels",)
        )
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": rows,
        "images_kept": manifest.total,
        "shards": len(manifest.shards),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_s": round(rows / cpu),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "floor_rows_per_cpu_s": round(floor_rows / floor_cpu),
        "shard_bytes": written["bytes"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh child runs; the fastest is reported")
    parser.add_argument("--keep", type=Path, help="directory to keep the generated report in")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.shard_size, args.rows)))
        return 0
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bucketlens-inventory-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "inventory.csv.gz"
    start = time.perf_counter()
    generate(report, args.rows)
    print(
        f"generated {args.rows:,} rows ({report.stat().st_size / 1e6:.1f} MB gzip) in {time.perf_counter() - start:.1f} s"
    )
    runs = []
    for _ in range(max(1, args.repeat)):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(report),
                "--shard-size",
                str(args.shard_size),
                "--rows",
                str(args.rows),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    figures = min(runs, key=lambda r: r["seconds"])
    print(
        f"runs:           {len(runs)} (wall s: {', '.join(str(r['seconds']) for r in runs)}; fastest shown)"
    )
    print(f"rows read:      {figures['rows']:,}")
    print(
        f"images kept:    {figures['images_kept']:,} in {figures['shards']:,} shards ({figures['shard_bytes'] / 1e6:.1f} MB)"
    )
    print(f"time:           {figures['seconds']} s")
    print(f"rows/s:         {figures['rows_per_s']:,} wall   (target >= 100,000)")
    print(
        f"rows/CPU-s:     {figures['rows_per_cpu_s']:,}   ({figures['cpu_seconds']} s CPU; wall is lower when cores are shared)"
    )
    print(
        f"floor:          {figures['floor_rows_per_cpu_s']:,} rows/CPU-s for gunzip + csv.reader alone, same file"
    )
    print(f"load average:   {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"peak RSS:       {max(r['peak_rss_mb'] for r in runs)} MB   (target <= 200 MB; whole child process)"
    )
    if not args.keep:
        report.unlink()
        os.rmdir(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
