"""Reads: the residents' week grid, the staff day grid, the usage report and the daily figures."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from facilities.metrics import facilities_rollup
from facilities.models import Closure, LotteryFrame
from facilities.selectors import day_grid, usage_report, week_grid
from tests.facilities.factories import booking_row, next_weekday
from tests.facilities.test_models import make_round


def test_week_grid_states_in_a_fixed_number_of_queries(world, django_assert_num_queries):
    # given: a Monday with one booked, one lottery frame, a closed day, and a shared room half full
    monday = next_weekday(0, after=7)
    booking_row(world.arena, world.evening, monday)
    LotteryFrame.objects.create(
        round=make_round(world.facility),
        room=world.arena,
        frame=world.morning,
        use_date=monday,
        starts_at=world.morning.starts_at,
        ends_at=world.morning.ends_at,
    )
    wednesday = monday + dt.timedelta(days=2)
    Closure.objects.create(
        facility=world.facility, starts_on=wednesday, ends_on=wednesday, reason="ワックスがけ"
    )
    booking_row(world.training, world.morning, monday, headcount=10)
    booking_row(world.training, world.evening, monday, headcount=4)
    world.arena.facility = world.facility
    # when
    with django_assert_num_queries(5):
        grid = week_grid(room=world.arena, start=monday)
    # then
    assert grid.cell(monday, world.evening).state == "booked"
    assert grid.cell(monday, world.morning).state == "lottery"
    assert grid.cell(monday, world.afternoon).state == "free"
    assert grid.cell(monday, world.afternoon).fee == 3000
    assert (grid.cell(wednesday, world.morning).state, grid.cell(wednesday, world.morning).reason) == (
        "closed",
        "臨時休館（ワックスがけ）",
    )
    shared = week_grid(room=world.training, start=monday)
    assert shared.cell(monday, world.morning).state == "full"
    assert (shared.cell(monday, world.evening).state, shared.cell(monday, world.evening).remaining) == (
        "free",
        6,
    )


def test_week_grid_past_and_not_yet_open(world):
    world.facility.booking_opens_days_before = 10
    grid = week_grid(room=world.arena, start=timezone.localdate() - dt.timedelta(days=1), days=14)
    assert grid.cell(grid.days[0], world.evening).state == "past"
    assert grid.cell(grid.days[-1], world.evening).state == "not_open"


def test_day_grid_places_bookings_by_room_and_frame(world, django_assert_num_queries):
    day = next_weekday(2)
    booking_row(world.arena, world.evening, day, group_name="夜の部")
    booking_row(world.training, world.morning, day, group_name="朝A", headcount=3)
    booking_row(world.training, world.morning, day, group_name="朝B", headcount=3)
    with django_assert_num_queries(5):
        grid = day_grid(facility=world.facility, day=day)
    cells = {
        (c["room"].name, frame.name): [b.group_name for b in c["bookings"]]
        for frame, row in grid.rows()
        for c in row
    }
    assert cells[("アリーナA", "夜間")] == ["夜の部"]
    assert cells[("トレーニング室", "午前")] == ["朝A", "朝B"]
    assert cells[("アリーナA", "午前")] == []


def test_usage_report_counts_frames_open_booked_and_income(world):
    day = next_weekday(2)
    booking_row(world.arena, world.evening, day, payment_state="paid")
    booking_row(
        world.arena, world.morning, day, status="cancelled", payment_state="refunded", refund_amount=1000
    )
    rows = {
        r.room.name: r
        for r in usage_report(facilities=type(world.facility).objects.all(), start=day, end=day)
    }
    arena = rows["アリーナA"]
    assert (arena.frames_open, arena.frames_booked, arena.bookings) == (3, 1, 1)
    assert arena.fee_income == 2000 + 1000  # a paid booking, and the fee kept of a cancelled one
    assert round(arena.utilisation, 2) == 0.33


def test_the_daily_rollup_reports_utilisation_and_income(world, town):
    day = next_weekday(2)
    booking_row(world.arena, world.evening, day, payment_state="paid", paid_at=timezone.now())
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    rows = {
        (r.metric, r.dimension): r.value for r in facilities_rollup(town, start, start + dt.timedelta(days=1))
    }
    assert rows[("facility_frames_open", "")] == 6  # two rooms × three frames
    assert rows[("facility_frames_used", "")] == 1
    assert rows[("facility_frames_by_facility", str(world.facility.pk))] == 1
