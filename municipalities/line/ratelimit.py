"""Outbound rate limits per channel and endpoint, shared by every process through Redis.

LINE limits each channel per endpoint (multicast 200 requests/s, push and reply 2,000/s …) and
answers 429 beyond. The client calls ``acquire(channel, endpoint)`` before each request, so
callers never think about it: it blocks until the request's turn, or raises ``LineRateLimited``
at once when that turn is more than ``max_wait`` seconds away, so that a Celery task retries
later instead of holding a worker.

The limit is a sliding window: at most ``limit / 10`` requests in any 102 ms (a limit that is
not a multiple of ten: ``limit`` in any 1.02 s), so at most ``limit`` in any second with 2 % to
spare for requests that arrive late, and bursts stay smooth. Each request books its turn in one
step: now if the window has room, otherwise the moment it will have room, counting the turns
already booked. A caller asks once and sleeps exactly until its turn; callers do not wake
together to race for a freed place, and one that wakes late delays nobody else. With Redis
(``settings.HAS_REDIS``) the booked turns are a Redis sorted set per channel and endpoint (its
clock, so machines whose clocks differ agree), shared by fifty workers on five machines. Without
Redis (the embedded demo, one process), or when Redis is unreachable, an in-process window does
the same for this process.

A 429 from LINE means LINE counted more than this window did (another sender on the channel, a
lowered limit). The caller reports it (``throttled``); one 429 now and then (LINE has bad
moments) changes nothing, and its request simply takes the next turn. A burst, THROTTLE_BURST or
more in one second, pauses every caller's turns for THROTTLE_PAUSE_SECONDS, so that LINE's own
second runs out before anyone asks again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from functools import cache

import redis
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
    # Rich menus (municipalities/line/richmenus_gateway.py): LINE allows 100 creates and deletes
    # an hour and 3 batch controls an hour; one a second keeps a loop civil, and publishing reuses
    # menus so that the hourly limits are not reached. The other rich-menu endpoints: 2,000/s.
    "richmenu_create": 1,
    "richmenu_batch": 1,
    "richmenu": 2000,
    "richmenu_bulk": 2000,
    # Insight (followers, deliveries, demographics): read once a night per town.
    "insight": 2000,
}
DEFAULT_MAX_WAIT_SECONDS = 10.0
# 429s in one second that count as a burst: a tenth of the requests a second allows, at least 3.
THROTTLE_BURST_SHARE = 0.1
THROTTLE_PAUSE_SECONDS = 1.0
# A booked turn leaves the window 2 % after the window's length: requests reach LINE a few
# milliseconds after their turn, some later than others, and must still fit LINE's second.
WINDOW_MARGIN = 1.02

# Book the next turn in KEYS[1] (a sorted set of booked turns, ms on Redis's clock). ARGV: the
# window (ms), the requests allowed in it, the longest acceptable wait (ms), a unique member.
# Returns {1, wait} with the turn booked, or {0, wait} when it is too far away (nothing booked).
# The turn is now, or the moment the window that ends at it holds fewer than ARGV[2] turns; never
# before the last booked turn, nor before a pause after a burst of 429s (KEYS[2], ms).
# Milliseconds as strings: Redis would truncate a Lua number.
_LUA_BOOK_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local span = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local turn = now
local paused = redis.call('GET', KEYS[2])
if paused then
  turn = math.max(turn, tonumber(paused))
end
local booked = redis.call('ZCARD', KEYS[1])
if booked > 0 then
  turn = math.max(turn, tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]))
end
if booked >= allowed then
  local edge = redis.call('ZRANGE', KEYS[1], booked - allowed, booked - allowed, 'WITHSCORES')
  turn = math.max(turn, tonumber(edge[2]) + span)
end
local wait = string.format('%.3f', turn - now)
if turn - now > tonumber(ARGV[3]) then
  return {0, wait}
end
redis.call('ZADD', KEYS[1], turn, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(turn - now + span * 2))
return {1, wait}
"""

