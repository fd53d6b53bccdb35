"""Resident pages (LIFF) of 施設予約: facilities → rooms → week grid → details → pay → done.

Every object is looked up through ``request.resident`` (its town's published facilities, its own
bookings), so another town's room or another resident's booking is a 404. The views parse,
call one service and show what it said (STYLE R1); the services check everything again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from facilities.errors import FacilityError
from facilities.liff_forms import ERROR_FIELDS, BookingForm
from facilities.models import (
    WEEKDAY_LABELS,
    BookingPaymentState,
    BookingStatus,
    Discount,
    Extra,
    Facility,
    FacilityBooking,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRoundStatus,
    Rate,
    Room,
    TimeFrame,
)
from facilities.selectors import booking_for_resident, facilities_for_municipality, week_grid
from facilities.services import booking_create, booking_payment_start, fee_compute, payment_methods_for
from municipalities.line.liff import resident_required
from municipalities.models import PaymentMethod

WEEK = 7


def day_label(day: dt.date) -> str:
    return f"{day.month}月{day.day}日({WEEKDAY_LABELS[day.weekday()]})"


def _facility(request: HttpRequest, facility_id: int) -> Facility:
    facility = (
        facilities_for_municipality(municipality=request.resident.municipality).filter(pk=facility_id).first()
    )
    if facility is None:
        raise Http404
    return facility


def room_for_resident(request: HttpRequest, room_id: int) -> Room:
    """A bookable room of a published facility of the resident's town, or 404."""
    room = (
        Room.objects.select_related("facility__department__municipality")
        .filter(
            pk=room_id,
            is_active=True,
            facility__is_published=True,
            facility__department__municipality=request.resident.municipality,
        )
        .first()
    )
    if room is None:
        raise Http404
    return room


def frame_for(room: Room, frame_id: int) -> TimeFrame:
    frame = TimeFrame.objects.filter(pk=frame_id, facility_id=room.facility_id, is_active=True).first()
    if frame is None:
        raise Http404
    return frame


def parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Http404 from None


def own_booking(request: HttpRequest, code: str) -> FacilityBooking:
    booking = booking_for_resident(resident=request.resident, code=code)
    if booking is None:
        raise Http404
    return booking


# --- facility → room --------------------------------------------------------------------------


@resident_required
def facility_list(request: HttpRequest) -> HttpResponse:
    facilities = list(facilities_for_municipality(municipality=request.resident.municipality))
    upcoming = FacilityBooking.objects.filter(
        resident=request.resident,
        status__in=[BookingStatus.PENDING, BookingStatus.CONFIRMED],
        use_date__gte=timezone.localdate(),
    ).count()
    return render(
        request,
        "liff/facilities/list.html",
        {"facilities": facilities, "upcoming": upcoming, "page_title": "施設予約"},
    )


@resident_required
def facility_rooms(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = _facility(request, facility_id)
    rooms = [r for r in facility.rooms.all() if r.is_active]
    if len(rooms) == 1:  # one court: straight to its week (one tap fewer)
        return redirect("facilities:room_week", room_id=rooms[0].pk)
    return render(
        request,
        "liff/facilities/rooms.html",
        {"facility": facility, "rooms": rooms, "page_title": facility.name},
    )


# --- the week grid ----------------------------------------------------------------------------

SYMBOLS = {
    "free": ("○", "空きあり"),
    "booked": ("×", "予約済み"),
    "full": ("×", "満員"),
    "closed": ("休館", ""),
    "lottery": ("抽選", "抽選の対象"),
    "not_open": ("－", "受付前"),
    "past": ("－", "受付終了"),
}


def week_bounds(facility: Facility, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day a resident can see in the grid: today to the end of the window."""
    return today, today + dt.timedelta(days=facility.booking_opens_days_before)


@resident_required
@require_GET
def room_week(request: HttpRequest, room_id: int) -> HttpResponse:
    """○ / × / 抽選 / 休館 per frame for 7 days, with the previous and next week inside the window."""
    room = room_for_resident(request, room_id)
    facility = room.facility
    today = timezone.localdate()
    first, last = week_bounds(facility, today)
    try:
        start = dt.date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        start = first
    start = min(max(start, first), last)
    grid = week_grid(room=room, start=start, days=WEEK)
    # Lottery frames whose round takes applications now get a link to apply.
    lottery_open = {
        (lf.use_date, lf.starts_at): lf
        for lf in LotteryFrame.objects.select_related("round").filter(
            room=room,
            use_date__gte=start,
            use_date__lt=start + dt.timedelta(days=WEEK),
            status=LotteryFrameStatus.LOTTERY,
            round__status=LotteryRoundStatus.OPEN,
            round__applications_open_at__lte=timezone.now(),
            round__applications_close_at__gt=timezone.now(),
        )
    }
    rows = []
    for frame, cells in grid.rows():
        row = []
        for cell in cells:
            symbol, label = SYMBOLS[cell.state]
            url = ""
            if cell.state == "free":
                url = reverse("facilities:book", args=[room.pk, cell.day.isoformat(), frame.pk])
            elif cell.state == "lottery" and (cell.day, frame.starts_at) in lottery_open:
                url = reverse("facilities:lottery_apply", args=[room.pk, cell.day.isoformat(), frame.pk])
                label = "抽選に申し込めます"
            row.append({"cell": cell, "symbol": symbol, "label": label, "url": url})
        rows.append((frame, row))
    several_rooms = Room.objects.filter(facility=facility, is_active=True).count() > 1
    prev_start = max(start - dt.timedelta(days=WEEK), first) if start > first else None
    next_start = start + dt.timedelta(days=WEEK) if start + dt.timedelta(days=WEEK) <= last else None
    context = {
        "room": room,
        "facility": facility,
        "days": [{"day": d, "label": day_label(d), "weekday": d.weekday()} for d in grid.days],
        "rows": rows,
        "any_free": any(c["url"] for _, row in rows for c in row),
        "prev_start": prev_start,
        "next_start": next_start,
        "window_last": last,
        "several_rooms": several_rooms,
        "back_url": reverse("facilities:facility", args=[facility.pk])
        if several_rooms
        else reverse("facilities:list"),
        "page_title": f"{facility.name} {room.name}",
    }
    return render(request, "liff/facilities/week.html", context)


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


def last_details(request: HttpRequest) -> dict[str, Any]:
    """The resident's details from their last booking (a group books again and again)."""
    last = FacilityBooking.objects.filter(resident=request.resident).order_by("-created_at", "-pk").first()
    if last is None:
        return {"representative": request.resident.display_name, "headcount": "1"}
    return {
        "group_name": last.group_name,
        "representative": last.representative,
        "representative_kana": last.representative_kana,
        "phone": last.phone,
        "headcount": str(last.headcount),
        "purpose": last.purpose,
        "rate": "resident" if last.is_resident_rate else "non_resident",
    }


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
        "week_start": use_date - dt.timedelta(days=use_date.weekday()),
        "page_title": "予約の内容",
    }
    status = 409 if request.method == "POST" and (error or form.errors) else 200
    return render(request, "liff/facilities/book.html", context, status=status)


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


def payable_now(booking: FacilityBooking) -> bool:
    return (
        booking.status == BookingStatus.CONFIRMED
        and booking.payment_state == BookingPaymentState.UNPAID
        and (booking.payment_due_at is None or booking.payment_due_at > timezone.now())
    )


def can_cancel(booking: FacilityBooking) -> bool:
    starts = timezone.make_aware(dt.datetime.combine(booking.use_date, booking.starts_at))
    return booking.is_active and starts > timezone.now()


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
