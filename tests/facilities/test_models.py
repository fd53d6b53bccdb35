"""The database's own rules on facilities (R5: every constraint has a test that violates it)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from facilities.models import Facility, LotteryApplication, LotteryFrame, LotteryRound, group_key_for
from tests.facilities.factories import booking_row, next_weekday


def make_round(facility: Facility, **fields) -> LotteryRound:
    now = timezone.now()
    defaults = {
        "month": (timezone.localdate() + dt.timedelta(days=62)).replace(day=1),
        "applications_open_at": now,
        "applications_close_at": now + dt.timedelta(days=7),
        "draw_at": now + dt.timedelta(days=8),
        "payment_due_at": now + dt.timedelta(days=15),
    }
    defaults.update(fields)
    return LotteryRound.objects.create(facility=facility, **defaults)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "maybe"},
        {"total_fee": 999},  # not base − discount + extras
        {"discount_amount": 500, "total_fee": 1500},  # a discount without a reason
        {"status": "rejected"},  # without a reason
        {"representative": ""},
        {"headcount": 0},
        {"refund_amount": 3000},
    ],
)
def test_booking_constraints(world, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        booking_row(world.arena, world.morning, next_weekday(1), **fields)


def test_a_facility_takes_some_payment(kenko):
    with pytest.raises(IntegrityError), transaction.atomic():
        Facility.objects.create(department=kenko, name="x", pay_online=False, pay_at_counter=False)


def test_one_application_per_group_and_frame(world):
    round_ = make_round(world.facility)
    frame = LotteryFrame.objects.create(
        round=round_,
        room=world.arena,
        frame=world.evening,
        use_date=round_.month,
        starts_at=dt.time(18),
        ends_at=dt.time(21),
    )

    def apply(name: str, **fields) -> LotteryApplication:
        return LotteryApplication.objects.create(
            round=round_,
            lottery_frame=frame,
            group_name=name,
            group_key=group_key_for(name),
            representative="山田",
            purpose="練習",
            **fields,
        )

    apply("みどりバレー部", status="withdrawn")
    apply("みどりバレー部")
    with pytest.raises(IntegrityError), transaction.atomic():
        apply("みどり バレー部")


def test_a_drawn_round_has_a_seed(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_round(world.facility, status="drawn")
