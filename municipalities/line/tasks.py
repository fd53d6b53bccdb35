"""The base of every Celery task that sends to LINE: one retry policy, and the final failure
recorded where staff see it (STYLE R10)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from municipalities.line.failures import line_send_failure_record
from municipalities.line.retry import (
    LINE_BACKOFF_BASE_SECONDS,
    LINE_BACKOFF_MAX_SECONDS,
    LINE_MAX_ATTEMPTS,
    LINE_RETRYABLE,
)

logger = logging.getLogger(__name__)


class LineSendTask(Task):
    """Use as ``@shared_task(base=LineSendTask, failure_model="<app>.<Model>")``; the task's first
    argument is the id of that model's row (the submission, the reservation, the batch …).

    429 and 5xx/timeouts are retried by Celery with exponential back-off and full jitter (the
    policy of ``municipalities.line.retry``); each task carries a retry key, so a retry of a
    request that did arrive is answered 409 and nobody gets a message twice. After the last
    retry, or on another error the task did not handle, ``on_failure`` records the failure on
    that row's history.
    """

    autoretry_for = LINE_RETRYABLE
    retry_backoff = LINE_BACKOFF_BASE_SECONDS
    retry_backoff_max = LINE_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = LINE_MAX_ATTEMPTS - 1
    acks_late = True
    failure_model: str = ""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if not self.failure_model or not args:
            return
        try:
            line_send_failure_record(
                model_label=self.failure_model, object_id=args[0], task_name=self.name, error=exc
            )
        except Exception:  # recording must never hide the task's own failure
            logger.exception("could not record the failure of %s %s", self.name, args)
