"""Resident pages (LIFF) of 施設予約, the booking itself: details with the fee → pay → done, the
booking's page (the payment returns there) and paying later (after approval, after a lottery win)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from facilities.errors import FacilityError
from facilities.liff import (
    can_cancel,
    day_label,
    frame_for,
    last_details,
    own_booking,
    parse_day,
    payable_now,
    room_for_resident,
)
from facilities.liff_forms import ERROR_FIELDS, BookingForm
from facilities.models import (
    BookingPaymentState,
    BookingStatus,
    Discount,
    Extra,
    FacilityBooking,
    Rate,
    Room,
    TimeFrame,
)
from facilities.selectors import week_grid
from facilities.services import booking_create, booking_payment_start, fee_compute, payment_methods_for
from municipalities.line.liff import resident_required
from municipalities.models import PaymentMethod

# --- details, fee, booking --------------------------------------------------------------------

CELL_PROBLEMS = {
    "booked": "申し訳ありません。この枠はすでに予約されています。ほかの枠をお選びください。",
    "full": "申し訳ありません。この枠は定員に達しています。ほかの枠をお選びください。",
    "lottery": "この枠は抽選の対象です。抽選の申込期間にお申し込みください。",
    "past": "この枠の予約受付は締め切りました。",
}


def cell_problem(room: Room, frame: TimeFrame, day: dt.date) -> tuple[str, str]:
    """What stops a resident from booking this frame now (message, state), or ("", "free")."""
    cell = week_grid(room=room, start=day, days=1).cells.get((day, frame.pk))
    if cell is None:
        return "この時間枠は現在受け付けていません。", "closed"
    if cell.state == "free":
        return "", "free"
    if cell.state == "closed":
        return f"この日は利用できません（{cell.reason}）。", "closed"
    if cell.state == "not_open":
        opens = day - dt.timedelta(days=room.facility.booking_opens_days_before)
        return f"この日の予約受付は {opens.month}月{opens.day}日 からです。", "not_open"
    return CELL_PROBLEMS[cell.state], cell.state


def fee_for(
    room: Room, frame: TimeFrame, *, resident_rate: bool, discount: Discount | None, extras: list[Extra]
) -> dict[str, Any] | None:
    rate = Rate.objects.filter(room=room, frame=frame).first()
    if rate is None:
        return None
    fee = fee_compute(rate=rate, is_resident_rate=resident_rate, discount=discount, extras=extras)
    return {"total": fee.total_fee, "lines": fee.lines}


@resident_required
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, room_id: int, day: str, frame_id: int) -> HttpResponse:
    room = room_for_resident(request, room_id)
    frame = frame_for(room, frame_id)
    use_date = parse_day(day)
    facility = room.facility
    methods = payment_methods_for(facility)
    error, error_code = "", ""
    if request.method == "POST":
        form = BookingForm(request.POST, room=room, payment_methods=methods)
        repeated = just_booked(request, room, frame, use_date)
        if repeated is not None:  # a double tap or a resubmitted form: the booking they already have
            return redirect(
                reverse("facilities:booking_detail", kwargs={"code": repeated.code}) + "?after=booked"
            )
        if form.is_valid():
            try:
                booking = booking_create(
                    room=room,
                    frame=frame,
                    use_date=use_date,
                    group=form.group(),
                    resident=request.resident,
                    payment_method=form.cleaned_data["payment_method"],
                    discount=form.chosen_discount(),
                    discount_reason=form.cleaned_data["discount_reason"],
                    extras=form.chosen_extras(),
                )
            except FacilityError as exc:
                field = ERROR_FIELDS.get(exc.code or "")
                if field:
                    form.add_error(field, exc.message)
                else:
                    error, error_code = exc.message, exc.code or "error"
            else:
                return after_booking(request, booking)
    else:
        form = BookingForm(initial=last_details(request), room=room, payment_methods=methods)
        error, error_code = cell_problem(room, frame, use_date)
        if error_code == "free":
            error_code = ""
    resident_rate, discount, extras = form.fee_inputs()
    fee = fee_for(room, frame, resident_rate=resident_rate, discount=discount, extras=extras)
    context = {
        "room": room,
        "facility": facility,
        "frame": frame,
        "use_date": use_date,
        "day_label": day_label(use_date),
        "form": form,
        "fee": fee,
        "error": error,
        "error_code": error_code,
        # An error about the frame itself (taken, closed, outside the window, the monthly limit)
        # leaves nothing to correct on this page; any other keeps the form with what was typed.
        "show_form": not error or error_code not in FRAME_ERRORS,
        "week_start": use_date - dt.timedelta(days=use_date.weekday()),
        "page_title": "予約の内容",
    }
    status = 409 if request.method == "POST" and (error or form.errors) else 200
    return render(request, "liff/facilities/book.html", context, status=status)


REPEAT_WINDOW = dt.timedelta(minutes=2)
FRAME_ERRORS = {
    "taken",
    "full",
    "closed",
    "past",
    "not_yet",
    "not_open",
    "window_closed",
    "lottery",
    "limit",
    "no_rate",
    "not_found",
    "booked",
}


def just_booked(
    request: HttpRequest, room: Room, frame: TimeFrame, use_date: dt.date
) -> FacilityBooking | None:
    """The resident's active booking of this very frame made in the last two minutes, if any."""
    return (
        FacilityBooking.objects.filter(
            resident=request.resident,
            room=room,
            use_date=use_date,
            starts_at=frame.starts_at,
            status__in=[BookingStatus.PENDING, BookingStatus.CONFIRMED],
            created_at__gte=timezone.now() - REPEAT_WINDOW,
        )
        .order_by("-pk")
        .first()
    )


