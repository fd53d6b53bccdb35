"""Celery entry points of the core app (STYLE R10: ids in, one service call, idempotent)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from municipalities.line.inbound import webhook_events_drain, webhook_events_pending, webhook_events_process
from municipalities.line.talklog import talk_log_purge
from municipalities.line.webhook import WAKE_KEY, WAKE_SECONDS, WAKE_SEEN_SECONDS

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def webhook_events_process_task(municipality_id: int, webhook_event_ids: list[str]) -> int:
    """Process the events of one webhook body. Each event is claimed first: running twice is a no-op."""
    return webhook_events_process(municipality_id=municipality_id, webhook_event_ids=webhook_event_ids)


@shared_task(ignore_result=True)
def webhook_events_drain_task(municipality_id: int, lane: int = 0, *, follow_up: bool = False) -> int:
    """Process every stored event of one lane of a town (woken by the webhook). Safe to run
    twice at once: each event is claimed. A woken run deletes the wake flag first and, once it
    has drained, runs once more ``WAKE_SEEN_SECONDS`` later as a follow-up (see
    webhook._enqueue for why); a follow-up leaves the flag alone and has no follow-up of its own."""
    key = WAKE_KEY.format(municipality_id=municipality_id, lane=lane)
    if not follow_up:
        cache.delete(key)
    processed, finished = webhook_events_drain(municipality_id=municipality_id, lane=lane)
    if not finished:
        if cache.add(key, 1, WAKE_SECONDS):  # time budget spent: carry on in a new run
            webhook_events_drain_task.delay(municipality_id, lane)
    elif not follow_up:
        webhook_events_drain_task.apply_async(
            (municipality_id, lane), {"follow_up": True}, countdown=WAKE_SEEN_SECONDS
        )
    return processed


@shared_task(ignore_result=True)
def webhook_events_sweep_task() -> int:
    """Every minute: enqueue processing for events stored but never processed (a lost task)."""
    pending = webhook_events_pending()
    for municipality_id, event_ids in pending.items():
        webhook_events_process_task.delay(municipality_id, event_ids)
    return sum(len(ids) for ids in pending.values())


@shared_task(ignore_result=True)
def talk_log_retention_task() -> int:
    """Daily: delete talk-log rows and webhook events older than each town's
    ``talk_log_retention_days``."""
    deleted = talk_log_purge()
    logger.info("talk log retention: %d rows deleted", deleted)
    return deleted
