"""Celery entry points of the core app (STYLE R10: ids in, one service call, idempotent)."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import uuid
from typing import Protocol

import redis
from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from municipalities.line.inbound import (
    EventDeferred,
    webhook_events_drain,
    webhook_events_process,
    webhook_lanes_pending,
)
from municipalities.line.retry import LINE_MAX_ATTEMPTS, TRANSIENT_ERRORS, is_transient, line_backoff_seconds
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
# The lease: short, so that a run that died holding the lock (a worker killed, or its Redis
# restarted with the lock in its data) holds up its lane this long at most; the sweep then
# wakes the lane. A live run extends it every LANE_LOCK_EXTEND_SECONDS from a thread while
# it works, however long one event takes. The release is owner-checked: a run that lost its
# lock (Redis restarted without its data, another run took the lane) leaves the other's alone,
# and stops before its next event.
LANE_LOCK_SECONDS = 15
LANE_LOCK_EXTEND_SECONDS = 5
# Set while a run turned away from its lane is due to look at it again (see _check_lane_later).
LANE_CHECK_KEY = "line:webhook:lane-check:{municipality_id}:{lane}"


class _LaneLock(Protocol):
    def acquire(self) -> bool: ...
    def extend(self) -> bool: ...
    def remaining(self) -> float | None: ...
    def release(self) -> None: ...


class _CacheLaneLock:
    """Without Redis (the demo: SQLite, eager tasks, the local-memory cache), every drain runs
    inline in one process: the cache's ``add`` is atomic there, and the owner check on release
    (read, then delete) cannot interleave with another process."""

    def __init__(self, key: str) -> None:
        self.key, self.token = key, uuid.uuid4().hex

    def acquire(self) -> bool:
        return cache.add(self.key, self.token, LANE_LOCK_SECONDS)

    def extend(self) -> bool:
        return cache.get(self.key) == self.token and cache.touch(self.key, LANE_LOCK_SECONDS)

    def remaining(self) -> float | None:
        return None  # one process: a turned-away run is never left behind a dead one

    def release(self) -> None:
        if cache.get(self.key) == self.token:
            cache.delete(self.key)
        else:
            logger.warning("lane lock %s lapsed and was taken by another run; left to it", self.key)


class _RedisLaneLock:
    """redis-py's ``Lock``: SET NX with a token and the lease, extended and released only by
    its owner (Lua compare-and-set), under the cache's key so that it shares the cache's
    prefix. Not thread-local: the run's keeper thread extends it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = _redis().lock(
            cache.make_key(key), timeout=LANE_LOCK_SECONDS, blocking=False, thread_local=False
        )

    def acquire(self) -> bool:
        return bool(self.lock.acquire())

    def extend(self) -> bool:
        try:
            return bool(self.lock.reacquire())  # the lease starts again from now
        except redis.exceptions.LockNotOwnedError:
            return False

    def remaining(self) -> float | None:
        """Seconds left of the holder's lease (whoever holds it); None when nobody does."""
        left = self.lock.redis.pttl(self.lock.name)
        return left / 1000 if left and left > 0 else None

    def release(self) -> None:
        try:
            self.lock.release()
        except redis.exceptions.LockNotOwnedError:
            logger.warning("lane lock %s lapsed and was taken by another run; left to it", self.key)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _lane_lock(key: str) -> _LaneLock:
    return _RedisLaneLock(key) if settings.HAS_REDIS else _CacheLaneLock(key)


class _LaneKeeper:
    """Extends a run's lane lock every LANE_LOCK_EXTEND_SECONDS, in a thread, while the run
    works. ``held()`` turns false when the lock was lost, or could not be extended before its
    lease ran out (Redis away): the run stops before its next event, so that two runs never
    answer one lane's events side by side for longer than one event."""

    def __init__(self, lock: _LaneLock) -> None:
        self.lock = lock
        self._done = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="lane-keeper", daemon=True)

    def __enter__(self) -> _LaneKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def held(self) -> bool:
        return not self._lost.is_set()

    def _keep(self) -> None:
        extended_at = time.monotonic()
        wait = LANE_LOCK_EXTEND_SECONDS
        while not self._done.wait(wait):
            try:
                if not self.lock.extend():
                    logger.warning("lane lock %s was lost; this run stops", getattr(self.lock, "key", ""))
                    self._lost.set()
                    return
                extended_at, wait = time.monotonic(), LANE_LOCK_EXTEND_SECONDS
            except Exception as exc:  # Redis away: try each second while the lease lasts
                if time.monotonic() - extended_at >= LANE_LOCK_SECONDS - 1:
                    logger.warning("lane lock could not be extended (%r); this run stops", exc)
                    self._lost.set()
                    return
                wait = 1.0


def _take_lane(lock: _LaneLock, again: str) -> bool:
    if lock.acquire():
        return True
    cache.set(again, 1, LANE_LOCK_SECONDS)
    # asked again after leaving word: a run that ended in between (and found no word) is not missed
    return lock.acquire()


