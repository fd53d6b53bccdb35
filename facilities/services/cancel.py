"""Taking a booking out of its frame: cancelling (取消), deleting one entered by mistake, and
letting unpaid ones lapse (失効)."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingPaymentState,
    BookingStatus,
    FacilityBooking,
    LotteryApplication,
    LotteryApplicationStatus,
)
from facilities.notifications import booking_notify_on_commit
from facilities.services.booking_common import (
    _locked_booking,
    _paid_payment,
    starts_at_of,
)
from facilities.services.fees import refund_compute
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.models import Resident, StaffUser
from municipalities.permissions import require
from municipalities.services.payments import (
    payments_cancel_pending,
)


def booking_end(
    booking: FacilityBooking,
    *,
    status: str,
    now: dt.datetime,
    actor: StaffUser | None,
    reason: str,
    full_refund: bool,
) -> FacilityBooking:
    """Take a locked, active booking out of its frame (取消 or 失効), inside the caller's
    transaction: pending payments are cancelled; a paid fee is kept, refunded in part or in full
    by the facility's rule (``full_refund`` when the town cancels, e.g. a closure) and what is to
    be refunded is recorded as 返金待ち (the refund itself is ``booking_refund``)."""
    if not connection.in_atomic_block:
        raise RuntimeError("booking_end() needs the caller's transaction")
    fields = ["status", "updated_at", "payment_state", "cancellation_fee", "refund_amount"]
    booking.status = status
    payments_cancel_pending(subject=booking)
    if booking.payment_state == BookingPaymentState.PAID:
        paid = _paid_payment(booking)
        amount = paid.amount if paid is not None else booking.total_fee
        if full_refund:
            fee, refund = 0, amount
        else:
            terms = refund_compute(
                facility=booking.facility,
                paid=amount,
                use_date=booking.use_date,
                on=timezone.localtime(now).date(),
            )
            fee, refund = terms.cancellation_fee, terms.refund_amount
        booking.cancellation_fee, booking.refund_amount = fee, refund
        if refund:
            booking.payment_state = BookingPaymentState.REFUND_PENDING
    if status == BookingStatus.LAPSED:
        booking.lapsed_at = now
        fields.append("lapsed_at")
    else:
        booking.cancelled_at, booking.cancelled_by, booking.cancel_reason = now, actor, reason[:200]
        fields += ["cancelled_at", "cancelled_by", "cancel_reason"]
    booking.save(update_fields=fields)
    return booking


@transaction.atomic(durable=True)
def booking_cancel(
    *,
    booking: FacilityBooking,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> FacilityBooking:
    """Cancel a booking (申請中 or 確定) and free its frame.

    The resident who booked may cancel until the frame starts; staff any time. A paid fee is
    refunded by the facility's rule (free until ``cancel_free_days_before`` days before, then
    ``cancel_fee_percent`` kept): the booking shows the cancellation fee and 返金待ち for the
    rest, which the department head refunds (``booking_refund``). Raises FacilityError. Audited;
    the resident's notice is enqueued on commit.
    """
    now = now or timezone.now()
    if actor is not None:
        require(
            actor,
            "change",
            booking,
            error=FacilityError,
            message=_("この課の施設予約を取り消す権限がありません。"),
        )
    booking = _locked_booking(booking)
    if actor is None and (resident is None or booking.resident_id != resident.pk):
        raise FacilityError(_("この予約は見つかりません。"), code="not_found")
    if not booking.is_active:
        raise FacilityError(_("この予約はすでに取り消されているか、確定していません。"), code="status")
    if actor is None and starts_at_of(booking.use_date, booking.starts_at) <= now:
        raise FacilityError(_("利用開始の時刻を過ぎたため、取り消せません。"), code="past")
    booking_end(
        booking,
        status=BookingStatus.CANCELLED,
        now=now,
        actor=actor,
        reason=jp.normalise_text(reason),
        full_refund=False,
    )
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.cancelled",
        obj=booking,
        data={
            "code": booking.code,
            "reason": booking.cancel_reason,
            "cancellation_fee": booking.cancellation_fee,
            "refund_amount": booking.refund_amount,
        },
        actor_resident=resident if actor is None else None,
    )
    booking_notify_on_commit(booking, "cancelled")
    return booking


@transaction.atomic(durable=True)
def booking_delete(*, booking: FacilityBooking, actor: StaffUser) -> None:
    """Delete a booking entered by mistake (it frees its frame). A booking with any payment
    record is kept: it is cancelled (取消) instead, so the money stays traceable. Audited.
    Raises FacilityError."""
    require(
        actor,
        "delete",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を削除する権限がありません。"),
    )
    booking = _locked_booking(booking)
    if booking.payments.exists():
        raise FacilityError(
            _("%(code)s には支払の記録があるため削除できません。取消を使ってください。")
            % {"code": booking.code},
            code="has_payments",
        )
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.deleted",
        obj=booking,
        data={"code": booking.code, "use_date": booking.use_date.isoformat(), "group": booking.display_name},
    )
    LotteryApplication.objects.filter(booking=booking).update(booking=None)
    booking.delete()


def bookings_lapse_unpaid(*, now: dt.datetime | None = None) -> int:
    """Beat: every active booking still unpaid after its ``payment_due_at`` lapses (失効), once
    each (a status flip claims it); its frame is free again. A lapsed lottery win marks its
    application 失効 (the frame is then first come, first served). Each booking is its own
    transaction; the resident's notice is enqueued on commit. Returns how many lapsed."""
    now = now or timezone.now()
    due = FacilityBooking.objects.filter(
        status__in=ACTIVE_BOOKING_STATUSES,
        payment_state=BookingPaymentState.UNPAID,
        payment_due_at__lt=now,
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(due[:1000]) if _lapse_one(pk, now))


@transaction.atomic(durable=True)
def _lapse_one(pk: int, now: dt.datetime) -> bool:
    booking = (
        FacilityBooking.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("facility")
        .filter(
            pk=pk,
            status__in=ACTIVE_BOOKING_STATUSES,
            payment_state=BookingPaymentState.UNPAID,
            payment_due_at__lt=now,
        )
        .first()
    )
    if booking is None:
        return False  # paid, cancelled or lapsed meanwhile, or another worker has it
    booking_end(booking, status=BookingStatus.LAPSED, now=now, actor=None, reason="", full_refund=True)
    LotteryApplication.objects.filter(booking=booking, status=LotteryApplicationStatus.WON).update(
        status=LotteryApplicationStatus.LAPSED, updated_at=now
    )
    audit_log(
        actor=None, action="facilities.facilitybooking.lapsed", obj=booking, data={"code": booking.code}
    )
    booking_notify_on_commit(booking, "lapsed")
    return True
