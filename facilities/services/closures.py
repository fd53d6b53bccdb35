"""臨時休館: confirming a closure cancels the bookings in it, refunds what was paid and tells residents."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingPaymentState,
    BookingStatus,
    Closure,
    ClosureStatus,
    FacilityBooking,
)
from facilities.notifications import booking_notify_on_commit
from facilities.services.booking_common import lock_facility
from facilities.services.booking_payments import booking_refund
from facilities.services.cancel import booking_end
from municipalities.audit import audit_log
from municipalities.models import Payment, StaffUser
from municipalities.permissions import policy_for, require

logger = logging.getLogger(__name__)


def bookings_in_closure(closure: Closure):
    """The active bookings a closure would cancel (its facility or room, its dates)."""
    qs = FacilityBooking.objects.filter(
        facility_id=closure.facility_id,
        status__in=ACTIVE_BOOKING_STATUSES,
        use_date__gte=closure.starts_on,
        use_date__lte=closure.ends_on,
    )
    if closure.room_id is not None:
        qs = qs.filter(room_id=closure.room_id)
    return qs.select_related("room").order_by("use_date", "starts_at", "pk")


@dataclass
class ClosureResult:
    closure: Closure
    cancelled: list[FacilityBooking] = field(default_factory=list)
    refunded: int = 0
    refund_errors: list[str] = field(default_factory=list)


def closure_confirm(*, closure: Closure, actor: StaffUser, now: dt.datetime | None = None) -> ClosureResult:
    """確定: every active booking in the closure is cancelled (取消, the full fee to be refunded
    whatever the cancellation rule says: the town cancelled), and each resident is told on
    commit; then, when ``actor`` may refund (所属長), the refunds are made one by one through
    the core (a provider error leaves that booking 返金待ち and is reported). Raises
    FacilityError."""
    result = _closure_confirm(closure=closure, actor=actor, now=now or timezone.now())
    refunding = [b for b in result.cancelled if b.payment_state == BookingPaymentState.REFUND_PENDING]
    if refunding and policy_for(Payment).user_has_permission(actor, "refund"):
        for booking in refunding:
            try:
                booking_refund(
                    booking=booking, actor=actor, reason=_("臨時休館: %(r)s") % {"r": closure.reason}
                )
                result.refunded += 1
            except FacilityError as exc:
                result.refund_errors.append(f"{booking.code}: {exc.message}")
    return result


@transaction.atomic(durable=True)
def _closure_confirm(*, closure: Closure, actor: StaffUser, now: dt.datetime) -> ClosureResult:
    require(
        actor,
        "change",
        closure,
        error=FacilityError,
        message=_("この課の施設の休館を確定する権限がありません。"),
    )
    lock_facility(closure.facility_id)
    closure = (
        Closure.objects.select_for_update(of=("self",)).select_related("facility", "room").get(pk=closure.pk)
    )
    if closure.status != ClosureStatus.PLANNED:
        raise FacilityError(_("この休館は予定ではありません（確定済みか取りやめです）。"), code="status")
    cancelled = []
    for booking in bookings_in_closure(closure).select_for_update(of=("self",)).select_related("facility"):
        booking_end(
            booking,
            status=BookingStatus.CANCELLED,
            now=now,
            actor=actor,
            reason=_("臨時休館（%(r)s）") % {"r": closure.reason},
            full_refund=True,
        )
        audit_log(
            actor=actor,
            action="facilities.facilitybooking.cancelled",
            obj=booking,
            data={"code": booking.code, "closure": closure.pk, "refund_amount": booking.refund_amount},
        )
        booking_notify_on_commit(booking, "closure_cancelled")
        cancelled.append(booking)
    closure.status, closure.confirmed_at, closure.confirmed_by = ClosureStatus.CONFIRMED, now, actor
    closure.cancelled_bookings = len(cancelled)
    closure.save(update_fields=["status", "confirmed_at", "confirmed_by", "cancelled_bookings", "updated_at"])
    audit_log(
        actor=actor,
        action="facilities.closure.confirmed",
        obj=closure,
        data={"cancelled": [b.code for b in cancelled]},
    )
    return ClosureResult(closure=closure, cancelled=cancelled)


@transaction.atomic(durable=True)
def closure_withdraw(*, closure: Closure, actor: StaffUser) -> Closure:
    """取りやめ: a planned closure no longer blocks bookings. Raises FacilityError."""
    require(
        actor,
        "change",
        closure,
        error=FacilityError,
        message=_("この課の施設の休館を変更する権限がありません。"),
    )
    closure = Closure.objects.select_for_update().get(pk=closure.pk)
    if closure.status != ClosureStatus.PLANNED:
        raise FacilityError(_("確定した休館は取りやめられません。"), code="status")
    closure.status = ClosureStatus.WITHDRAWN
    closure.save(update_fields=["status", "updated_at"])
    audit_log(actor=actor, action="facilities.closure.withdrawn", obj=closure)
    return closure
