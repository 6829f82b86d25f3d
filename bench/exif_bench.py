"""EXIF benchmark over the shared corpus: files/s against exiftool, and bytes read per JPEG.

Usage: python bench/exif_bench.py [CORPUS_DIR] [--repeat N]
Prints figures (targets: >= 15x exiftool's files/s, whole process, same run; `python -m job --help` under
150 ms; >= 99% of JPEGs answered by one read of at most 64 KiB). Exits 1 when the corpus is missing or
when either command fails: a crash must never show up as a speed-up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from job import exif  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "exif-samples"


class Failed(Exception):
    """A measured command did not succeed: its time means nothing."""


def timed(cmd: list[str], repeat: int) -> float:
    """Best wall time of `repeat` runs of a whole command (process start included); Failed on any exit
    code but 0 (exiftool exits 1 when it could not read a file, which we then say)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600
        )
        if done.returncode != 0:
            raise Failed(f"{' '.join(cmd[:4])} … exited {done.returncode}: {done.stderr.decode()[-500:]}")
        best = min(best, time.perf_counter() - start)
    return best


def reads_per_jpeg(files: list[Path]) -> list[tuple[int, int, int]]:
    """(file size, bytes read, number of reads) for each JPEG/MPO."""
    rows = []
    for path in files:
        data = path.read_bytes()
        if not data.startswith(b"\xff\xd8\xff"):
            continue
        calls = []

        def read(start: int, end: int, data=data, calls=calls) -> bytes:
            calls.append(end - start)
            return data[start:end]

        record = exif.extract(read, len(data))
        rows.append((len(data), record.bytes_read, len(calls)))
    return rows


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    truth = args.corpus / "exiftool-truth-compact.json"
    if not truth.exists():
        print(f"corpus not found at {args.corpus}: nothing measured")
        return 1
    files = [args.corpus / entry["path"] for entry in json.loads(truth.read_text())]
    try:
        ours = timed([sys.executable, "-m", "job", "exif", *map(str, files)], args.repeat)
        start_up = timed([sys.executable, "-m", "job", "--help"], max(5, args.repeat))
        print(f"files: {len(files)}")
        print(
            f"bucketlens  python -m job exif : {ours:6.3f} s  {len(files) / ours:8.0f} files/s (whole process)"
        )
        print(f"python -m job --help           : {start_up * 1000:6.0f} ms  (target < 150 ms)")
        if shutil.which("exiftool"):
            theirs = timed(["exiftool", "-json", "-n", "-G1", "-a", *map(str, files)], args.repeat)
            print(f"exiftool    -json -n -G1 -a    : {theirs:6.3f} s  {len(files) / theirs:8.0f} files/s")
            print(f"speed-up: {theirs / ours:.1f}x  (target >= 15x)")
        else:
            print("exiftool not installed (Debian: libimage-exiftool-perl): no comparison")
    except Failed as exc:
        print(f"FAILED: {exc}")
        return 1

    rows = reads_per_jpeg(files)
    sizes = [size for size, _, _ in rows]
    read = [got for _, got, _ in rows]
    one_read = sum(1 for size, got, calls in rows if calls == 1 and got <= exif.FIRST_READ)
    print(f"\nJPEG/MPO files: {len(rows)}")
    print(
        f"answered by one read of <= 64 KiB: {one_read}/{len(rows)} = {one_read / len(rows):.1%} (target >= 99%)"
    )
    print("                 p50        p90        max")
    print(f"file size   {pct(sizes, 50):>10,.0f} {pct(sizes, 90):>10,.0f} {max(sizes):>10,}")
    print(f"bytes read  {pct(read, 50):>10,.0f} {pct(read, 90):>10,.0f} {max(read):>10,}")
    print(f"bytes read / bytes stored, all JPEGs: {sum(read) / sum(sizes):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
