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
    with pytest.raises(LineRateLimited):
        ratelimit.acquire("chan-wait", "broadcast", max_wait=0.2)


@pytest.mark.redis
def test_the_limit_is_shared_through_redis(settings):
    # given: one process took the channel's whole allowance for this second through Redis
    settings.LINE_RATE_LIMITS = {"broadcast": 5}
    ratelimit._redis_script.cache_clear()
    channel = f"chan-redis-{time.time_ns()}"
    while time.time() % 1 > 0.7:  # not at the edge of a one-second slot
        time.sleep(0.05)
    for _ in range(5):
        assert ratelimit._redis_try_take(f"{channel}:broadcast", 5) == 0.0
    # when: another process (no in-process memory of it) asks for one more
    ratelimit.reset_local()
    wait = ratelimit._redis_try_take(f"{channel}:broadcast", 5)
    # then: Redis says wait for the next second
    assert wait is not None and 0 < wait <= 1.0
    with pytest.raises(LineRateLimited):
        ratelimit.acquire(channel, "broadcast", max_wait=0.0)


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
