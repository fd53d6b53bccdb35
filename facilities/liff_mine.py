"""「施設の予約確認」: a resident's facility bookings with their payment state, lottery
applications with their result, and cancelling with the refund the facility's rule gives.

The facilities app has its own page rather than a part of the reservations' 「予約確認」: feature
apps do not import each other and the core has no registry of "my bookings" contributions, so the
page is offered next to it (rich-menu destination ``facilities.mine``, the 「施設予約」 answer in
LINE, and a link from every facility page).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from facilities.errors import FacilityError
from facilities.liff import can_cancel, day_label, own_booking
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingPaymentState,
    FacilityBooking,
    LotteryApplication,
    LotteryApplicationStatus,
)
from facilities.selectors import bookings_for_resident
from facilities.services import booking_cancel, refund_compute
from municipalities.line.liff import resident_required


def refund_preview(booking: FacilityBooking) -> dict[str, object]:
    """What cancelling today would keep and give back, by the facility's rule (as the service does)."""
    facility = booking.facility
    rule = (
        f"利用日の {facility.cancel_free_days_before} 日前までの取消は無料、"
        f"それより後は使用料の {facility.cancel_fee_percent}% を取消手数料としていただきます。"
        if facility.cancel_fee_percent
        else "取消手数料はかかりません。"
    )
    if booking.payment_state != BookingPaymentState.PAID:
        return {"paid": 0, "rule": rule}
    paid = booking.payments.filter(status="paid").order_by("-pk").values_list("amount", flat=True).first()
    paid = booking.total_fee if paid is None else paid
    terms = refund_compute(facility=facility, paid=paid, use_date=booking.use_date, on=timezone.localdate())
    return {
        "paid": paid,
        "fee": terms.cancellation_fee,
        "refund": terms.refund_amount,
        "free": terms.free,
        "rule": rule,
    }


@resident_required
def my_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    bookings = list(bookings_for_resident(resident=request.resident)[:100])
    upcoming = sorted(
        (b for b in bookings if b.status in ACTIVE_BOOKING_STATUSES and b.use_date >= today),
        key=lambda b: (b.use_date, b.starts_at),
    )
    others = [b for b in bookings if b not in upcoming][:30]
    applications = list(
        LotteryApplication.objects.filter(resident=request.resident, lottery_frame__use_date__gte=today)
        .exclude(status=LotteryApplicationStatus.WITHDRAWN)
        .select_related("lottery_frame__room__facility", "lottery_frame__frame", "round", "booking")
        .order_by("lottery_frame__use_date", "lottery_frame__starts_at", "pk")
    )
    return render(
        request,
        "liff/facilities/my_list.html",
        {
            "upcoming": [{"b": b, "day": day_label(b.use_date)} for b in upcoming],
            "others": [{"b": b, "day": day_label(b.use_date)} for b in others],
            "applications": [{"a": a, "day": day_label(a.lottery_frame.use_date)} for a in applications],
            "page_title": "施設の予約確認",
        },
    )


@resident_required
@require_http_methods(["GET", "POST"])
def booking_cancel_view(request: HttpRequest, code: str) -> HttpResponse:
    """GET: what cancelling gives back, and a button; POST: cancel through the service."""
    booking = own_booking(request, code)
    error = ""
    if request.method == "POST":
        try:
            booking = booking_cancel(booking=booking, resident=request.resident)
        except FacilityError as exc:
            error = exc.message
        else:
            if booking.refund_amount:
                text = f"予約を取り消しました。{booking.refund_amount:,}円を返金します。"
                if booking.cancellation_fee:
                    text += f"（取消手数料 {booking.cancellation_fee:,}円）"
            else:
                text = "予約を取り消しました。"
            messages.success(request, text)
            return redirect("facilities:booking_detail", code=booking.code)
    elif not can_cancel(booking):
        error = (
            "この予約は取り消せません（取消済み・利用開始後など）。"
            if not booking.is_active
            else "利用開始の時刻を過ぎたため、取り消せません。"
        )
    return render(
        request,
        "liff/facilities/cancel.html",
        {
            "b": booking,
            "day_label": day_label(booking.use_date),
            "refund": refund_preview(booking),
            "error": error,
            "page_title": "予約の取消",
        },
        status=409 if error and request.method == "POST" else 200,
    )
