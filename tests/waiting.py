"""Waiting on a real condition, never on the clock: the timeout is only a guard against a hang."""

from __future__ import annotations

import time
from collections.abc import Callable

HANG_GUARD_S = 120.0  # generous: CI shares 2 cores among 3 test workers and an emulator


def wait_for(predicate: Callable[[], bool], timeout: float = HANG_GUARD_S, poll: float = 0.02) -> None:
    """Return as soon as predicate() holds; raise TimeoutError if it never does within timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not reached within {timeout:.0f} s")
        time.sleep(poll)
