"""The outbound rate limiter: per channel and endpoint, in-process and shared through Redis."""

from __future__ import annotations

import threading
import time

import pytest

from municipalities.line import ratelimit
from municipalities.line.errors import LineRateLimited


def _burst(settings, channel: str, n: int, threads: int = 4) -> float:
    started = time.monotonic()

    def take(count: int) -> None:
        for _ in range(count):
            ratelimit.acquire(channel, "multicast")

    workers = [threading.Thread(target=take, args=(n // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.monotonic() - started


def test_in_process_limit_spreads_a_burst(settings):
    settings.HAS_REDIS = False
    settings.LINE_RATE_LIMITS = {"multicast": 50}
    ratelimit.reset_local()
    # 100 requests at 50/s take about two seconds, never much less
    assert _burst(settings, "chan-local", 100) >= 1.7


def test_channels_do_not_share_a_limit(settings):
    settings.HAS_REDIS = False
    settings.LINE_RATE_LIMITS = {"multicast": 50}
    ratelimit.reset_local()
    started = time.monotonic()
    for channel in ("a", "b", "c", "d"):
        for _ in range(5):
            ratelimit.acquire(channel, "multicast")
    assert time.monotonic() - started < 0.5


def test_waiting_too_long_raises_rate_limited(settings):
    settings.HAS_REDIS = False
    settings.LINE_RATE_LIMITS = {"broadcast": 1}
    ratelimit.reset_local()
    ratelimit.acquire("chan-wait", "broadcast")
    started = time.monotonic()
    with pytest.raises(LineRateLimited):
        ratelimit.acquire("chan-wait", "broadcast", max_wait=0.2)
    assert time.monotonic() - started < 0.2  # known at once: nothing to wait for


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=pytest.mark.redis)])
def test_turns_are_booked_in_one_step_and_a_late_caller_delays_nobody(settings, shared):
    # given: 50/s, i.e. five requests in any 100 ms, booked in this process or in Redis
    ratelimit._redis_script.cache_clear()
    ratelimit.reset_local()
    book = ratelimit._redis_book if shared else ratelimit._local.book
    key = f"chan-turns-{time.time_ns()}"
    # when: twelve callers ask at once; each turn is known as a span of time (now + wait, now
    # being somewhere within the call), so a busy machine pausing between calls changes nothing
    turns = []
    for _ in range(12):
        before = time.monotonic()
        booked, wait = book(key, 50, 10.0)
        turns.append((booked, before + wait, time.monotonic() + wait))
    # then: five go now, five one window (100 ms and the margin) later, two two windows later
    window = 0.1 * ratelimit.WINDOW_MARGIN
    _, first_from, first_to = turns[0]
    for (booked, turn_from, turn_to), k in zip(turns, [0] * 5 + [1] * 5 + [2] * 2, strict=True):
        assert booked and turn_from - 0.005 <= first_to + k * window
        assert first_from + k * window <= turn_to + 0.005
    # and: a caller that will not wait that long books nothing and learns at once how long it
    # would be: until two windows after the first turn
    before = time.monotonic()
    booked, wait = book(key, 50, 0.05)
    assert not booked and before + wait - 0.005 <= first_to + 2 * window
    assert first_from + 2 * window <= time.monotonic() + wait + 0.005
    # when: the next caller comes 150 ms later (the callers of the first turns woke late, say)
    time.sleep(0.15)
    before = time.monotonic()
    booked, wait = book(key, 50, 10.0)
    # then: its turn is still the one after the booked ones (two windows after the first), not later
    assert booked and before + wait - 0.005 <= first_to + 2 * window
    assert first_from + 2 * window <= time.monotonic() + wait + 0.005


@pytest.mark.redis
def test_the_limit_is_shared_through_redis(settings):
    # given: one process booked the channel's whole allowance for this second through Redis
    settings.LINE_RATE_LIMITS = {"broadcast": 5}
    ratelimit._redis_script.cache_clear()
    channel = f"chan-redis-{time.time_ns()}"
    for _ in range(5):
        assert ratelimit._redis_book(f"{channel}:broadcast", 5, 10.0) == (True, pytest.approx(0.0, abs=0.05))
    # when: another process (no in-process memory of it) asks for one more
    ratelimit.reset_local()
    booked, wait = ratelimit._redis_book(f"{channel}:broadcast", 5, 10.0)
    # then: Redis books it a second (and the margin) later
    assert booked and wait == pytest.approx(ratelimit.WINDOW_MARGIN, abs=0.05)
    with pytest.raises(LineRateLimited):
        ratelimit.acquire(channel, "broadcast", max_wait=0.5)


def test_an_unreachable_redis_falls_back_to_the_process(settings):
    settings.HAS_REDIS = True
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.LINE_RATE_LIMITS = {"multicast": 1000}
    ratelimit._redis_script.cache_clear()
    ratelimit.reset_local()
    try:
        ratelimit.acquire("chan-fallback", "multicast")  # no exception: limited in-process
    finally:
        ratelimit._redis_script.cache_clear()
