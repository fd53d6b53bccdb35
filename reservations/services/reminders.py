"""Reminders: which are due, and sending each exactly once."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.errors import LineClientError, LineRateLimited, LineRetryableError

from ..models import Menu, ReminderDelivery, ReminderStatus, Reservation, ReservationStatus
from ..notifications import notice_messages, reminder_messages


@transaction.atomic(durable=True)
def reminders_schedule_due(*, now: dt.datetime | None = None) -> list[int]:
    """Write a delivery row for every (active booking, reminder offset) that is due now.

    A reminder is due when its time has come and the slot has not started; one that was already
    past when the booking was made is not sent. The unique constraint
    ``reservations_reminderdelivery_once`` makes a second run write nothing. Returns the ids of
    the pending rows due now (including ones a crashed worker left), to be sent on commit.
    """
    now = now or timezone.now()
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


def reminder_send(*, delivery_id: int) -> str:
    """Send one reminder if it is still pending; returns its final status.

    Claims the row (PENDING → SENDING) so that only one worker sends; re-checks that the
    booking is still active and the resident still follows. The retry key is per booking and
    offset, so a retry after a crash is accepted once by LINE. Transient LINE errors put the
    row back to PENDING and re-raise (the task retries).
    """
    if not ReminderDelivery.objects.filter(pk=delivery_id, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.SENDING
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
        ReminderDelivery.objects.filter(pk=delivery_id).update(status=ReminderStatus.SKIPPED)
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
        ReminderDelivery.objects.filter(pk=delivery_id).update(status=ReminderStatus.PENDING)
        raise
    except LineClientError as exc:
        ReminderDelivery.objects.filter(pk=delivery_id).update(
            status=ReminderStatus.FAILED, error=str(exc)[:300]
        )
        return ReminderStatus.FAILED
    ReminderDelivery.objects.filter(pk=delivery_id).update(status=ReminderStatus.SENT, sent_at=timezone.now())
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
