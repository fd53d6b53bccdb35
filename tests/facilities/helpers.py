"""Shared steps of the facilities tests."""

from __future__ import annotations

import datetime as dt

from facilities.models import FacilityBooking, Room, TimeFrame
from facilities.services import GroupDetails, booking_create, booking_payment_start
from municipalities.models import Payment, Resident
from municipalities.payments import CallbackRequest
from municipalities.payments.sandbox import signed_result
from municipalities.services.payments import payment_checkout_url, payment_record_callback

GROUP = GroupDetails(
    group_name="みどりバレー部", representative="山田 太郎", headcount=12, purpose="バレーボールの練習"
)


def book(
    room: Room, frame: TimeFrame, day: dt.date, resident: Resident | None = None, **kwargs
) -> FacilityBooking:
    kwargs.setdefault("group", GROUP)
    if kwargs.get("actor") is None:
        kwargs.setdefault("payment_method", "sandbox")
    return booking_create(room=room, frame=frame, use_date=day, resident=resident, **kwargs)


def pay_online(booking: FacilityBooking, resident: Resident) -> Payment:
    """The resident pays through the sandbox gateway; the signed callback records it."""
    payment = booking_payment_start(booking=booking, resident=resident, provider_code="sandbox")
    payment_checkout_url(payment=payment, return_url="https://example.jp/back/")
    payment.refresh_from_db()
    params = signed_result(reference=payment.reference, outcome="paid", amount=payment.amount)
    return payment_record_callback(
        provider_code="sandbox", municipality=None, request=CallbackRequest(params=params)
    )
