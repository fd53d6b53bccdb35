"""Reminders: which are due, and sending each exactly once."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from municipalities.claims import claim, claims_reoffer_stale, release_fields
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.errors import LineClientError, LineRateLimited, LineRetryableError

from ..models import Menu, ReminderDelivery, ReminderStatus, Reservation, ReservationStatus
from ..notifications import notice_messages, reminder_messages

# A reminder whose sending killed its worker this many times is recorded as failed, not retried.
REMINDER_MAX_CLAIMS = 5
_WORKER_LOST = "送信中に処理が繰り返し中断されたため、送信を取りやめました。"


def reminder_claims_reoffer_stale(*, now: dt.datetime | None = None) -> list[int]:
    """Put reminders left 送信中 by a dead worker back to 送信待ち; returns their ids.

    A row is stale when its worker has not heartbeaten for ``claims.stale_after()`` (a claim
    is one push, so its only beat is the claim itself; see ``CLAIM_STALE_AFTER_SECONDS``).
    The re-send carries the same retry key, so LINE answers 409 if the first push had arrived.
    A row claimed REMINDER_MAX_CLAIMS times already becomes 失敗 instead (a message that kills
    every worker must not be retried for ever). Runs inside the caller's transaction or its own.
    """
    now = now or timezone.now()
    sending = ReminderDelivery.objects.filter(status=ReminderStatus.SENDING)
    claims_reoffer_stale(
        sending.filter(claim_count__gte=REMINDER_MAX_CLAIMS),
        now=now,
        status=ReminderStatus.FAILED,
        error=_WORKER_LOST,
    )
    return claims_reoffer_stale(sending, now=now, status=ReminderStatus.PENDING)


@transaction.atomic(durable=True)
def reminders_schedule_due(*, now: dt.datetime | None = None) -> list[int]:
    """Write a delivery row for every (active booking, reminder offset) that is due now.

    A reminder is due when its time has come and the slot has not started; one that was already
    past when the booking was made is not sent. The unique constraint
    ``reservations_reminderdelivery_once`` makes a second run write nothing. Rows a dead worker
    left in 送信中 are offered again first (``reminder_claims_reoffer_stale``). Returns the ids
    of the pending rows due now (new, re-offered, or waiting for a retry), to be sent.
    """
    now = now or timezone.now()
    reminder_claims_reoffer_stale(now=now)
    local_now = timezone.localtime(now)
    new_rows: list[ReminderDelivery] = []
    # Suspended menus take no new bookings, but the bookings they have still get their reminders.
    for menu in Menu.objects.exclude(reminder_offsets="").only("pk", "reminder_offsets"):
        for offset in menu.offsets:
            if offset.at is not None:
                last_day = local_now.date() + dt.timedelta(days=offset.days)
                if local_now.time() < offset.at:
                    last_day -= dt.timedelta(days=1)
                upper = timezone.make_aware(
                    dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0, 0))
                )
            else:
                upper = now + dt.timedelta(hours=offset.hours, microseconds=1)
            candidates = (
                Reservation.objects.filter(
                    menu=menu,
                    status=ReservationStatus.BOOKED,
                    resident__isnull=False,
                    slot__starts_at__gt=now,
                    slot__starts_at__lt=upper,
                )
                .exclude(
                    Exists(ReminderDelivery.objects.filter(reservation=OuterRef("pk"), offset_key=offset.key))
                )
                .values_list("pk", "created_at", "slot__starts_at")
            )
            for pk, created_at, starts_at in candidates:
                due = offset.due_at(starts_at)
                if due > now:
                    continue
                status = ReminderStatus.PENDING if due >= created_at else ReminderStatus.SKIPPED
                new_rows.append(
                    ReminderDelivery(reservation_id=pk, offset_key=offset.key, due_at=due, status=status)
                )
    ReminderDelivery.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=1000)
    return list(
        ReminderDelivery.objects.filter(status=ReminderStatus.PENDING, due_at__lte=now).values_list(
            "pk", flat=True
        )[:5000]
    )


def _finish(delivery_id: int, **changes: object) -> None:
    ReminderDelivery.objects.filter(pk=delivery_id).update(**changes, **release_fields())


def reminder_send(*, delivery_id: int) -> str:
    """Send one reminder if it is still pending; returns its final status.

    Claims the row (送信待ち → 送信中, recording the worker and the time, see
    ``municipalities.claims``) so that only one worker sends; re-checks that the booking is
    still active and the resident still follows. The retry key is per booking and offset, so a
    re-send after a crash is answered 409 by LINE and counts as sent: the resident gets it once.
    A worker killed in between leaves the claim to go stale; ``reminders_schedule_due`` offers
    it again. Transient LINE errors put the row back to 送信待ち and re-raise (the task
    retries); other LINE errors mark it 失敗.
    """
    if not claim(
        ReminderDelivery.objects.filter(pk=delivery_id, status=ReminderStatus.PENDING),
        status=ReminderStatus.SENDING,
    ):
        return (
            ReminderDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
            or "missing"
        )
    delivery = ReminderDelivery.objects.select_related(
        "reservation__slot__menu__department__municipality", "reservation__resident"
    ).get(pk=delivery_id)
    reservation = delivery.reservation
    resident = reservation.resident
    if (
        reservation.status != ReservationStatus.BOOKED
        or resident is None
        or not resident.is_following
        or reservation.slot.starts_at <= timezone.now()
    ):
        _finish(delivery_id, status=ReminderStatus.SKIPPED)
        return ReminderStatus.SKIPPED
    client = get_line_client(reservation.slot.menu.department.municipality)
    try:
        client.push(
            resident.line_user_id,
            reminder_messages(reservation),
            retry_key=retry_key_for("reservations", "reminder", reservation.pk, delivery.offset_key),
            department=reservation.slot.menu.department,
        )
    except (LineRateLimited, LineRetryableError):
        _finish(delivery_id, status=ReminderStatus.PENDING)
        raise
    except LineClientError as exc:
        _finish(delivery_id, status=ReminderStatus.FAILED, error=str(exc)[:300])
        return ReminderStatus.FAILED
    # A 409 (already_accepted) is a push that arrived before a crash: sent, not a failure.
    _finish(delivery_id, status=ReminderStatus.SENT, sent_at=timezone.now())
    return ReminderStatus.SENT


def reservation_notify(*, reservation_id: int, kind: str) -> bool:
    """Push the confirmation / change / cancellation message (after commit; idempotent by retry key)."""
    reservation = (
        Reservation.objects.select_related("slot__menu__department__municipality", "resident")
        .filter(pk=reservation_id)
        .first()
    )
    if reservation is None or reservation.resident is None or not reservation.resident.is_following:
        return False
    if kind != "cancelled" and reservation.status != ReservationStatus.BOOKED:
        return False
    client = get_line_client(reservation.slot.menu.department.municipality)
    key = retry_key_for("reservations", "notice", reservation.pk, kind, reservation.slot_id)
    client.push(
        reservation.resident.line_user_id,
        notice_messages(reservation, kind),
        retry_key=key,
        department=reservation.slot.menu.department,
    )
    return True
