"""Build the submitter Lambda zip with the standard library, byte-for-byte reproducible.

Terraform runs this (terraform_data + local-exec) because the hashicorp/archive provider is not
always installable (offline provider mirrors); the zip holds only the listed source files.
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build(root: Path, files: list[str], out: Path) -> None:
    """Write files (relative to root) into out with fixed timestamps and modes, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in sorted(set(files)):
            info = zipfile.ZipInfo(rel, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / rel).read_bytes())
    os.replace(tmp, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("files", help="comma-separated paths relative to --root")
    args = parser.parse_args()
    build(args.root, [f for f in args.files.split(",") if f], args.out)


if __name__ == "__main__":
    main()
