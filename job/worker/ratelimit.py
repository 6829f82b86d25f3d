"""A thread-safe token bucket so one child never sends more than its share of the Rekognition quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """GCRA limiter: each acquire() reserves the next free slot under the lock, then sleeps outside it.

    Reserving before sleeping keeps callers in arrival order and lets many threads wait at once without
    holding the lock; `burst` calls may go back to back after an idle spell.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat: float | None = None  # theoretical arrival time of the next call

    def reserve(self) -> float:
        """Claim the next slot; returns how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            tat = now if self._tat is None else max(self._tat, now)
            wait = max(0.0, tat - now - self._tolerance)
            self._tat = tat + self._interval
            return wait

    def acquire(self) -> float:
        """Block until this call may proceed; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class Unlimited:
    """The limiter used when no --max-tps is set."""

    rate = None

    def acquire(self) -> float:
        return 0.0


def limiter(rate: float | None, burst: int = 1) -> TokenBucket | Unlimited:
    return TokenBucket(rate, burst) if rate else Unlimited()
