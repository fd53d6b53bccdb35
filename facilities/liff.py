"""Resident pages (LIFF) of 施設予約: facilities → rooms → week grid → details → pay → done.

Every object is looked up through ``request.resident`` (its town's published facilities, its own
bookings), so another town's room or another resident's booking is a 404. The views parse,
call one service and show what it said (STYLE R1); the services check everything again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from facilities.calendar import day_label
from facilities.models import (
    BookingPaymentState,
    BookingStatus,
    Facility,
    FacilityBooking,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRoundStatus,
    Room,
    TimeFrame,
)
from facilities.selectors import booking_for_resident, facilities_for_municipality, week_grid
from municipalities.line.liff import resident_required

WEEK = 7


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


def payable_now(booking: FacilityBooking) -> bool:
    return (
        booking.status == BookingStatus.CONFIRMED
        and booking.payment_state == BookingPaymentState.UNPAID
        and (booking.payment_due_at is None or booking.payment_due_at > timezone.now())
    )


def can_cancel(booking: FacilityBooking) -> bool:
    starts = timezone.make_aware(dt.datetime.combine(booking.use_date, booking.starts_at))
    return booking.is_active and starts > timezone.now()
