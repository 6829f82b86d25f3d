"""Run a command and read its own peak RSS.

Linux carries a process's RSS high-water mark across exec, so a child forked straight from a big process
(pytest holding moto's state, a benchmark holding every uploaded image) reports the parent's size. The
command is therefore started by a small launcher, whose own few MB are all the child inherits, and the
launcher reads the child's peak with os.wait4.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"exit": os.waitstatus_to_exitcode(status), "peak_rss_kb": usage.ru_maxrss}, out)
"""


@dataclass(frozen=True)
class Measured:
    """A finished command: exit code (-1: killed at the timeout), its peak RSS and wall time."""

    exit: int
    peak_rss_mb: float
    wall_s: float


def run(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float, stderr=subprocess.DEVNULL
) -> Measured:
    """`cmd` (its first item an absolute executable) to the end, or killed at `timeout`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "child.json"
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(report), *cmd],
            env=env,
            cwd=cwd,
            stderr=stderr,
            start_new_session=True,  # the launcher and the command: one process group to kill
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        wall = time.monotonic() - start
        if not report.exists():
            return Measured(-1, 0.0, wall)
        result = json.loads(report.read_text())
    return Measured(result["exit"], result["peak_rss_kb"] / 1024, wall)
