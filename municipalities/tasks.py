"""Celery entry points of the core app (STYLE R10: ids in, one service call, idempotent)."""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Protocol

import redis
from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from municipalities.line.inbound import webhook_events_drain, webhook_events_process, webhook_lanes_pending
from municipalities.line.talklog import talk_log_purge
from municipalities.line.webhook import WAKE_KEY, WAKE_SECONDS, WAKE_SEEN_SECONDS

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def webhook_events_process_task(municipality_id: int, webhook_event_ids: list[str]) -> int:
    """Process the events of one webhook body. Each event is claimed first: running twice is a no-op."""
    return webhook_events_process(municipality_id=municipality_id, webhook_event_ids=webhook_event_ids)


# One run drains a lane at a time, so that a resident's events are processed in order.
LANE_LOCK_KEY = "line:webhook:draining:{municipality_id}:{lane}"
# Left by a run that found its lane taken: the running one drains once more when it ends.
LANE_AGAIN_KEY = "line:webhook:drain-again:{municipality_id}:{lane}"
# The lease: longer than a run takes (a 50 s budget, checked before each event, plus that
# event's LINE calls), so a run never needs to extend it; a run that died holding the lock
# holds up its lane this long at most, then the sweep's next wake-up drains it. Should a run
# outlive it anyway, its release is owner-checked and leaves the next run's lock alone.
LANE_LOCK_SECONDS = 300


class _LaneLock(Protocol):
    def acquire(self) -> bool: ...
    def release(self) -> None: ...


class _CacheLaneLock:
    """Without Redis (the demo: SQLite, eager tasks, the local-memory cache), every drain runs
    inline in one process: the cache's ``add`` is atomic there, and the owner check on release
    (read, then delete) cannot interleave with another process."""

    def __init__(self, key: str) -> None:
        self.key, self.token = key, uuid.uuid4().hex

    def acquire(self) -> bool:
        return cache.add(self.key, self.token, LANE_LOCK_SECONDS)

    def release(self) -> None:
        if cache.get(self.key) == self.token:
            cache.delete(self.key)
        else:
            logger.warning("lane lock %s lapsed and was taken by another run; left to it", self.key)


class _RedisLaneLock:
    """redis-py's ``Lock``: SET NX with a token and the lease, released only by its owner (a
    Lua compare-and-delete), under the cache's key so that it shares the cache's prefix."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = _redis().lock(cache.make_key(key), timeout=LANE_LOCK_SECONDS, blocking=False)

    def acquire(self) -> bool:
        return bool(self.lock.acquire())

    def release(self) -> None:
        try:
            self.lock.release()
        except redis.exceptions.LockNotOwnedError:
            logger.warning("lane lock %s lapsed and was taken by another run; left to it", self.key)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _lane_lock(key: str) -> _LaneLock:
    return _RedisLaneLock(key) if settings.HAS_REDIS else _CacheLaneLock(key)


def _take_lane(lock: _LaneLock, again: str) -> bool:
    if lock.acquire():
        return True
    cache.set(again, 1, LANE_LOCK_SECONDS)
    # asked again after leaving word: a run that ended in between (and found no word) is not missed
    return lock.acquire()


@shared_task(ignore_result=True)
def webhook_events_drain_task(municipality_id: int, lane: int = 0, *, follow_up: bool = False) -> int:
    """Process every stored event of one lane of a town (woken by the webhook or the sweep).

    A woken run deletes the wake flag first and, once it has drained, runs once more
    ``WAKE_SEEN_SECONDS`` later as a follow-up (see webhook._enqueue for why); a follow-up leaves
    the flag alone and has no follow-up of its own. While a run drains the lane, another one
    (woken meanwhile, or the sweep's) does not drain it alongside, out of order: it leaves word
    and returns, and the running one drains again when it ends.
    """
    keys = {"municipality_id": municipality_id, "lane": lane}
    wake, again = WAKE_KEY.format(**keys), LANE_AGAIN_KEY.format(**keys)
    lock = _lane_lock(LANE_LOCK_KEY.format(**keys))
    if not follow_up:
        cache.delete(wake)
    if not _take_lane(lock, again):
        return 0
    try:
        processed, finished = webhook_events_drain(municipality_id=municipality_id, lane=lane)
    finally:
        lock.release()
    word_left = cache.delete(again)
    if not finished or word_left:  # time budget spent, or a run was turned away: carry on in a new run
        if cache.add(wake, 1, WAKE_SECONDS):
            webhook_events_drain_task.delay(municipality_id, lane)
    elif not follow_up:
        webhook_events_drain_task.apply_async(
            (municipality_id, lane), {"follow_up": True}, countdown=WAKE_SEEN_SECONDS
        )
    return processed


@shared_task(ignore_result=True)
def webhook_events_sweep_task() -> int:
    """Every minute: wake the drain of each lane that has events stored over a minute ago and
    not processed (a lost wake-up or task). Returns how many lanes it woke."""
    lanes = webhook_lanes_pending()
    for municipality_id, lane in lanes:
        webhook_events_drain_task.delay(municipality_id, lane)
    return len(lanes)


@shared_task(ignore_result=True)
def talk_log_retention_task() -> int:
    """Daily: delete talk-log rows and webhook events older than each town's
    ``talk_log_retention_days``."""
    deleted = talk_log_purge()
    logger.info("talk log retention: %d rows deleted", deleted)
    return deleted
