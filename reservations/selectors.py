"""Reads of the reservations app (STYLE R2): calendars, alternatives, rosters."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from municipalities import jp
from municipalities.models import Department, HouseholdMember, Municipality, Resident, StaffUser
from municipalities.permissions import departments_for_staff, policy_for

from .models import WAITLIST_OPEN, Menu, Reservation, ReservationStatus, Slot, WaitlistEntry, WaitlistStatus
from .rules import closes_at, opens_at, window_state
from .services.places import availability_version

AVAILABILITY_TTL_SECONDS = 300


def menu_list(*, municipality: Municipality) -> QuerySet[Menu]:
    return (
        Menu.objects.filter(department__municipality=municipality)
        .select_related("department")
        .order_by("department__sort_order", "sort_order", "pk")
    )


@dataclass
class DayCell:
    day: dt.date
    symbol: str  # ○ △ × or "" (no slots)
    label: str
    bookable: bool
    in_month: bool
    waitlist: bool = False  # full, still inside the window, and the menu takes a waitlist


def _day_totals(menu: Menu, first: dt.date, last: dt.date) -> dict[str, tuple[int, int, str, str]]:
    """{iso date: (capacity, reserved, first start iso, last start iso)} of open slots; cached per menu version."""
    version = availability_version(menu.pk)
    key = f"rsv:avail:{menu.pk}:{version}:{first:%Y%m%d}:{last:%Y%m%d}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(first, dt.time(0, 0)), tz)
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0, 0)), tz)
    totals: dict[str, list] = {}
    for starts_at, capacity, reserved in Slot.objects.filter(
        menu=menu, is_open=True, starts_at__gte=start, starts_at__lt=end
    ).values_list("starts_at", "capacity", "reserved"):
        day = timezone.localtime(starts_at).date().isoformat()
        row = totals.setdefault(day, [0, 0, starts_at.isoformat(), starts_at.isoformat(), 0])
        row[0] += capacity
        row[1] += reserved
        row[2] = min(row[2], starts_at.isoformat())
        row[3] = max(row[3], starts_at.isoformat())
        if reserved < capacity:
            # the last start that still has room decides whether the day is still bookable
            row[4] = max(row[4], int(starts_at.timestamp()))
    result = {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in totals.items()}
    cache.set(key, result, AVAILABILITY_TTL_SECONDS)
    return result


def symbol_for(capacity: int, reserved: int) -> str:
    remaining = capacity - reserved
    if remaining <= 0:
        return "×"
    if remaining <= max(2, capacity // 5):
        return "△"
    return "○"


def menu_month_calendar(
    *, menu: Menu, year: int, month: int, now: dt.datetime | None = None
) -> list[list[DayCell]]:
    """Weeks (Sunday first) of a month with ○ (空きあり) △ (残りわずか) × (満席・受付外) per day."""
    now = now or timezone.now()
    cal = calendar.Calendar(firstweekday=6)
    weeks = cal.monthdatescalendar(year, month)
    totals = _day_totals(menu, weeks[0][0], weeks[-1][-1])
    out = []
    for week in weeks:
        row = []
        for day in week:
            t = totals.get(day.isoformat())
            if t is None:
                row.append(DayCell(day, "", "予約枠なし", False, day.month == month))
                continue
            capacity, reserved, _first, last_start, last_free_ts = t
            symbol = symbol_for(capacity, reserved)
            bookable = False
            # A whole day full: the day page offers each slot's waitlist (one tap).
            waitlist = (
                symbol == "×"
                and menu.waitlist_enabled
                and not menu.is_suspended
                and window_state(menu, dt.datetime.fromisoformat(last_start), now) == "open"
            )
            if symbol != "×" and not menu.is_suspended:
                last_free = dt.datetime.fromtimestamp(last_free_ts, tz=dt.UTC)
                bookable = window_state(menu, last_free, now) == "open"
                if not bookable:
                    symbol = "×"
            label = {"○": "空きあり", "△": "残りわずか", "×": "満席または受付時間外"}[symbol]
            if waitlist:
                label = "満席（キャンセル待ちできます）"
            row.append(DayCell(day, symbol, label, bookable, day.month == month, waitlist))
        out.append(row)
    return out


@dataclass
class SlotView:
    slot: Slot
    state: str  # open / full / not_yet / closed
    symbol: str


def slots_for_menu(*, menu: Menu, on: dt.date, now: dt.datetime | None = None) -> list[SlotView]:
    """The open slots of one day with what a resident can do with each."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(on, dt.time(0, 0)), tz)
    qs = Slot.objects.filter(
        menu=menu, is_open=True, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)
    )
    views = []
    for slot in qs.order_by("starts_at", "venue", "pk"):
        slot.menu = menu
        state = window_state(menu, slot.starts_at, now)
        if state == "open" and slot.reserved >= slot.capacity:
            state = "full"
        symbol = symbol_for(slot.capacity, slot.reserved) if state == "open" else "×"
        views.append(SlotView(slot, state, symbol))
    return views


