"""Inventory path benchmark: a 1,000,000-row gzip CSV report streamed into bucketlens manifest shards.

Usage: python bench/inventory_bench.py [--rows N] [--shard-size N] [--keep DIR] [--process-rows N]
Generates the report itself (a realistic mix: URL-encoded keys, delete markers, old versions, zero-byte
objects, non-images), then, in a fresh child process, runs the submitter's inventory path: gunzip, CSV,
key decoding, the work filter and gzip JSON Lines shards (S3 PUTs replaced by counting bytes). Prints rows/s
and the child's peak RSS. Targets: >= 100,000 rows/s and <= 200 MB peak RSS. Then the whole process:
`python -m lambda_submitter inventory … --dry-run` from start to exit on 400,000 rows in an emulated S3
(target >= 100,000 rows/s); and the same report as a Parquet data file through the children's reader
(target: peak RSS <= 300 MB). Peak RSS is each child's own, read by a launcher (tests/peak_rss.py: Linux
carries a process's high-water mark across exec). Every target is enforced: the bench exits 1 naming those
missed, and an image count that is wrong or a command that fails misses its own. Writes
bench/results/inventory.json.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Report  # noqa: E402
from tests import peak_rss  # noqa: E402

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
    return {
        "rows": rows,
        "images_kept": manifest.total,
        "shards": len(manifest.shards),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_s": round(rows / cpu),
        "floor_rows_per_cpu_s": round(floor_rows / floor_cpu),
        "shard_bytes": written["bytes"],
    }


def build_parser() -> argparse.ArgumentParser:
    """The bench's command line (tests/test_docs.py parses the documented ones with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh child runs; the fastest is reported")
    parser.add_argument("--keep", type=Path, help="directory to keep the generated report in")
    parser.add_argument(
        "--process-rows", type=int, default=400_000, help="rows of the whole-process dry-run scenario"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure-parquet", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write-parquet", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser


def main() -> int:
    args = build_parser().parse_args()
    if args.measure:
        args.out.write_text(json.dumps(measure(args.measure, args.shard_size, args.rows)))
        return 0
    if args.write_parquet:
        write_parquet(args.write_parquet, args.out)
        return 0
    if args.measure_parquet:
        args.out.write_text(json.dumps(measure_parquet(args.measure_parquet, args.rows)))
        return 0
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bucketlens-inventory-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "inventory.csv.gz"
    start = time.perf_counter()
    generate(report, args.rows)
    print(
        f"generated {args.rows:,} rows ({report.stat().st_size / 1e6:.1f} MB gzip) in {time.perf_counter() - start:.1f} s"
    )
    runs = [
        measured_child(
            ["--measure", str(report), "--shard-size", str(args.shard_size), "--rows", str(args.rows)]
        )
        for _ in range(max(1, args.repeat))
    ]
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
    peak = max(r["peak_rss_mb"] for r in runs)
    print(f"peak RSS:       {peak} MB   (whole child process, its own)")
    result = Report("inventory", {"rows": args.rows, "shard_size": args.shard_size, "repeat": args.repeat})
    result.figure("rows_per_s", figures["rows_per_s"], "the submitter's inventory path, one process, wall")
    result.figure("peak_rss_mb", peak, "that process's own peak RSS")
    result.figure("rows_per_cpu_s", figures["rows_per_cpu_s"], "the same run, per CPU second")
    result.figure(
        "floor_rows_per_cpu_s", figures["floor_rows_per_cpu_s"], "gunzip + csv.reader alone, the same file"
    )
    result.figure("images_kept", figures["images_kept"], f"of {figures['rows']:,} rows")
    result.figure("shards", figures["shards"], f"of {args.shard_size:,} images, gzip JSON Lines")
    result.figure(
        "load_average", round(os.getloadavg()[0], 1), f"at the end of the run, {os.cpu_count()} cores"
    )
    result.target("images kept are the report's", figures["images_kept"], "==", expected_images(report))
    result.target("rows/s, submitter path", figures["rows_per_s"], ">=", 100_000)
    result.target("peak RSS MB, submitter path", peak, "<=", 200)
    dry_run_process(folder, args.process_rows, result)
    parquet_report(folder, report, args.rows, result)
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        os.rmdir(folder)
    return result.finish()


def measured_child(arguments: list[str]) -> dict:
    """This script run with `arguments` in a fresh process: its figures, and its own peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        done = peak_rss.run(
            [sys.executable, __file__, *arguments, "--out", str(out)], dict(os.environ), ROOT, 900
        )
        if done.exit != 0:
            raise SystemExit(f"FAILED: {' '.join(arguments[:2])} exited {done.exit}")
        return {**json.loads(out.read_text()), "peak_rss_mb": round(done.peak_rss_mb, 1)}


def expected_images(report: Path) -> int:
    """What the report holds of work, counted the plain way (csv module, the rule written out)."""
    from job.core import inventory

    suffixes = inventory.normalize_extensions(None)
    kept = 0
    with gzip.open(report, "rt", encoding="utf-8", newline="") as text:
        for row in csv.reader(text):
            _, key, _, latest, marker = row[:5]  # a zero-byte image is work too: an EmptyFile error
            key = inventory._decode_key(key)
            kept += latest == "true" and marker == "false" and key.lower().endswith(suffixes)
    return kept


def parquet_report(folder: Path, report: Path, rows: int, result: Report) -> None:
    """The same report as one Parquet data file (as S3 writes it: keys not URL-encoded), read by the
    children's path (`inventory.iter_data_file`) in a fresh process: rows/s and peak RSS (target <= 300 MB).
    The file is written by a child of its own: Linux keeps a process's peak RSS across exec, so a child
    forked from a parent that held the table would report the parent's."""
    path = folder / "inventory.parquet"
    subprocess.run(
        [sys.executable, __file__, "--write-parquet", str(report), "--out", str(path)],
        check=True,
        timeout=900,
    )
    figures = measured_child(["--measure-parquet", str(path), "--rows", str(rows)])
    expected = expected_images(report)
    print(
        f"parquet:        {rows:,} rows, one data file of {path.stat().st_size / 1e6:.1f} MB, the children's reader"
    )
    print(f"  images kept   {figures['images_kept']:,} (expected {expected:,}), {figures['seconds']} s")
    print(f"  rows/s:       {figures['rows_per_s']:,}")
    print(f"  peak RSS:     {figures['peak_rss_mb']} MB   (whole child process, its own)")
    result.figure("parquet_rows_per_s", figures["rows_per_s"], "the children's Parquet reader, one process")
    result.figure("parquet_peak_rss_mb", figures["peak_rss_mb"], "that process's own peak RSS")
    result.target("Parquet: images kept are the report's", figures["images_kept"], "==", expected)
    result.target("Parquet: peak RSS MB", figures["peak_rss_mb"], "<=", 300)


def write_parquet(report: Path, path: Path) -> None:
    """The CSV report's rows as one Parquet data file with S3's columns; keys decoded, as S3 writes them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from job.core import inventory

    columns: dict[str, list] = {name: [] for name in inventory.COLUMNS}
    with gzip.open(report, "rt", encoding="utf-8", newline="") as text:
        for bucket, key, version, latest, marker, size, modified, etag, _ in csv.reader(text):
            for name, value in zip(
                inventory.COLUMNS,
                (
                    bucket,
                    inventory._decode_key(key),
                    version,
                    latest == "true",
                    marker == "true",
                    int(size) if size else None,
                    modified,
                    etag,
                ),
                strict=True,
            ):
                columns[name].append(value)
    columns["last_modified_date"] = pa.array(
        [
            calendar.timegm(time.strptime(m[:19], "%Y-%m-%dT%H:%M:%S")) * 1000
            for m in columns["last_modified_date"]
        ],
        pa.int64(),
    ).cast(pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table(columns), path, row_group_size=128 * 1024)


def measure_parquet(path: Path, rows: int) -> dict:
    """In a fresh process: every work row of the Parquet file through the reader the children use."""
    from job.core import inventory

    manifest = json.loads((ROOT / "tests" / "events" / "inventory_manifest_parquet.json").read_text())
    report = inventory.parse_inventory_manifest(json.dumps(manifest))
    start = time.perf_counter()
    with open(path, "rb") as body:
        kept = sum(1 for _ in inventory.iter_data_file(body, report, path.name, inventory.DEFAULT_EXTENSIONS))
    elapsed = time.perf_counter() - start
    return {"images_kept": kept, "seconds": round(elapsed, 2), "rows_per_s": round(rows / elapsed)}


def dry_run_process(folder: Path, rows: int, result: Report) -> None:
    """`python -m lambda_submitter inventory s3://…/manifest.json --dry-run`, start to exit, against an
    emulated S3 holding a report of `rows` rows: the whole process (interpreter, imports, S3 reads, parsing)."""
    import logging

    import boto3

    from job.demo.emulator import start_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request would bury the figures
    report = folder / "process.csv.gz"
    generate(report, rows)
    server, url = start_server()
    try:
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        s3.create_bucket(Bucket="bench-inventory")
        s3.put_object(Bucket="bench-inventory", Key="inv/data/1.csv.gz", Body=report.read_bytes())
        manifest = {
            "sourceBucket": "bucketlens-images",
            "destinationBucket": "arn:aws:s3:::bench-inventory",
            "version": "2016-11-30",
            "creationTimestamp": "1767225600000",
            "fileFormat": "CSV",
            "fileSchema": ", ".join(SCHEMA),
            "files": [{"key": "inv/data/1.csv.gz", "size": report.stat().st_size, "MD5checksum": "x"}],
        }
        s3.put_object(Bucket="bench-inventory", Key="inv/manifest.json", Body=json.dumps(manifest))
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable,
            "-m",
            "lambda_submitter",
            "inventory",
            "s3://bench-inventory/inv/manifest.json",
        ]
        start = time.perf_counter()
        done = subprocess.run([*command, "--dry-run"], env=env, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - start
    finally:
        server.stop()
    found = [line for line in done.stdout.splitlines() if line.startswith("images found:")]
    expected = expected_images(report)
    got = int(found[0].split(":")[1].replace(",", "")) if found else -1
    print(f"whole process:  python -m lambda_submitter inventory … --dry-run, {rows:,} rows from emulated S3")
    print(f"  exit {done.returncode}, images found {got:,} (expected {expected:,}), {wall:.2f} s wall")
    print(f"  rows/s:       {rows / wall:,.0f} whole process")
    if done.returncode != 0:
        print(done.stderr[-2000:])
    result.figure(
        "process_rows_per_s",
        round(rows / wall),
        "python -m lambda_submitter inventory --dry-run, start to exit",
    )
    result.target(
        "dry run: images found are the report's", got if done.returncode == 0 else -1, "==", expected
    )
    result.target("rows/s, whole process", round(rows / wall), ">=", 100_000)


if __name__ == "__main__":
    sys.exit(main())
