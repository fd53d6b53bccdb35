"""Factories of the facilities app and its permission-matrix builders.

``facility_world(department)`` builds a facility with an exclusive and a shared room, the
three blocks 午前・午後・夜間, rates for every room and frame, a 減免 and an extra.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import factory
from django.utils import timezone

from facilities.models import (
    Closure,
    Discount,
    Extra,
    Facility,
    FacilityBooking,
    LotteryApplication,
    LotteryFrame,
    LotteryRound,
    Rate,
    Room,
    TimeFrame,
    booking_code_new,
    group_key_for,
)
from municipalities.models import Department
from tests.matrix import matrix_builder

_n = itertools.count(1)

BLOCKS = [
    ("午前", dt.time(9), dt.time(12)),
    ("午後", dt.time(13), dt.time(17)),
    ("夜間", dt.time(18), dt.time(21)),
]


def days_ahead(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def next_weekday(weekday: int, *, after: int = 3) -> dt.date:
    """The first ``weekday`` (0=月) at least ``after`` days from today that is not a holiday
    or 年末年始 (so a test books an open day)."""
    from facilities.calendar import _holiday_name, is_year_end

    day = days_ahead(after)
    while day.weekday() != weekday or _holiday_name(day) or is_year_end(day):
        day += dt.timedelta(days=1)
    return day


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    department = None
    name = factory.Sequence(lambda n: f"町民体育館{n}")
    kana = "チョウミンタイイクカン"
    address = "みどり町本町1-1"
    closed_year_end = True
    closed_on_holidays = False
    open_weekdays = "0123456"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    facility = factory.SubFactory(FacilityFactory)
    name = factory.Sequence(lambda n: f"アリーナ{n}")
    is_exclusive = True
    capacity = 50


class TimeFrameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeFrame

    facility = factory.SubFactory(FacilityFactory)
    name = "午前"
    starts_at = dt.time(9)
    ends_at = dt.time(12)


@dataclass
class FacilityWorld:
    facility: Facility
    arena: Room  # exclusive, capacity 100
    training: Room  # shared, capacity 10
    morning: TimeFrame
    afternoon: TimeFrame
    evening: TimeFrame
    elderly: Discount  # 50%, residents may choose
    disabled: Discount  # 100%, staff only
    aircon: Extra  # 500円


def facility_world(department: Department, **facility_fields) -> FacilityWorld:
    facility = FacilityFactory(department=department, **facility_fields)
    arena = RoomFactory(facility=facility, name="アリーナA", capacity=100)
    training = RoomFactory(facility=facility, name="トレーニング室", is_exclusive=False, capacity=10)
    frames = [TimeFrameFactory(facility=facility, name=n, starts_at=s, ends_at=e) for n, s, e in BLOCKS]
    for room, fees in ((arena, (2000, 3000, 4000)), (training, (300, 300, 300))):
        for frame, fee in zip(frames, fees, strict=True):
            Rate.objects.create(room=room, frame=frame, resident_fee=fee, non_resident_fee=fee * 2)
    return FacilityWorld(
        facility=facility,
        arena=arena,
        training=training,
        morning=frames[0],
        afternoon=frames[1],
        evening=frames[2],
        elderly=Discount.objects.create(
            facility=facility, name="高齢者団体減免", percent=50, residents_may_choose=True
        ),
        disabled=Discount.objects.create(facility=facility, name="障害者団体減免", percent=100),
        aircon=Extra.objects.create(facility=facility, name="冷暖房", price_per_frame=500),
    )


def booking_row(room: Room, frame: TimeFrame, use_date: dt.date, **fields) -> FacilityBooking:
    """A booking written directly (for selectors, admin and matrix tests; services are tested apart)."""
    group_name = fields.pop("group_name", "みどりバレー部")
    defaults = {
        "facility": room.facility,
        "room": room,
        "frame": frame,
        "use_date": use_date,
        "starts_at": frame.starts_at,
        "ends_at": frame.ends_at,
        "is_exclusive": room.is_exclusive,
        "code": booking_code_new(),
        "group_name": group_name,
        "group_key": group_key_for(group_name),
        "representative": "山田 太郎",
        "purpose": "練習",
        "headcount": 10,
        "base_fee": 2000,
        "total_fee": 2000,
        "payment_method": "counter",
    }
    defaults.update(fields)
    return FacilityBooking.objects.create(**defaults)


@matrix_builder(Facility)
def _facility(department: Department) -> Facility:
    return FacilityFactory(department=department)


@matrix_builder(Room)
def _room(department: Department) -> Room:
    return RoomFactory(facility=FacilityFactory(department=department))


@matrix_builder(TimeFrame)
def _frame(department: Department) -> TimeFrame:
    return TimeFrameFactory(facility=FacilityFactory(department=department))


@matrix_builder(Rate)
def _rate(department: Department) -> Rate:
    facility = FacilityFactory(department=department)
    return Rate.objects.create(
        room=RoomFactory(facility=facility),
        frame=TimeFrameFactory(facility=facility),
        resident_fee=1000,
        non_resident_fee=2000,
    )


@matrix_builder(Discount)
def _discount(department: Department) -> Discount:
    return Discount.objects.create(facility=FacilityFactory(department=department), name="減免", percent=50)


@matrix_builder(Extra)
def _extra(department: Department) -> Extra:
    return Extra.objects.create(
        facility=FacilityFactory(department=department), name="冷暖房", price_per_frame=500
    )


@matrix_builder(Closure)
def _closure(department: Department) -> Closure:
    return Closure.objects.create(
        facility=FacilityFactory(department=department),
        starts_on=days_ahead(10),
        ends_on=days_ahead(11),
        reason="床の改修工事",
    )


@matrix_builder(FacilityBooking)
def _booking(department: Department) -> FacilityBooking:
    facility = FacilityFactory(department=department)
    return booking_row(
        RoomFactory(facility=facility), TimeFrameFactory(facility=facility), days_ahead(10 + next(_n))
    )


def _round(department: Department) -> LotteryRound:
    now = timezone.now()
    return LotteryRound.objects.create(
        facility=FacilityFactory(department=department),
        month=(timezone.localdate() + dt.timedelta(days=62)).replace(day=1),
        applications_open_at=now,
        applications_close_at=now + dt.timedelta(days=7),
        draw_at=now + dt.timedelta(days=8),
        payment_due_at=now + dt.timedelta(days=15),
    )


def _lottery_frame(department: Department) -> LotteryFrame:
    round_ = _round(department)
    frame = TimeFrameFactory(facility=round_.facility)
    return LotteryFrame.objects.create(
        round=round_,
        room=RoomFactory(facility=round_.facility),
        frame=frame,
        use_date=round_.month + dt.timedelta(days=5),
        starts_at=frame.starts_at,
        ends_at=frame.ends_at,
    )


matrix_builder(LotteryRound)(_round)
matrix_builder(LotteryFrame)(_lottery_frame)


@matrix_builder(LotteryApplication)
def _application(department: Department) -> LotteryApplication:
    frame = _lottery_frame(department)
    return LotteryApplication.objects.create(
        round=frame.round,
        lottery_frame=frame,
        group_name="みどりバレー部",
        group_key=group_key_for("みどりバレー部"),
        representative="山田 太郎",
        purpose="練習",
    )
