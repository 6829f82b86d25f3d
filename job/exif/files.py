"""Local folders walked as people keep photos: subfolders and symlinked folders followed, never round a
loop, in a stable order (the demo's IMAGES= folder, `python -m job exif DIR`)."""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # typing's own flag, without importing typing (python -m job exif starts fast)
if TYPE_CHECKING:
    from collections.abc import Iterator


def walk(folder: str | os.PathLike) -> Iterator[tuple[str, Path]]:
    """(path relative to the folder with '/', path) of every file under it, broken symlinks included."""
    top = os.fspath(folder)
    # the real folders above each walked one: a link to any of them would walk forever
    above = {top: frozenset({os.path.realpath(top)})}
    for here, dirs, files in os.walk(top, followlinks=True):
        chain = above[here]
        dirs[:] = [d for d in sorted(dirs) if os.path.realpath(os.path.join(here, d)) not in chain]
        for d in dirs:
            above[os.path.join(here, d)] = chain | {os.path.realpath(os.path.join(here, d))}
        for name in sorted(files):
            path = Path(here, name)
            yield path.relative_to(top).as_posix(), path
