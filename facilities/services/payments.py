"""A booking's fee, through the core's payments: what paying means for a facility booking.

The payment record, the providers, callbacks and refunds are the core's
(``municipalities/services/payments.py``).
"""

from __future__ import annotations

from django.urls import reverse

from facilities.models import BookingPaymentState, FacilityBooking
from municipalities.models import Payment


def booking_paid(payment: Payment) -> None:
    """The core recorded a paid payment of a booking (``Payable.on_paid``, inside its
    transaction): 未払い → 支払済み, once. A booking that lapsed or was cancelled meanwhile keeps
    its status; its payment is then refunded by staff (it shows as 返金待ち)."""
    booking = FacilityBooking.objects.select_for_update().get(pk=payment.subject_id)
    if booking.payment_state != BookingPaymentState.UNPAID:
        return
    if booking.is_active:
        booking.payment_state = BookingPaymentState.PAID
    else:
        booking.payment_state = BookingPaymentState.REFUND_PENDING
        booking.refund_amount = booking.total_fee
    booking.paid_at = payment.paid_at
    booking.save(update_fields=["payment_state", "paid_at", "refund_amount", "updated_at"])


def booking_resident_path(booking: FacilityBooking) -> str:
    return reverse("facilities:booking_detail", kwargs={"code": booking.code})
