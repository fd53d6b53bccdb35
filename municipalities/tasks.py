"""Celery entry points of the core app (STYLE R10: ids in, one service call, idempotent)."""

from __future__ import annotations

import logging

from celery import shared_task
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
# Longer than a run takes (a 50 s budget, checked before each event, plus that event's LINE
# calls); a run that died holding the lock holds up its lane this long at most, then the
# sweep's next wake-up drains it.
LANE_LOCK_SECONDS = 300


def _take_lane(lock: str, again: str) -> bool:
    if cache.add(lock, 1, LANE_LOCK_SECONDS):
        return True
    cache.set(again, 1, LANE_LOCK_SECONDS)
    # asked again after leaving word: a run that ended in between (and found no word) is not missed
    return cache.add(lock, 1, LANE_LOCK_SECONDS)


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
    wake, lock, again = WAKE_KEY.format(**keys), LANE_LOCK_KEY.format(**keys), LANE_AGAIN_KEY.format(**keys)
    if not follow_up:
        cache.delete(wake)
    if not _take_lane(lock, again):
        return 0
    try:
        processed, finished = webhook_events_drain(municipality_id=municipality_id, lane=lane)
    finally:
        cache.delete(lock)
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
