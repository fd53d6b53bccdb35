"""What the booking services share: the group's details, the facility lock, when a booking
starts and must be paid, the ways to pay, and a booking locked for a write."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    Facility,
    FacilityBooking,
)
from municipalities.models import Payment, PaymentMethod, PaymentStatus
from municipalities.payments import get_provider

TAKEN_MESSAGE = "この枠はすでに予約されています。"


@dataclass(frozen=True)
class GroupDetails:
    """Who uses the room and why (団体名, 代表者, 人数, 利用目的), as typed; the service normalises it."""

    representative: str
    purpose: str
    headcount: int = 1
    group_name: str = ""
    representative_kana: str = ""
    phone: str = ""
    is_resident_rate: bool = True


def lock_facility(facility_id: int) -> Facility:
    """Lock the facility row: every booking write of the facility holds it while it checks and
    writes (PostgreSQL; SQLite serialises writers anyway)."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_facility() needs the caller's transaction")
    # of=("self",): the facility row only. Locking the joined department and municipality too
    # would deadlock with the FOR KEY SHARE that inserting an audit row takes on the municipality.
    # no_key: FK checks of rows pointing at the facility (closures, rounds) need not wait.
    return (
        Facility.objects.select_for_update(of=("self",), no_key=True)
        .select_related("department__municipality")
        .get(pk=facility_id)
    )


def starts_at_of(booking_or_day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(booking_or_day, time))


def payment_due(
    *, facility: Facility, use_date: dt.date, starts_at: dt.time, now: dt.datetime
) -> dt.datetime:
    """When an approved, won or counter-paid booking must be paid: ``payment_due_days`` from
    now, but not after the end of the day before the day of use, and never before an hour from
    now (a booking made the day before may still be paid until it starts)."""
    due = now + dt.timedelta(days=facility.payment_due_days)
    eve = timezone.make_aware(dt.datetime.combine(use_date - dt.timedelta(days=1), dt.time(23, 59)))
    due = min(due, eve)
    if due < now + dt.timedelta(hours=1):
        due = starts_at_of(use_date, starts_at)
    return due


def online_provider_codes(facility: Facility) -> list[str]:
    """The online providers the facility's town has configured (Stripe first, then the sandbox)."""
    if not facility.pay_online:
        return []
    town = facility.department.municipality
    return [
        code
        for code in (PaymentMethod.STRIPE, PaymentMethod.SANDBOX)
        if get_provider(code).is_configured(town)
    ]


def payment_methods_for(facility: Facility) -> list[tuple[str, str]]:
    """(code, label) of the ways a resident may pay this facility's fees, online first."""
    methods = [(code, PaymentMethod(code).label) for code in online_provider_codes(facility)]
    if facility.pay_at_counter:
        methods.append((PaymentMethod.COUNTER.value, PaymentMethod.COUNTER.label))
    return methods


def _check_payment_method(facility: Facility, method: str) -> None:
    if method == PaymentMethod.COUNTER:
        if not facility.pay_at_counter:
            raise FacilityError(_("この施設は窓口でのお支払いを受け付けていません。"), code="payment_method")
        return
    if method not in online_provider_codes(facility):
        raise FacilityError(_("この支払方法は使えません。別の方法を選んでください。"), code="payment_method")


def _locked_booking(booking: FacilityBooking) -> FacilityBooking:
    return (
        FacilityBooking.objects.select_for_update(of=("self",))
        .select_related("facility__department__municipality", "room", "resident")
        .get(pk=booking.pk)
    )


def _paid_payment(booking: FacilityBooking) -> Payment | None:
    return booking.payments.filter(status=PaymentStatus.PAID).order_by("-pk").first()
