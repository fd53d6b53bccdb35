"""Every task that sends to LINE retries the same way (one policy, bounded) and records its
final failure; the broadcast batches count their attempts on their row with the same back-off."""

from __future__ import annotations

import pytest

from municipalities.line.errors import LineRateLimited, LineRetryableError
from municipalities.line.retry import LINE_MAX_ATTEMPTS, line_backoff_seconds
from municipalities.line.tasks import LineSendTask
from municipalities.tasks_queue import task_named

LINE_SENDING_TASKS = [
    "applications.tasks.submission_notify_task",
    "broadcasts.tasks.broadcast_test_send_task",
    "broadcasts.tasks.delivery_batch_send_task",
    "broadcasts.tasks.receive_settings_confirm_task",
    "chatbot.tasks.garbage_reminder_send_task",
    "chatbot.tasks.talk_reply_push_task",
    "chatbot.tasks.unanswered_answer_push_task",
    "reservations.tasks.reminder_send_task",
    "reservations.tasks.reservation_notify_task",
]


@pytest.mark.parametrize("name", LINE_SENDING_TASKS)
def test_every_line_sending_task_has_the_one_retry_policy(name):
    task = task_named(name)
    assert isinstance(task, LineSendTask)
    assert set(task.autoretry_for) == {LineRateLimited, LineRetryableError}
    assert (task.max_retries, task.retry_jitter, task.acks_late) == (LINE_MAX_ATTEMPTS - 1, True, True)
    assert task.failure_model  # the row the final failure is recorded on


def test_the_broadcast_batches_use_the_same_back_off():
    from broadcasts.services import batch_send

    assert batch_send.backoff_seconds is line_backoff_seconds
    assert batch_send.MAX_ATTEMPTS == LINE_MAX_ATTEMPTS
