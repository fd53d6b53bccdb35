"""Outbound rate limits per channel and endpoint, shared by every process through Redis.

LINE limits each channel per endpoint (multicast 200 requests/s, push and reply 2,000/s …) and
answers 429 beyond. The client calls ``acquire(channel, endpoint)`` before each request, so
callers never think about it: it blocks until a slot is free, or raises ``LineRateLimited``
after ``max_wait`` seconds so that a Celery task can retry later instead of holding a worker.

With Redis (``settings.HAS_REDIS``) the window is a Redis sorted set per channel and endpoint:
at most ``limit / 10`` requests in any 100 ms (so at most ``limit`` in any second, and bursts stay
smooth), shared by fifty workers on five machines. Without Redis (the embedded demo, one process),
or when Redis is unreachable, an in-process sliding window does the same for this process.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from functools import cache

from django.conf import settings

from municipalities.line.errors import LineRateLimited

logger = logging.getLogger(__name__)

# Requests per second LINE allows per channel. Keep in sync with LINE's "Rate limits" table.
DEFAULT_LIMITS: dict[str, int] = {
    "multicast": 200,
    "push": 2000,
    "reply": 2000,
    "profile": 2000,
    # broadcast is limited per hour by LINE (60/h); one per second keeps a runaway loop civil.
    "broadcast": 1,
}
DEFAULT_MAX_WAIT_SECONDS = 10.0

# A sliding window shared by every process: a sorted set of request times per key (Redis
# clock, so machines whose clocks differ agree). Returns 0 when a slot was taken, otherwise the
# milliseconds until the oldest request leaves the window.
_LUA_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local span = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
if redis.call('ZCARD', KEYS[1]) < allowed then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(span * 2))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + span - now)
"""


def limit_for(endpoint: str) -> int:
    overrides: dict[str, int] = settings.LINE_RATE_LIMITS
    return int(overrides.get(endpoint, DEFAULT_LIMITS.get(endpoint, 0)))


def _slot(limit: int) -> tuple[int, float]:
    """(slot length in ms, requests allowed per slot)."""
    if limit >= 10:
        return 100, limit / 10
    return 1000, float(limit)


class _LocalWindow:
    """A sliding one-second window per key, for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}

    def try_take(self, key: str, limit: int) -> float:
        """Take a slot and return 0, or return the seconds to wait before trying again."""
        slot_ms, allowed = _slot(limit)
        span = slot_ms / 1000
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) < allowed:
                window.append(now)
                return 0.0
            return max(window[0] + span - now, 0.001)


_local = _LocalWindow()


@cache
def _redis_script():  # noqa: ANN202 - redis types are optional
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client.register_script(_LUA_SLIDING_WINDOW)


def _redis_try_take(key: str, limit: int) -> float | None:
    """Like ``_LocalWindow.try_take`` but shared through Redis; None when Redis is unusable."""
    import redis

    slot_ms, allowed = _slot(limit)
    try:
        wait_ms = float(_redis_script()(keys=[f"line:rl:{key}"], args=[slot_ms, allowed, uuid.uuid4().hex]))
    except (redis.RedisError, OSError) as exc:
        logger.warning("LINE rate limiter: Redis unusable (%s); limiting in-process", exc)
        return None
    return 0.0 if wait_ms <= 0 else max(wait_ms / 1000, 0.001)


def acquire(channel: str, endpoint: str, *, max_wait: float = DEFAULT_MAX_WAIT_SECONDS) -> None:
    """Wait for a free slot for ``endpoint`` on ``channel``; LineRateLimited after ``max_wait``."""
    limit = limit_for(endpoint)
    if limit <= 0:
        return
    key = f"{channel}:{endpoint}"
    deadline = time.monotonic() + max_wait
    while True:
        wait = _redis_try_take(key, limit) if settings.HAS_REDIS else None
        if wait is None:
            wait = _local.try_take(key, limit)
        if wait == 0.0:
            return
        # A little jitter spreads the processes that woke for the same slot (more would leave
        # slots unused: multicast has only 20 per 100 ms).
        wait += random.uniform(0, 0.002)  # noqa: S311 - not cryptographic
        if time.monotonic() + wait > deadline:
            raise LineRateLimited(f"local rate limit for {endpoint} ({limit}/s) still full after {max_wait}s")
        time.sleep(wait)


def reset_local() -> None:
    """Forget the in-process windows (tests)."""
    global _local
    _local = _LocalWindow()
