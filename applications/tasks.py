"""Celery entry points of the applications app (ids in, idempotent, retry keys)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from applications.models import Submission
from applications.notices import submission_message
from applications.services import attachments_purge_stale
from applications.services.submissions import PAYMENT_NOTICE_DELAY_SECONDS
from applications.workflow import SubmissionStatus
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.errors import LineClientError
from municipalities.line.tasks import LineSendTask
from municipalities.models import PaymentMethod

logger = logging.getLogger(__name__)


def _payment_notice_too_early(submission: Submission, *, version: int, status: str) -> bool:
    """The delayed 支払待ち notice of an online payment, run before its delay has passed."""
    if status != SubmissionStatus.AWAITING_PAYMENT or version != 1:
        return False
    if not submission.payment_method or submission.payment_method == PaymentMethod.COUNTER:
        return False
    due = submission.submitted_at + dt.timedelta(seconds=PAYMENT_NOTICE_DELAY_SECONDS)
    return timezone.now() < due


@shared_task(base=LineSendTask, failure_model="applications.Submission")
def submission_notify_task(submission_id: int, version: int, status: str = "") -> str:
    """Push the resident the notice of one change (``version``, which entered ``status``), once.

    The retry key is (submission, version): a retried or duplicated task is answered like
    LINE's 409, so each change reaches the resident exactly once even when tasks lag behind.
    429/5xx are retried (LineSendTask's policy; the last failure is recorded on the
    submission's history); other 4xx are logged.
    """
    submission = (
        Submission.objects.select_related("form__department__municipality", "resident")
        .filter(pk=submission_id)
        .first()
    )
    if submission is None:
        return "skipped"
    resident = submission.resident
    if not resident.is_following:
        return "not-following"
    if status == SubmissionStatus.AWAITING_PAYMENT and version == 1 and submission.paid_at:
        # Paid before the delayed 支払待ち notice went out: the payment's notice says it all.
        return "superseded"
    if _payment_notice_too_early(submission, version=version, status=status):
        # Run before its countdown: Celery's eager mode (the demo) runs a delayed task at once,
        # while the resident is still on the checkout page, and the payment's notice would
        # follow a minute later (two messages). The notice is a reminder for a resident who
        # left the checkout; it only goes out once the delay has passed.
        return "too-early"
    client = get_line_client(submission.form.department.municipality)
    try:
        result = client.push(
            resident.line_user_id,
            submission_message(submission, status=status or submission.status, version=version),
            retry_key=retry_key_for("applications.submission", submission.pk, version),
            department=submission.form.department,
        )
    except LineClientError as exc:
        logger.warning("submission notice %s v%s refused by LINE: %s", submission_id, version, exc.message)
        return "refused"
    return "already" if result.already_accepted else "sent"


@shared_task
def attachments_purge_stale_task() -> int:
    """Daily: remove staged uploads that were never submitted."""
    return attachments_purge_stale()
