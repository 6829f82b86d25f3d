import threading
import time

import pytest

from job.worker.ratelimit import TokenBucket, Unlimited, limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_calls_at_one_instant_are_spaced_by_the_rate():
    # given a 10/s bucket without burst and a clock that stands still
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock, sleep=clock.sleep)
    # when five calls arrive at once
    waits = [bucket.reserve() for _ in range(5)]
    # then each waits 100 ms longer than the one before
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_burst_lets_calls_through_back_to_back_after_idling():
    # given a 10/s bucket with a burst of 3, idle for a while
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=clock.sleep)
    bucket.reserve()
    clock.now += 5
    # when four calls arrive at once
    waits = [bucket.reserve() for _ in range(4)]
    # then three pass without waiting and the fourth waits one interval
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1)


def test_acquire_sleeps_the_reserved_time():
    # given a bucket with a fake sleep
    clock = FakeClock()
    bucket = TokenBucket(4, clock=clock, sleep=clock.sleep)
    # when two calls acquire at the same instant
    bucket.acquire()
    bucket.acquire()
    # then only the second slept, a quarter second
    assert clock.slept == [pytest.approx(0.25)]


def test_threads_together_never_exceed_the_rate():
    # given a real 200/s bucket shared by 8 threads
    bucket = TokenBucket(200)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    # when they make 80 calls in all
    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    # then 80 calls took at least 79 intervals
    assert len(stamps) == 80
    assert max(stamps) - start >= 79 / 200 * 0.95


def test_bad_settings_and_unlimited():
    # given/when/then: a non-positive rate is refused, and no rate means no waiting
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1, burst=0)
    assert isinstance(limiter(None), Unlimited)
    assert limiter(None).acquire() == 0.0
    assert isinstance(limiter(5.0), TokenBucket)
