"""Approving (承認) or rejecting (却下) a booking that waits for the facility's approval."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    BookingPaymentState,
    BookingStatus,
    FacilityBooking,
)
from facilities.notifications import booking_notify_on_commit
from facilities.services.booking_common import (
    _locked_booking,
    payment_due,
    starts_at_of,
)
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.models import StaffUser
from municipalities.permissions import require
from municipalities.services.payments import (
    payments_cancel_pending,
)


@transaction.atomic(durable=True)
def booking_approve(
    *, booking: FacilityBooking, actor: StaffUser, now: dt.datetime | None = None
) -> FacilityBooking:
    """承認: a 申請中 booking becomes 確定; a fee is due ``payment_due_days`` from now (never
    after the day before use). Raises FacilityError. Audited; the resident is told on commit."""
    now = now or timezone.now()
    require(
        actor,
        "approve",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を承認する権限がありません。"),
    )
    booking = _locked_booking(booking)
    if booking.status != BookingStatus.PENDING:
        raise FacilityError(_("%(code)s は申請中ではありません。") % {"code": booking.code}, code="status")
    if starts_at_of(booking.use_date, booking.starts_at) <= now:
        raise FacilityError(_("%(code)s は利用日時を過ぎています。") % {"code": booking.code}, code="past")
    booking.status, booking.decided_at, booking.decided_by = BookingStatus.CONFIRMED, now, actor
    if booking.payment_state == BookingPaymentState.UNPAID:
        booking.payment_due_at = payment_due(
            facility=booking.facility, use_date=booking.use_date, starts_at=booking.starts_at, now=now
        )
    booking.save(update_fields=["status", "decided_at", "decided_by", "payment_due_at", "updated_at"])
    audit_log(
        actor=actor, action="facilities.facilitybooking.approved", obj=booking, data={"code": booking.code}
    )
    booking_notify_on_commit(booking, "approved")
    return booking


@transaction.atomic(durable=True)
def booking_reject(
    *, booking: FacilityBooking, actor: StaffUser, reason: str, now: dt.datetime | None = None
) -> FacilityBooking:
    """却下 with a reason (told to the resident): the frame is free again. Raises FacilityError."""
    now = now or timezone.now()
    require(
        actor,
        "approve",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を承認・却下する権限がありません。"),
    )
    reason = jp.normalise_text(reason)
    if not reason:
        raise FacilityError(_("却下の理由を入力してください。"), code="reason")
    booking = _locked_booking(booking)
    if booking.status != BookingStatus.PENDING:
        raise FacilityError(_("%(code)s は申請中ではありません。") % {"code": booking.code}, code="status")
    booking.status, booking.decided_at, booking.decided_by = BookingStatus.REJECTED, now, actor
    booking.rejection_reason = reason[:200]
    payments_cancel_pending(subject=booking)
    booking.save(update_fields=["status", "decided_at", "decided_by", "rejection_reason", "updated_at"])
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.rejected",
        obj=booking,
        data={"code": booking.code, "reason": booking.rejection_reason},
    )
    booking_notify_on_commit(booking, "rejected")
    return booking