def nearest_alternatives(
    *,
    menu: Menu,
    around: dt.datetime,
    now: dt.datetime | None = None,
    limit: int = 3,
    exclude_slot_id: int | None = None,
    exclude_day: dt.date | None = None,
) -> list[Slot]:
    """The bookable slots of the menu closest in time to ``around`` (for 「満席です」 messages),
    none on ``exclude_day`` (a day the person may book no more of) if given."""
    now = now or timezone.now()
    base = Slot.objects.filter(
        menu=menu,
        is_open=True,
        reserved__lt=F("capacity"),
        starts_at__gt=now + dt.timedelta(hours=menu.closes_hours_before),
    )
    if exclude_slot_id:
        base = base.exclude(pk=exclude_slot_id)
    if exclude_day is not None:
        base = base.exclude(starts_at__date=exclude_day)
    after = list(base.filter(starts_at__gte=around).order_by("starts_at", "pk")[: limit * 3])
    before = list(base.filter(starts_at__lt=around).order_by("-starts_at", "-pk")[: limit * 3])
    pool = [
        s for s in after + before if now >= opens_at(menu, s.starts_at) and now < closes_at(menu, s.starts_at)
    ]
    pool.sort(key=lambda s: abs((s.starts_at - around).total_seconds()))
    for s in pool:
        s.menu = menu
    return sorted(pool[:limit], key=lambda s: s.starts_at)


def reservations_for_resident(*, resident: Resident, upcoming: bool = True) -> QuerySet[Reservation]:
    qs = Reservation.objects.filter(resident=resident).select_related("slot__menu__department", "member")
    if upcoming:
        qs = qs.filter(status=ReservationStatus.BOOKED, slot__ends_at__gt=timezone.now()).order_by(
            "slot__starts_at"
        )
    else:
        qs = qs.order_by("-slot__starts_at")
    return qs


def reservation_on_slot_for_resident(
    *, resident: Resident, slot: Slot, member: HouseholdMember | None
) -> int | None:
    """The id of the person's active booking on ``slot`` (a double tap's first one), or None."""
    active = Reservation.objects.filter(
        resident=resident, slot=slot, member=member, status=ReservationStatus.BOOKED
    )
    return active.values_list("pk", flat=True).first()


def reservation_get_for_resident(*, resident: Resident, reservation_id: int) -> Reservation:
    return reservations_for_resident(resident=resident, upcoming=False).get(pk=reservation_id)


def roster_for_slot(*, slot: Slot) -> QuerySet[Reservation]:
    """Everyone booked in a slot (cancelled last), for the roster and its export."""
    return (
        Reservation.objects.filter(slot=slot)
        .select_related("resident", "member", "booked_by", "slot__menu")
        .order_by(
            # active first, then by when they booked
            F("cancelled_at").asc(nulls_first=True),
            "created_at",
            "pk",
        )
    )