def after_booking(request: HttpRequest, booking: FacilityBooking) -> HttpResponse:
    """申請中: the done page (pay after approval). Online: straight to the checkout. Counter: done."""
    done = reverse("facilities:booking_detail", kwargs={"code": booking.code}) + "?after=booked"
    if (
        booking.status != BookingStatus.CONFIRMED
        or booking.payment_state != BookingPaymentState.UNPAID
        or booking.payment_method == PaymentMethod.COUNTER
    ):
        return redirect(done)
    try:
        payment = booking_payment_start(
            booking=booking, resident=request.resident, provider_code=booking.payment_method
        )
    except FacilityError as exc:
        messages.error(request, exc.message)
        return redirect(done)
    return redirect("payments:checkout", pk=payment.pk)


@resident_required
@require_GET
def fee_preview(request: HttpRequest, room_id: int, frame_id: int) -> JsonResponse:
    """The fee for the choices on the details form (the page asks as they change); the same
    ``fee_compute`` the booking service stores."""
    room = room_for_resident(request, room_id)
    frame = frame_for(room, frame_id)
    discount = Discount.objects.filter(
        facility_id=room.facility_id,
        is_active=True,
        residents_may_choose=True,
        pk=int(request.GET["discount"]) if request.GET.get("discount", "").isdigit() else 0,
    ).first()
    extra_ids = [int(x) for x in request.GET.getlist("extras") if x.isdigit()]
    extras = list(Extra.objects.filter(facility_id=room.facility_id, is_active=True, pk__in=extra_ids))
    fee = fee_for(
        room, frame, resident_rate=request.GET.get("rate") != "non_resident", discount=discount, extras=extras
    )
    if fee is None:
        return JsonResponse({"error": "この枠の使用料が設定されていません。"}, status=404)
    return JsonResponse(fee)


# --- a booking: done / detail, pay ------------------------------------------------------------


@resident_required
@require_GET
def booking_detail(request: HttpRequest, code: str) -> HttpResponse:
    """The done page right after booking (``?after=booked``) and the booking's page afterwards
    (the payment returns here; the LINE notices link here)."""
    booking = own_booking(request, code)
    just_booked = request.GET.get("after") == "booked"
    if just_booked:
        title = "利用を申請しました" if booking.status == BookingStatus.PENDING else "予約を受け付けました"
    else:
        title = "施設予約の内容"
    context = {
        "b": booking,
        "day_label": day_label(booking.use_date),
        "just_booked": just_booked,
        "payable": payable_now(booking),
        "methods": payment_methods_for(booking.facility) if payable_now(booking) else [],
        "can_cancel": can_cancel(booking),
        "page_title": title,
    }
    return render(request, "liff/facilities/booking.html", context)


@resident_required
@require_POST
def booking_pay(request: HttpRequest, code: str) -> HttpResponse:
    """Pay a confirmed, unpaid booking: online → the provider's checkout; counter → the booking's
    page with the counter's deadline."""
    booking = own_booking(request, code)
    method = request.POST.get("payment_method", "")
    if method not in {m for m, _ in payment_methods_for(booking.facility)}:
        messages.error(request, "お支払い方法を選んでください。")
        return redirect("facilities:booking_detail", code=booking.code)
    try:
        payment = booking_payment_start(booking=booking, resident=request.resident, provider_code=method)
    except FacilityError as exc:
        messages.error(request, exc.message)
        return redirect("facilities:booking_detail", code=booking.code)
    if method == PaymentMethod.COUNTER:
        booking.refresh_from_db()
        due = timezone.localtime(booking.payment_due_at) if booking.payment_due_at else None
        messages.success(
            request,
            f"{booking.facility.name}の窓口でお支払いください"
            + (f"（期限 {day_label(due.date())} {due:%H:%M}）。" if due else "。")
            + f"予約番号 {booking.code} をお伝えください。",
        )
        return redirect("facilities:booking_detail", code=booking.code)
    return redirect("payments:checkout", pk=payment.pk)
