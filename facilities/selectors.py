"""Reads of the facilities app: facilities for residents, the week grid of a room, a resident's
bookings, the staff day grid and the usage report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from facilities.calendar import closure_reason, closures_between, day_label, fixed_closed_reason, is_year_end
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingPaymentState,
    BookingStatus,
    Facility,
    FacilityBooking,
    LotteryFrame,
    LotteryFrameStatus,
    Rate,
    Room,
    TimeFrame,
)
from municipalities.models import Municipality, Resident

__all__ = [
    "Cell",
    "upcoming_lines_for_resident",
    "DayGrid",
    "WeekGrid",
    "booking_for_resident",
    "bookings_for_resident",
    "day_grid",
    "facilities_for_municipality",
    "is_year_end",
    "UsageRow",
    "usage_report",
    "week_grid",
]


def facilities_for_municipality(*, municipality: Municipality) -> QuerySet[Facility]:
    """The town's published facilities with their bookable rooms (for the resident pages)."""
    return (
        Facility.objects.filter(department__municipality=municipality, is_published=True)
        .select_related("department")
        .prefetch_related("rooms")
        .order_by("sort_order", "name", "pk")
    )


@dataclass
class Cell:
    """One frame of one day in a room's grid, as a resident sees it."""

    day: dt.date
    frame: TimeFrame
    state: str  # "free" | "booked" | "full" | "closed" | "lottery" | "not_open" | "past"
    remaining: int = 0  # shared rooms: people still possible
    fee: int | None = None  # the resident rate, None when no rate is set
    reason: str = ""

    @property
    def bookable(self) -> bool:
        return self.state == "free"


@dataclass
class WeekGrid:
    room: Room
    days: list[dt.date]
    frames: list[TimeFrame]
    cells: dict[tuple[dt.date, int], Cell] = field(default_factory=dict)

    def cell(self, day: dt.date, frame: TimeFrame) -> Cell:
        return self.cells[(day, frame.pk)]

    def rows(self) -> list[tuple[TimeFrame, list[Cell]]]:
        """Frames down, days across (what the LIFF table renders)."""
        return [(f, [self.cells[(d, f.pk)] for d in self.days]) for f in self.frames]


def week_grid(*, room: Room, start: dt.date, days: int = 7, now: dt.datetime | None = None) -> WeekGrid:
    """The frames of ``room`` for ``days`` days from ``start`` with what a resident may do in each.

    Four queries whatever the size: frames, rates, closures, the active bookings' headcounts
    (plus lottery frames). The booking service checks everything again under its lock; this is
    only what the page shows.
    """
    now = now or timezone.now()
    facility = room.facility
    today = timezone.localtime(now).date()
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    end = day_list[-1]
    frames = list(TimeFrame.objects.filter(facility=facility, is_active=True).order_by("starts_at"))
    rates = {r.frame_id: r.resident_fee for r in Rate.objects.filter(room=room)}
    closures = closures_between(facility=facility, start=start, end=end)
    used: dict[tuple[dt.date, dt.time], int] = {}
    for row in (
        FacilityBooking.objects.filter(
            room=room, use_date__gte=start, use_date__lte=end, status__in=ACTIVE_BOOKING_STATUSES
        )
        .values("use_date", "starts_at")
        .annotate(n=Sum("headcount"), c=Count("pk"))
    ):
        used[(row["use_date"], row["starts_at"])] = row["n"] if not room.is_exclusive else row["c"]
    lottery = set(
        LotteryFrame.objects.filter(
            room=room, use_date__gte=start, use_date__lte=end, status=LotteryFrameStatus.LOTTERY
        ).values_list("use_date", "starts_at")
    )
    opens_until = today + dt.timedelta(days=facility.booking_opens_days_before)
    closes_from = today + dt.timedelta(days=facility.booking_closes_days_before)
    grid = WeekGrid(room=room, days=day_list, frames=frames)
    for day in day_list:
        closed = fixed_closed_reason(facility, day) or closure_reason(closures, room=room, day=day)
        for frame in frames:
            cell = Cell(day=day, frame=frame, state="free", fee=rates.get(frame.pk))
            taken = used.get((day, frame.starts_at), 0)
            if closed:
                cell.state, cell.reason = "closed", closed
            elif timezone.make_aware(dt.datetime.combine(day, frame.starts_at)) <= now or day < closes_from:
                cell.state = "past"
            elif day > opens_until:
                cell.state = "not_open"
            elif (day, frame.starts_at) in lottery:
                cell.state = "lottery"
            elif room.is_exclusive and taken:
                cell.state = "booked"
            elif not room.is_exclusive and taken >= room.capacity:
                cell.state = "full"
            elif cell.fee is None or not room.is_active:
                cell.state, cell.reason = "closed", "受付していません"
            if not room.is_exclusive:
                cell.remaining = max(room.capacity - taken, 0)
            grid.cells[(day, frame.pk)] = cell
    return grid


def bookings_for_resident(*, resident: Resident) -> QuerySet[FacilityBooking]:
    """A resident's facility bookings, upcoming first then past (「予約確認」), newest last."""
    return (
        FacilityBooking.objects.filter(resident=resident)
        .select_related("facility", "room")
        .order_by("-use_date", "-starts_at", "-pk")
    )


def upcoming_lines_for_resident(resident: Resident, limit: int) -> list[str]:
    """A resident's upcoming facility bookings as lines for 「予約確認」, soonest first:
    「12月5日(土) 19:00 町民体育館 アリーナA（未払い）」."""
    bookings = (
        FacilityBooking.objects.filter(
            resident=resident, status__in=ACTIVE_BOOKING_STATUSES, use_date__gte=timezone.localdate()
        )
        .select_related("facility", "room")
        .order_by("use_date", "starts_at", "pk")[:limit]
    )
    return [
        f"{day_label(b.use_date)} {b.starts_at:%H:%M} {b.facility.name} {b.room.name}"
        f"（{b.get_status_display() if b.status == BookingStatus.PENDING else b.get_payment_state_display()}）"
        for b in bookings
    ]


