"""Build the submitter Lambda zip, byte-for-byte reproducible: our source files plus the locked wheels.

Terraform runs this (terraform_data + local-exec) because the hashicorp/archive provider is not
always installable (offline provider mirrors). The wheels are manylinux builds for the function's
architecture and Python, downloaded by pip with their hashes checked (--require-hashes); they are
unpacked into the zip as pip would install them, so nothing is built on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux 2.28 and older wheels load
PLATFORMS = ("manylinux_2_28_{m}", "manylinux2014_{m}")
SKIPPED = ("__pycache__/", ".pyc")


def download(requirements: Path, python_version: str, architecture: str, cache: Path) -> list[Path]:
    """The locked wheels for this Python and architecture, from pip's download (cached per lock)."""
    lock = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    dest = cache / f"{architecture}-py{python_version}-{lock}"
    machine = MACHINES[architecture]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    command += ["--require-hashes", "--no-deps", "--only-binary=:all:", "--implementation", "cp"]
    command += ["--python-version", python_version, "--dest", str(dest), "-r", str(requirements)]
    for platform in PLATFORMS:
        command += ["--platform", platform.format(m=machine)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise SystemExit(f"cannot run {sys.executable}: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"pip could not download the Lambda's wheels for Python {python_version} on {architecture}:\n"
            f"{exc.stderr.strip()}\n(the Terraform variable `python` names an interpreter with pip and "
            "access to PyPI)"
        ) from exc
    return sorted(dest.glob("*.whl"))


def wheel_entries(wheel: Path) -> dict[str, tuple[bytes, int]]:
    """A wheel's files as installed into site-packages (the .data/purelib and platlib folders flattened)."""
    entries = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or name.endswith(SKIPPED) or "/__pycache__/" in name:
                continue
            parts = name.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts and headers have no place in a Lambda
                name = "/".join(parts[2:])
            mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
            entries[name] = (archive.read(info), mode)
    return entries


def build(root: Path, files: list[str], out: Path, wheels: list[Path] = ()) -> None:
    """Write files (relative to root) and the wheels' contents into out with fixed times, atomically."""
    entries = {rel: ((root / rel).read_bytes(), 0o644) for rel in files}
    for wheel in wheels:
        for name, entry in wheel_entries(wheel).items():
            if name in entries:
                raise SystemExit(f"{wheel.name} would overwrite {name}")
            entries[name] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(tmp, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--requirements", type=Path, help="hash-locked requirements of the wheels to add")
    parser.add_argument("--python-version", default="3.13", help="the runtime's Python, e.g. 3.13")
    parser.add_argument("--architecture", default="arm64", choices=sorted(MACHINES))
    parser.add_argument("files", help="comma-separated paths relative to --root")
    args = parser.parse_args()
    wheels = []
    if args.requirements:
        wheels = download(
            args.requirements, args.python_version, args.architecture, args.out.parent / "wheels"
        )
    build(args.root, [f for f in args.files.split(",") if f], args.out, wheels)


if __name__ == "__main__":
    main()