def _check_lane_later(lock: _LaneLock, keys: dict[str, int]) -> None:
    """A run turned away from its lane comes back when the holder's lease would end: if the
    holder died (a worker killed, or Redis restarted with the lock in its data), the lane is
    drained then instead of at the sweep; if it lives, it has extended its lease and this run is
    turned away again (one such check per lane at a time, ``LANE_CHECK_KEY``)."""
    remaining = lock.remaining()
    # the flag lapses just before the check runs, so that a check that is turned away again
    # (the holder lives) can set the next one
    if remaining is None or not cache.add(LANE_CHECK_KEY.format(**keys), 1, max(1, math.floor(remaining))):
        return
    _drain_again(keys["municipality_id"], keys["lane"], remaining + 0.1)


def _release_quietly(lock: _LaneLock) -> None:
    try:
        lock.release()
    except TRANSIENT_ERRORS as exc:  # Redis away: the lease ends by itself, soon
        logger.warning("lane lock not released (%r); it lapses within %s s", exc, LANE_LOCK_SECONDS)


def _drain_again(municipality_id: int, lane: int, countdown: float) -> None:
    """Run the lane's drain again in ``countdown`` seconds; if the broker is away too, the sweep
    wakes the lane (its events stay ``received``)."""
    try:
        webhook_events_drain_task.apply_async((municipality_id, lane), countdown=countdown)
    except Exception:
        logger.exception(
            "could not queue the drain of %s lane %s again; the sweep will", municipality_id, lane
        )


@shared_task(bind=True, ignore_result=True)
def webhook_events_drain_task(
    self: Task, municipality_id: int, lane: int = 0, *, follow_up: bool = False
) -> int:
    """Process every stored event of one lane of a town (woken by the webhook or the sweep).

    A woken run deletes the wake flag first and, once it has drained, runs once more
    ``WAKE_SEEN_SECONDS`` later as a follow-up (see webhook._enqueue for why); a follow-up leaves
    the flag alone and has no follow-up of its own. While a run drains the lane, another one
    (woken meanwhile, or the sweep's) does not drain it alongside, out of order: it leaves word
    and returns, and the running one drains again when it ends.

    Transient faults (``retry.is_transient``) never end in an apology here: an event that met
    one was given back (``inbound.EventDeferred``), and the lane is drained again after the
    retry policy's wait; Redis or the database away before or after the drain: the same, or,
    when the broker is away as well, the sweep wakes the lane.
    """
    keys = {"municipality_id": municipality_id, "lane": lane}
    wake, again = WAKE_KEY.format(**keys), LANE_AGAIN_KEY.format(**keys)
    lock = _lane_lock(LANE_LOCK_KEY.format(**keys))
    attempt = self.request.retries + 1
    try:
        if not follow_up:
            cache.delete(wake)
        if not _take_lane(lock, again):
            if not self.request.is_eager:
                _check_lane_later(lock, keys)
            return 0
    except TRANSIENT_ERRORS as exc:
        logger.warning("drain of %s lane %s could not start (%r)", municipality_id, lane, exc)
        if not self.request.is_eager and attempt < LINE_MAX_ATTEMPTS:
            raise self.retry(
                countdown=line_backoff_seconds(attempt), max_retries=LINE_MAX_ATTEMPTS - 1
            ) from exc
        return 0
    try:
        with _LaneKeeper(lock) as keeper:
            processed, finished = webhook_events_drain(
                municipality_id=municipality_id, lane=lane, keep_going=keeper.held
            )
    except EventDeferred as deferred:
        # the event stays first in its lane; in eager mode (no broker) the sweep takes it up
        _release_quietly(lock)
        if not self.request.is_eager:
            _drain_again(municipality_id, lane, deferred.retry_in)
        return 0
    except Exception as exc:
        _release_quietly(lock)
        if not is_transient(exc) or self.request.is_eager:
            raise
        logger.warning("drain of %s lane %s stopped (%r)", municipality_id, lane, exc)
        _drain_again(municipality_id, lane, line_backoff_seconds(attempt))
        return 0
    _release_quietly(lock)
    try:
        word_left = cache.delete(again)
        if not finished or word_left:  # time budget spent, lock lost, or a run was turned away: carry on
            if cache.add(wake, 1, WAKE_SECONDS):
                webhook_events_drain_task.delay(municipality_id, lane)
        elif not follow_up:
            webhook_events_drain_task.apply_async(
                (municipality_id, lane), {"follow_up": True}, countdown=WAKE_SEEN_SECONDS
            )
    except Exception:
        # Redis (cache and broker) went away after the drain: whatever came in since is taken
        # up by the sweep
        logger.exception("drain of %s lane %s could not queue its follow-up", municipality_id, lane)
    return processed


@shared_task(ignore_result=True)
def webhook_events_sweep_task() -> int:
    """Every 15 seconds: wake the drain of each lane that has events stored over
    ``inbound.SWEEP_AFTER`` ago and not processed (a lost wake-up or task, a run that died).
    Returns how many lanes it woke."""
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