def callers_for_department(
    *, department: Department, user: StaffUser, query: str, limit: int = 10
) -> list[dict[str, str]]:
    """Phone callers who booked in ``department`` before (代理予約 without a LINE account), to prefill
    the phone-booking form: found by the first digits of the phone number (4 or more) or by the
    start of the name or フリガナ. Newest first, one entry per name and number, at most ``limit``.

    Empty unless ``user`` may book on behalf in ``department`` (the permission policy): another
    department's callers are that department's residents' data, never searchable from here.
    """
    query = jp.normalise_text(query)
    if (
        not query
        or not departments_for_staff(user=user, perm="reservations.book_slot")
        .filter(pk=department.pk)
        .exists()
    ):
        return []
    past = Reservation.objects.filter(resident__isnull=True, menu__department=department)
    digits = "".join(ch for ch in query if ch.isdigit())
    past = (
        past.filter(phone__startswith=digits)
        if len(digits) >= 4
        else past.filter(Q(kana__startswith=jp.to_katakana(query)) | Q(name__startswith=query))
    )
    callers: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for name, kana, phone in past.order_by("-created_at").values_list("name", "kana", "phone")[: limit * 5]:
        if (name, phone) not in seen:
            seen.add((name, phone))
            callers.append({"name": name, "kana": kana, "phone": phone})
    return callers[:limit]


def slots_bookable_by_staff(*, user: StaffUser, now: dt.datetime) -> QuerySet[Slot]:
    """Open slots that start after ``now`` in the departments where ``user`` may book on a
    resident's behalf (代理予約, the permission policy), soonest first."""
    slots = Slot.objects.filter(starts_at__gt=now, is_open=True).select_related("menu__department")
    return policy_for(Slot).instances_user_has_permission_for(user, "book", slots).order_by("starts_at")


def slots_offered_for_booking(
    *, slots: QuerySet[Slot], chosen: Slot | None, menu_id: int | None, limit: int = 300
) -> QuerySet[Slot]:
    """The slot choices of the phone-booking form: the chosen slot alone, else the first ``limit``
    of ``slots`` (of one menu when ``menu_id`` is given), soonest first."""
    if chosen is not None:
        ids = [chosen.pk]
    else:
        shown = slots.filter(menu_id=menu_id) if menu_id else slots
        ids = list(shown.values_list("pk", flat=True)[:limit])
    return Slot.objects.filter(pk__in=ids).select_related("menu").order_by("starts_at")


def residents_for_phone_booking(*, department: Department, query: str, limit: int = 20) -> QuerySet[Resident]:
    """Residents of ``department``'s town who follow the account and whose LINE name contains
    ``query`` (as typed, or in katakana), by name: the caller may be a LINE user already."""
    return (
        Resident.objects.filter(municipality_id=department.municipality_id, is_following=True)
        .filter(Q(display_name__icontains=query) | Q(display_name__icontains=jp.to_katakana(query)))
        .order_by("display_name")[:limit]
    )


def resident_for_phone_booking(*, department: Department, resident_id: int | str) -> Resident | None:
    """The resident picked on the phone-booking form, if they live in ``department``'s town."""
    return Resident.objects.filter(pk=resident_id, municipality_id=department.municipality_id).first()


def slots_for_day(*, menus: QuerySet[Menu], on: dt.date) -> QuerySet[Slot]:
    """Staff day view: every slot of the menus on one day with its counts."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(on, dt.time(0, 0)), tz)
    return (
        Slot.objects.filter(menu__in=menus, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1))
        .select_related("menu")
        .annotate(
            attended=Count("reservations", filter=Q(reservations__status=ReservationStatus.ATTENDED)),
            no_show=Count("reservations", filter=Q(reservations__status=ReservationStatus.NO_SHOW)),
        )
        .order_by("menu__sort_order", "menu_id", "starts_at", "venue")
    )


def menu_day_summary(*, menu: Menu, first: dt.date, days: int = 14) -> list[dict[str, object]]:
    """Per day of the next ``days``: slots, capacity, reserved (staff overview)."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(first, dt.time(0, 0)), tz)
    end = start + dt.timedelta(days=days)
    rows = {}
    for starts_at, capacity, reserved in Slot.objects.filter(
        menu=menu, starts_at__gte=start, starts_at__lt=end
    ).values_list("starts_at", "capacity", "reserved"):
        day = timezone.localtime(starts_at).date()
        r = rows.setdefault(day, {"day": day, "slots": 0, "capacity": 0, "reserved": 0})
        r["slots"] += 1
        r["capacity"] += capacity
        r["reserved"] += reserved
    return [rows[d] for d in sorted(rows)]


