"""Paying a booking's fee online or at the counter, and refunding what a cancelled or lapsed
booking is owed (through the core's payments)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    BookingOrigin,
    BookingPaymentState,
    BookingStatus,
    FacilityBooking,
)
from facilities.services.booking_common import (
    _check_payment_method,
    _locked_booking,
    _paid_payment,
    payment_due,
)
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.models import Payment, PaymentMethod, PaymentStatus, Resident, StaffUser
from municipalities.permissions import require
from municipalities.services.payments import (
    PaymentError,
    payment_open,
    payment_record_at_counter,
    payment_refund,
)


@transaction.atomic(durable=True)
def booking_payment_start(
    *, booking: FacilityBooking, resident: Resident, provider_code: str, now: dt.datetime | None = None
) -> Payment:
    """The resident pays a confirmed, unpaid booking with ``provider_code`` (an online provider
    or "counter"): its pending payment of that method, or a new one (core ``payment_open``).
    The edge then sends the resident to ``payment_checkout_url``. Raises FacilityError."""
    now = now or timezone.now()
    booking = _locked_booking(booking)
    if booking.resident_id != resident.pk:
        raise FacilityError(_("この予約は見つかりません。"), code="not_found")
    if booking.status == BookingStatus.PENDING:
        raise FacilityError(
            _("承認されてからお支払いください。承認されると LINE でお知らせします。"), code="status"
        )
    if booking.status != BookingStatus.CONFIRMED or booking.payment_state != BookingPaymentState.UNPAID:
        raise FacilityError(_("この予約はお支払いを待っていません。"), code="status")
    if booking.payment_due_at is not None and booking.payment_due_at <= now:
        raise FacilityError(_("お支払いの期限を過ぎています。"), code="due")
    _check_payment_method(booking.facility, provider_code)
    pending = (
        booking.payments.filter(status=PaymentStatus.PENDING, provider=provider_code).order_by("-pk").first()
    )
    if pending is not None:
        return pending
    if booking.payment_method != provider_code:
        booking.payment_method = provider_code
        if provider_code == PaymentMethod.COUNTER and booking.origin == BookingOrigin.LINE:
            booking.payment_due_at = max(
                booking.payment_due_at or now,
                payment_due(
                    facility=booking.facility, use_date=booking.use_date, starts_at=booking.starts_at, now=now
                ),
            )
        booking.save(update_fields=["payment_method", "payment_due_at", "updated_at"])
    try:
        return payment_open(
            subject=booking,
            department=booking.facility.department,
            resident=resident,
            amount=booking.total_fee,
            provider_code=provider_code,
            description=_payment_description(booking),
        )
    except PaymentError as exc:
        raise FacilityError(exc.message, code=exc.code) from None


def _payment_description(booking: FacilityBooking) -> str:
    # What the fee is for, as the reconciliation groups it: the facility.
    return f"施設使用料 {booking.facility.name}"


@transaction.atomic(durable=True)
def booking_payment_record_counter(
    *, booking: FacilityBooking, actor: StaffUser, receipt_number: str = ""
) -> Payment:
    """Staff record the fee paid at the counter (窓口払い): the booking becomes 支払済み. Audited
    by the core. Raises FacilityError."""
    require(
        actor,
        "change",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を処理する権限がありません。"),
    )
    booking = _locked_booking(booking)
    if not booking.is_active or booking.payment_state != BookingPaymentState.UNPAID:
        raise FacilityError(
            _("%(code)s はお支払い待ちではありません。") % {"code": booking.code}, code="status"
        )
    payment = payment_record_at_counter(
        subject=booking,
        department=booking.facility.department,
        resident=booking.resident,
        amount=booking.total_fee,
        description=_payment_description(booking),
        actor=actor,
        receipt_number=jp.normalise_text(receipt_number),
    )
    booking.payment_state, booking.paid_at, booking.payment_method = (
        BookingPaymentState.PAID,
        payment.paid_at,
        PaymentMethod.COUNTER,
    )
    booking.save(update_fields=["payment_state", "paid_at", "payment_method", "updated_at"])
    return payment


def booking_refund(*, booking: FacilityBooking, actor: StaffUser, reason: str = "") -> FacilityBooking:
    """Refund what a cancelled or lapsed booking is owed (返金待ち → 返金済み) through the core's
    ``payment_refund`` (所属長; the provider is asked first, outside any transaction, with an
    idempotency key). Raises FacilityError."""
    booking = FacilityBooking.objects.select_related("facility").get(pk=booking.pk)
    if booking.payment_state != BookingPaymentState.REFUND_PENDING:
        raise FacilityError(_("%(code)s は返金待ちではありません。") % {"code": booking.code}, code="status")
    payment = _paid_payment(booking)
    if payment is None:
        raise FacilityError(
            _("%(code)s の支払いの記録が見つかりません。") % {"code": booking.code}, code="payment"
        )
    try:
        payment_refund(
            payment=payment,
            actor=actor,
            reason=reason or booking.cancel_reason or str(booking.get_status_display()),
            amount=booking.refund_amount,
        )
    except PaymentError as exc:
        raise FacilityError(exc.message, code=exc.code) from None
    return _refund_recorded(booking=booking, actor=actor)


@transaction.atomic(durable=True)
def _refund_recorded(*, booking: FacilityBooking, actor: StaffUser) -> FacilityBooking:
    booking = _locked_booking(booking)
    if booking.payment_state == BookingPaymentState.REFUND_PENDING:
        booking.payment_state = BookingPaymentState.REFUNDED
        booking.save(update_fields=["payment_state", "updated_at"])
        audit_log(
            actor=actor,
            action="facilities.facilitybooking.refunded",
            obj=booking,
            data={"code": booking.code, "refund_amount": booking.refund_amount},
        )
    return booking
