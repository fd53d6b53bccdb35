"""Celery entry points of the chatbot (STYLE R10: ids in, one service call, idempotent)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from chatbot import services
from municipalities.line.tasks import LineSendTask

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def garbage_reminders_dispatch_task() -> int:
    """Nightly at 20:00 (Asia/Tokyo): claim tomorrow's reminders and send each once.

    Runs twice without harm: the claim is a unique row per resident and day, and a row already
    sent is skipped by the send task.
    """
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    reminder_ids = services.garbage_reminders_claim(collection_on=tomorrow)
    for reminder_id in reminder_ids:  # the claim has committed: enqueueing now is safe
        garbage_reminder_send_task.delay(reminder_id)
    logger.info("garbage reminders for %s: %d to send", tomorrow, len(reminder_ids))
    return len(reminder_ids)


@shared_task(ignore_result=True, base=LineSendTask, failure_model="chatbot.GarbageReminder")
def garbage_reminder_send_task(reminder_id: int) -> None:
    services.garbage_reminder_send(reminder_id=reminder_id)


@shared_task(ignore_result=True, base=LineSendTask, failure_model="chatbot.StaffReply")
def talk_reply_push_task(reply_id: int) -> None:
    services.talk_reply_push(reply_id=reply_id)


@shared_task(ignore_result=True)
def handoff_notify_task(handoff_id: int) -> None:
    """E-mail the town that a resident asked for a person (once per hand-off request)."""
    services.handoff_notify(handoff_id=handoff_id)


@shared_task(ignore_result=True, base=LineSendTask, failure_model="chatbot.UnansweredAsk")
def unanswered_answer_push_task(ask_id: int) -> None:
    services.unanswered_answer_push(ask_id=ask_id)
