"""Celery entry points (STYLE R10): take ids, call one service, can run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from municipalities.line.tasks import LineSendTask
from municipalities.models import StaffUser

from .models import SlotImportJob
from .services import (
    ReservationError,
    reminder_send,
    reminders_schedule_due,
    reservation_notify,
    slot_counters_reconcile,
    slot_import_job_run,
    slot_import_jobs_recover,
    waitlist_auto_book,
    waitlist_expire_holds,
    waitlist_expired_notify,
    waitlist_offer_notify,
)

logger = logging.getLogger(__name__)


@shared_task(base=LineSendTask, failure_model="reservations.Reservation")
def reservation_notify_task(reservation_id: int, kind: str) -> bool:
    return reservation_notify(reservation_id=reservation_id, kind=kind)


@shared_task
def reminders_send_due_task() -> int:
    """Every minute (beat): offer again the rows a dead worker left in 送信中, write the due
    reminder rows, then send each pending one once."""
    ids = reminders_schedule_due()
    for delivery_id in ids:
        reminder_send_task.delay(delivery_id)
    return len(ids)


@shared_task(base=LineSendTask, failure_model="reservations.ReminderDelivery")
def reminder_send_task(delivery_id: int) -> str:
    return reminder_send(delivery_id=delivery_id)


@shared_task
def reservation_counters_reconcile_task() -> int:
    fixed = slot_counters_reconcile()
    for row in fixed:
        logger.warning(
            "reservations: slot %(slot)s reserved was %(was)s, recounted %(actual)s, set %(now)s", row
        )
    return len(fixed)


@shared_task
def slot_import_job_check_task(job_id: int) -> str:
    job = SlotImportJob.objects.get(pk=job_id)
    return slot_import_job_run(job=job, commit=False).status


@shared_task
def slot_import_job_apply_task(job_id: int, actor_id: int | None = None) -> str:
    """Import a checked file; ``actor_id`` is the staff member who confirmed it, checked again
    in the job's department when the task runs (a role revoked meanwhile stops the import)."""
    job = SlotImportJob.objects.get(pk=job_id)
    actor = StaffUser.objects.filter(pk=actor_id).first() if actor_id is not None else None
    if actor_id is not None and actor is None:
        return job.status  # the account is gone: nobody to import as
    try:
        return slot_import_job_run(job=job, commit=True, actor=actor).status
    except ReservationError as exc:  # the role was revoked meanwhile: the job stays checked
        logger.warning("slot import job %s not imported: %s", job_id, exc.message)
        return job.status


@shared_task
def slot_import_jobs_recover_task() -> int:
    """Every minute (beat): take up the import jobs whose worker stopped heartbeating."""
    recovered = slot_import_jobs_recover()
    for what, ids in recovered.items():
        if ids:
            logger.warning("slot import jobs %s after a lost worker: %s", what, ids)
    return sum(len(ids) for ids in recovered.values())


@shared_task(base=LineSendTask, failure_model="reservations.WaitlistEntry")
def waitlist_offer_notify_task(entry_id: int) -> bool:
    return waitlist_offer_notify(entry_id=entry_id)


@shared_task(base=LineSendTask, failure_model="reservations.WaitlistEntry")
def waitlist_expired_notify_task(entry_id: int) -> bool:
    return waitlist_expired_notify(entry_id=entry_id)


@shared_task
def waitlist_auto_book_task(entry_id: int) -> str:
    return waitlist_auto_book(entry_id=entry_id)


@shared_task
def waitlist_expire_holds_task() -> int:
    """Every minute (beat): end the waitlist offers whose hold ran out, each once, and pass the place on."""
    return waitlist_expire_holds()