def waitlist_position(*, entry: WaitlistEntry) -> int:
    """1 for the first in line. A slot's entry: the entries still waiting before it for that slot
    or for its whole day (both are served from the slot's freed places), plus one. A whole-day
    entry: the whole-day entries of that menu and day waiting before it, plus one."""
    same_day = Q(menu_id=entry.menu_id, day=entry.day, whole_day=True)
    competitors = same_day if entry.whole_day else Q(slot_id=entry.slot_id, whole_day=False) | same_day
    return (
        WaitlistEntry.objects.filter(competitors, status=WaitlistStatus.WAITING)
        .filter(Q(created_at__lt=entry.created_at) | Q(created_at=entry.created_at, pk__lt=entry.pk))
        .count()
        + 1
    )


def waitlist_for_resident(*, resident: Resident) -> list[tuple[WaitlistEntry, int | None]]:
    """The resident's open waitlist entries of days still ahead (a slot entry: of its slot still
    ahead), each with its place in line (None while a place is offered to them), for 「予約確認」."""
    now = timezone.now()
    entries = list(
        WaitlistEntry.objects.filter(
            resident=resident, status__in=WAITLIST_OPEN, day__gte=timezone.localdate()
        )
        .filter(Q(slot__isnull=True) | Q(slot__starts_at__gt=now))
        .select_related("menu", "slot", "member")
        .order_by("day", "slot__starts_at", "pk")
    )
    return [(e, waitlist_position(entry=e) if e.status == WaitlistStatus.WAITING else None) for e in entries]


def waitlist_for_slot(*, slot: Slot) -> QuerySet[WaitlistEntry]:
    """Staff: every entry of a slot, open first then history, in the order they were made, with
    those still waiting for any slot of its day (they are served from this slot's places too)."""
    day = timezone.localtime(slot.starts_at).date()
    return (
        WaitlistEntry.objects.filter(
            Q(slot=slot) | Q(menu_id=slot.menu_id, day=day, whole_day=True, status=WaitlistStatus.WAITING)
        )
        .select_related("resident", "member", "reservation", "added_by")
        .order_by("created_at", "pk")
    )


def phone_booking_week(*, slots: QuerySet[Slot], start: dt.date) -> list[tuple[dt.date, list[Slot]]]:
    """The 代理予約 week calendar: seven days from ``start``, each with its slots (of ``slots``,
    already narrowed to one menu and to what the clerk may book) in time order."""
    tz = timezone.get_current_timezone()
    begin = timezone.make_aware(dt.datetime.combine(start, dt.time(0, 0)), tz)
    by_day: dict[dt.date, list[Slot]] = {start + dt.timedelta(days=i): [] for i in range(7)}
    for slot in slots.filter(starts_at__gte=begin, starts_at__lt=begin + dt.timedelta(days=7)).order_by(
        "starts_at", "venue", "pk"
    ):
        by_day[timezone.localtime(slot.starts_at).date()].append(slot)
    return list(by_day.items())


def upcoming_booking_of(*, menu: Menu, phone: str = "", resident_id: int | None = None) -> Reservation | None:
    """The caller's next active booking of ``menu`` (by LINE account, or by phone for phone
    bookings), for the duplicate-booking warning of 代理予約."""
    if resident_id is not None:
        person = Q(resident_id=resident_id)
    elif phone:
        person = Q(phone=phone, resident__isnull=True)
    else:
        return None
    return (
        Reservation.objects.filter(
            person, menu=menu, status=ReservationStatus.BOOKED, slot__starts_at__gt=timezone.now()
        )
        .select_related("slot")
        .order_by("slot__starts_at")
        .first()
    )
