"""Booking windows, deadlines and reservation codes: pure functions of a menu and a time."""

from __future__ import annotations

import datetime as dt
import secrets
from functools import lru_cache

import jpholiday
from django.utils import timezone

from municipalities import jp

from .models import Menu, WaitlistEntry

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read out on the phone cannot be misheard or mistyped.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8


def reservation_code_new() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str:

    s = jp.normalise_text(text).upper().replace(" ", "").replace("-", "")
    return f"{s[:4]}-{s[4:]}" if len(s) == CODE_LENGTH else s


@lru_cache(maxsize=2048)
def is_business_day(day: dt.date) -> bool:
    """Open days of a town hall: not Saturday/Sunday, not a public holiday, not 12/29–1/3."""
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    return not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))


@lru_cache(maxsize=4096)
def closed_day_reason(day: dt.date) -> str:
    """Why a day is not a town-hall day besides the weekend: the holiday's name or 年末年始; "" otherwise."""
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return "年末年始"
    return jpholiday.is_holiday_name(day) or ""


def business_days_before(day: dt.date, n: int) -> dt.date:
    current = day
    counted = 0
    while counted < n:
        current -= dt.timedelta(days=1)
        if is_business_day(current):
            counted += 1
    return current


def opens_at(menu: Menu, starts_at: dt.datetime) -> dt.datetime:
    day = timezone.localtime(starts_at).date()
    if menu.window_in_business_days:
        first = business_days_before(day, menu.opens_days_before)
    else:
        first = day - dt.timedelta(days=menu.opens_days_before)
    return timezone.make_aware(dt.datetime.combine(first, dt.time(0, 0)))


def closes_at(menu: Menu, starts_at: dt.datetime) -> dt.datetime:
    return starts_at - dt.timedelta(hours=menu.closes_hours_before)


def cancel_deadline(menu: Menu, starts_at: dt.datetime) -> dt.datetime:
    return starts_at - dt.timedelta(hours=menu.cancel_deadline_hours)


def window_state(menu: Menu, starts_at: dt.datetime, now: dt.datetime) -> str:
    """ "open", "not_yet" (before the window opens) or "closed" (after it closed)."""
    if now >= closes_at(menu, starts_at) or now >= starts_at:
        return "closed"
    if now < opens_at(menu, starts_at):
        return "not_yet"
    return "open"


format_day = jp.format_month_day  # 「6月3日(火)」


def format_dt(value: dt.datetime) -> str:
    local = timezone.localtime(value)
    return f"{jp.format_month_day(local.date())} {local:%H:%M}"


def waitlist_when(entry: WaitlistEntry) -> str:
    """「6月3日(火) 10:00」 of a waitlist entry's slot, or for a whole-day entry still waiting
    「6月3日(火) のどの時間でも」 (select_related the slot)."""
    if entry.slot_id is not None and (not entry.whole_day or entry.status != "waiting"):
        return format_dt(entry.slot.starts_at)
    return f"{format_day(entry.day)} のどの時間でも"
