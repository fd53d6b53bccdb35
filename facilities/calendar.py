"""When a facility is open: opening weekdays, public holidays, 年末年始 and ad-hoc closures.

Pure functions of a facility and a day, plus one query for closures; the booking service, the
week grid and the lottery all ask the same questions here.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import jpholiday
from django.db.models import Q

from facilities.models import WEEKDAY_LABELS, Closure, ClosureStatus, Facility, Room
from municipalities import jp

day_label = jp.format_month_day  # 「12月5日(土)」


def is_year_end(day: dt.date) -> bool:
    """年末年始: 12/29 to 1/3, the days public facilities close."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@lru_cache(maxsize=4096)
def _holiday_name(day: dt.date) -> str:
    return jpholiday.is_holiday_name(day) or ""


def fixed_closed_reason(facility: Facility, day: dt.date) -> str:
    """Why the facility is closed on ``day`` by its settings ("" if it is open):
    「年末年始」, the holiday's name, or 「休館日（月曜）」."""
    if facility.closed_year_end and is_year_end(day):
        return "年末年始"
    if facility.closed_on_holidays:
        name = _holiday_name(day)
        if name:
            return f"休館日（{name}）"
    if not facility.is_open_weekday(day):
        return f"休館日（{WEEKDAY_LABELS[day.weekday()]}曜）"
    return ""


def closures_between(*, facility: Facility, start: dt.date, end: dt.date) -> list[Closure]:
    """The planned and confirmed closures of ``facility`` overlapping ``start``..``end`` (inclusive).

    A planned closure already blocks new bookings; only confirming it cancels existing ones."""
    return list(
        Closure.objects.filter(
            facility=facility,
            status__in=[ClosureStatus.PLANNED, ClosureStatus.CONFIRMED],
            starts_on__lte=end,
            ends_on__gte=start,
        ).order_by("starts_on", "pk")
    )


def closure_reason(closures: list[Closure], *, room: Room, day: dt.date) -> str:
    """The reason of the first closure in ``closures`` covering ``room`` on ``day`` ("" if none)."""
    for closure in closures:
        if closure.starts_on <= day <= closure.ends_on and closure.room_id in (None, room.pk):
            return f"臨時休館（{closure.reason}）"
    return ""


def closed_reason(*, room: Room, day: dt.date) -> str:
    """Why ``room`` cannot be used on ``day`` at all ("" if it can): settings first, then closures."""
    facility = room.facility
    reason = fixed_closed_reason(facility, day)
    if reason:
        return reason
    closures = list(
        Closure.objects.filter(
            Q(room__isnull=True) | Q(room=room),
            facility=facility,
            status__in=[ClosureStatus.PLANNED, ClosureStatus.CONFIRMED],
            starts_on__lte=day,
            ends_on__gte=day,
        )[:1]
    )
    return closure_reason(closures, room=room, day=day)