# Count a 429 in KEYS[1] (a counter that lives one second from the first 429). ARGV: the 429s
# that make a burst, the pause (ms). At a burst, every turn waits until the pause ends (KEYS[2],
# ms on Redis's clock) and the count starts again. Returns 1 when this 429 made a burst.
_LUA_THROTTLED = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], 1000)
end
if n < tonumber(ARGV[1]) then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local pause = tonumber(ARGV[2])
redis.call('SET', KEYS[2], string.format('%.3f', now + pause), 'PX', math.ceil(pause))
redis.call('DEL', KEYS[1])
return 1
"""


def limit_for(endpoint: str) -> int:
    overrides: dict[str, int] = settings.LINE_RATE_LIMITS
    return int(overrides.get(endpoint, DEFAULT_LIMITS.get(endpoint, 0)))


def burst_for(limit: int) -> int:
    """429s in one second that make a burst, for an endpoint allowing ``limit`` a second."""
    return max(3, int(limit * THROTTLE_BURST_SHARE))


def _slot(limit: int) -> tuple[float, int]:
    """(window in ms, requests allowed in it), the window with its margin."""
    if limit % 10 == 0:
        return 100 * WINDOW_MARGIN, limit // 10
    return 1000 * WINDOW_MARGIN, limit


class _LocalWindow:
    """The booked turns per key, for one process (same rule as the Redis script)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: dict[str, deque[float]] = {}
        self._throttled: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def book(self, key: str, limit: int, max_wait: float) -> tuple[bool, float]:
        """(booked, seconds until the turn): booked only if the turn is within ``max_wait``."""
        slot_ms, allowed = _slot(limit)
        span = slot_ms / 1000
        now = time.monotonic()
        with self._lock:
            turns = self._turns.setdefault(key, deque())
            while turns and turns[0] <= now - span:
                turns.popleft()
            turn = max(now, turns[-1]) if turns else now
            turn = max(turn, self._paused_until.get(key, 0.0))
            if len(turns) >= allowed:
                turn = max(turn, turns[-allowed] + span)
            if turn - now > max_wait:
                return False, turn - now
            turns.append(turn)
            return True, turn - now

    def throttled(self, key: str, burst: int) -> bool:
        """Count a 429; at ``burst`` in one second, pause the key's turns. True at a burst."""
        now = time.monotonic()
        with self._lock:
            seen = self._throttled.setdefault(key, deque())
            while seen and seen[0] <= now - 1.0:
                seen.popleft()
            seen.append(now)
            if len(seen) < burst:
                return False
            seen.clear()
            self._paused_until[key] = now + THROTTLE_PAUSE_SECONDS
            return True


_local = _LocalWindow()


@cache
def _redis_client():  # noqa: ANN202 - redis types are optional
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)


@cache
def _redis_script():  # noqa: ANN202 - redis types are optional
    return _redis_client().register_script(_LUA_BOOK_TURN)


@cache
def _redis_throttled_script():  # noqa: ANN202 - redis types are optional
    return _redis_client().register_script(_LUA_THROTTLED)


def _redis_book(key: str, limit: int, max_wait: float) -> tuple[bool, float] | None:
    """Like ``_LocalWindow.book`` but shared through Redis; None when Redis is unusable."""
    slot_ms, allowed = _slot(limit)
    try:
        booked, wait_ms = _redis_script()(
            keys=[f"line:rl:{key}", f"line:rl:pause:{key}"],
            args=[slot_ms, allowed, max_wait * 1000, uuid.uuid4().hex],
        )
    except (redis.RedisError, OSError) as exc:
        logger.warning("LINE rate limiter: Redis unusable (%s); limiting in-process", exc)
        return None
    return bool(booked), max(float(wait_ms) / 1000, 0.0)


def acquire(channel: str, endpoint: str, *, max_wait: float = DEFAULT_MAX_WAIT_SECONDS) -> None:
    """Wait for this request's turn for ``endpoint`` on ``channel``; LineRateLimited at once when
    the turn is more than ``max_wait`` seconds away."""
    limit = limit_for(endpoint)
    if limit <= 0:
        return
    key = f"{channel}:{endpoint}"
    booking = _redis_book(key, limit, max_wait) if settings.HAS_REDIS else None
    if booking is None:
        booking = _local.book(key, limit, max_wait)
    booked, wait = booking
    if not booked:
        raise LineRateLimited(f"rate limit for {endpoint} ({limit}/s): the next turn is {wait:.1f}s away")
    if wait > 0:
        time.sleep(wait)


def throttled(channel: str, endpoint: str) -> bool:
    """LINE answered 429 to a request for ``endpoint`` on ``channel``. Returns True when this
    429 completed a burst and every caller now waits THROTTLE_PAUSE_SECONDS for its next turn
    (logged); a lone 429 only counts."""
    limit = limit_for(endpoint)
    if limit <= 0:
        return False
    key = f"{channel}:{endpoint}"
    burst = burst_for(limit)
    paused: bool | None = None
    if settings.HAS_REDIS:
        try:
            paused = bool(
                _redis_throttled_script()(
                    keys=[f"line:rl:429:{key}", f"line:rl:pause:{key}"],
                    args=[burst, THROTTLE_PAUSE_SECONDS * 1000],
                )
            )
        except (redis.RedisError, OSError) as exc:
            logger.warning("LINE rate limiter: Redis unusable (%s); counting 429s in-process", exc)
    if paused is None:
        paused = _local.throttled(key, burst)
    if paused:
        logger.warning(
            "LINE answered %d or more 429s for %s within a second: pausing for %.1fs",
            burst,
            endpoint,
            THROTTLE_PAUSE_SECONDS,
        )
    return paused


def reset_local() -> None:
    """Forget the in-process windows (tests)."""
    global _local
    _local = _LocalWindow()