def booking_for_resident(*, resident: Resident, code: str) -> FacilityBooking | None:
    return (
        FacilityBooking.objects.filter(resident=resident, code=code.strip().upper())
        .select_related("facility__department__municipality", "room", "frame")
        .first()
    )


@dataclass
class DayGrid:
    facility: Facility
    day: dt.date
    rooms: list[Room]
    frames: list[TimeFrame]
    closed: str
    cells: dict[tuple[int, int], list[FacilityBooking]]
    lottery: set[tuple[int, dt.time]]

    def rows(self) -> list[tuple[TimeFrame, list[dict[str, Any]]]]:
        return [
            (
                frame,
                [
                    {
                        "room": room,
                        "bookings": self.cells.get((room.pk, frame.pk), []),
                        "lottery": (room.pk, frame.starts_at) in self.lottery,
                    }
                    for room in self.rooms
                ],
            )
            for frame in self.frames
        ]


def day_grid(*, facility: Facility, day: dt.date) -> DayGrid:
    """The staff grid of one day: frames down, rooms across, who booked each and whether they
    paid. Four queries (rooms, frames, bookings, lottery frames)."""
    rooms = list(Room.objects.filter(facility=facility).order_by("sort_order", "name", "pk"))
    frames = list(TimeFrame.objects.filter(facility=facility, is_active=True).order_by("starts_at"))
    by_start = {f.starts_at: f for f in frames}
    cells: dict[tuple[int, int], list[FacilityBooking]] = {}
    bookings = (
        FacilityBooking.objects.filter(facility=facility, use_date=day, status__in=ACTIVE_BOOKING_STATUSES)
        .select_related("resident")
        .order_by("starts_at", "pk")
    )
    for booking in bookings:
        frame = by_start.get(booking.starts_at)
        if frame is None:  # booked in a frame since changed: show it in the frame it overlaps
            frame = next(
                (f for f in frames if f.starts_at < booking.ends_at and f.ends_at > booking.starts_at), None
            )
        if frame is not None:
            cells.setdefault((booking.room_id, frame.pk), []).append(booking)
    lottery = set(
        LotteryFrame.objects.filter(
            room__facility=facility, use_date=day, status=LotteryFrameStatus.LOTTERY
        ).values_list("room_id", "starts_at")
    )
    closures = closures_between(facility=facility, start=day, end=day)
    closed = fixed_closed_reason(facility, day) or next(
        (f"臨時休館（{c.reason}）" for c in closures if c.room_id is None), ""
    )
    return DayGrid(
        facility=facility, day=day, rooms=rooms, frames=frames, closed=closed, cells=cells, lottery=lottery
    )


@dataclass
class UsageRow:
    facility: Facility
    room: Room | None
    frames_open: int
    frames_booked: int
    bookings: int
    people: int
    fee_income: int

    @property
    def utilisation(self) -> float:
        return self.frames_booked / self.frames_open if self.frames_open else 0.0


def usage_report(*, facilities: QuerySet[Facility], start: dt.date, end: dt.date) -> list[UsageRow]:
    """Per facility and room from ``start`` to ``end`` inclusive: frames open (open days × active
    frames, closures excluded), frames booked (確定, exclusive rooms: one per frame; shared: a
    frame with any booking), bookings, people and fee income (paid minus refunded)."""
    rows: list[UsageRow] = []
    facilities = facilities.prefetch_related("rooms", "frames")
    stats = {
        (r["room_id"]): r
        for r in FacilityBooking.objects.filter(
            facility__in=facilities,
            use_date__gte=start,
            use_date__lte=end,
            status="confirmed",
        )
        .values("room_id")
        .annotate(bookings=Count("pk"), people=Sum("headcount"))
    }
    slots_booked: dict[int, int] = {}
    for room_id, _day, _start in (
        FacilityBooking.objects.filter(
            facility__in=facilities, use_date__gte=start, use_date__lte=end, status="confirmed"
        )
        .values_list("room_id", "use_date", "starts_at")
        .distinct()
    ):
        slots_booked[room_id] = slots_booked.get(room_id, 0) + 1
    income = {
        r["room_id"]: (r["paid"] or 0)
        for r in FacilityBooking.objects.filter(
            facility__in=facilities,
            use_date__gte=start,
            use_date__lte=end,
            payment_state__in=[
                BookingPaymentState.PAID,
                BookingPaymentState.REFUND_PENDING,
                BookingPaymentState.REFUNDED,
            ],
        )
        .values("room_id")
        .annotate(paid=Sum("total_fee") - Sum("refund_amount"))
    }
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    for facility in facilities:
        frames = [f for f in facility.frames.all() if f.is_active]
        closures = closures_between(facility=facility, start=start, end=end)
        open_days = [d for d in days if not fixed_closed_reason(facility, d)]
        for room in facility.rooms.all():
            room_days = [d for d in open_days if not closure_reason(closures, room=room, day=d)]
            s = stats.get(room.pk, {})
            rows.append(
                UsageRow(
                    facility=facility,
                    room=room,
                    frames_open=len(room_days) * len(frames),
                    frames_booked=slots_booked.get(room.pk, 0),
                    bookings=s.get("bookings", 0),
                    people=s.get("people", 0) or 0,
                    fee_income=income.get(room.pk, 0),
                )
            )
    return rows
