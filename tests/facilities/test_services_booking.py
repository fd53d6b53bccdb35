"""booking_create: the checks, the stored fee, approval status, payment deadline, audit and notice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from facilities.errors import FacilityError
from facilities.models import (
    BookingPaymentState,
    BookingStatus,
    Closure,
    FacilityBooking,
    LotteryFrame,
    LotteryFrameStatus,
)
from facilities.services import GroupDetails, booking_create
from facilities.services.booking import ONLINE_PAYMENT_HOLD
from municipalities.models import AuditEntry, SimulatedDelivery
from tests.facilities.factories import booking_row, days_ahead, next_weekday
from tests.facilities.helpers import GROUP, book
from tests.facilities.test_models import make_round


def test_a_resident_books_a_free_frame_and_is_told_on_commit(
    world, resident, django_capture_on_commit_callbacks
):
    # given
    day = next_weekday(1)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(world.arena, world.evening, day, resident, extras=[world.aircon])
    # then
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.starts_at, booking.ends_at, booking.is_exclusive) == (dt.time(18), dt.time(21), True)
    assert (booking.base_fee, booking.extras_fee, booking.total_fee) == (4000, 500, 4500)
    assert booking.payment_state == BookingPaymentState.UNPAID
    assert booking.payment_due_at is not None
    assert booking.payment_due_at <= timezone.now() + ONLINE_PAYMENT_HOLD
    assert booking.group_key == "みどりバレー部"
    assert AuditEntry.objects.filter(
        action="facilities.facilitybooking.booked", object_id=str(booking.pk)
    ).exists()
    push = SimulatedDelivery.objects.get(line_user_id=resident.line_user_id)
    assert "施設の予約が確定しました" in str(push.messages)
    assert booking.code in str(push.messages)


def test_a_taken_exclusive_frame_is_refused_in_japanese(world, resident, other_resident):
    day = next_weekday(1)
    book(world.arena, world.evening, day, resident)
    with pytest.raises(FacilityError) as exc:
        book(
            world.arena,
            world.evening,
            day,
            other_resident,
            group=GroupDetails(representative="佐藤", purpose="卓球"),
        )
    assert exc.value.message == "この枠はすでに予約されています。"
    assert exc.value.code == "taken"
    assert FacilityBooking.objects.count() == 1


def test_an_overlapping_frame_of_another_length_is_taken_too(world, resident):
    # given: a one-hour frame 10:00–11:00 inside 午前 9:00–12:00
    from facilities.models import Rate
    from tests.facilities.factories import TimeFrameFactory

    hour = TimeFrameFactory(facility=world.facility, name="10時", starts_at=dt.time(10), ends_at=dt.time(11))
    Rate.objects.create(room=world.arena, frame=hour, resident_fee=700, non_resident_fee=1400)
    day = next_weekday(2)
    book(world.arena, world.morning, day, resident)
    # when / then
    with pytest.raises(FacilityError, match="すでに予約されています"):
        book(world.arena, hour, day, resident)


def test_the_database_refuses_a_second_active_booking_of_an_exclusive_frame(world):
    day = next_weekday(1)
    booking_row(world.arena, world.evening, day)
    with pytest.raises(IntegrityError), transaction.atomic():
        booking_row(world.arena, world.evening, day)


def test_a_cancelled_booking_does_not_hold_the_frame_in_the_database(world):
    day = next_weekday(1)
    booking_row(world.arena, world.evening, day, status="cancelled")
    booking_row(world.arena, world.evening, day)
    assert FacilityBooking.objects.count() == 2


def test_a_shared_room_takes_bookings_until_its_capacity(world, resident, other_resident):
    day = next_weekday(3)
    small = GroupDetails(representative="山田", purpose="筋トレ", headcount=6)
    book(world.training, world.morning, day, resident, group=small)
    with pytest.raises(FacilityError, match="残り 4 人") as exc:
        book(world.training, world.morning, day, other_resident, group=small)
    assert exc.value.code == "full"
    four = GroupDetails(representative="佐藤", purpose="筋トレ", headcount=4)
    book(world.training, world.morning, day, other_resident, group=four)
    assert FacilityBooking.objects.filter(room=world.training).count() == 2


def test_a_facility_needing_approval_takes_an_application(
    world, resident, django_capture_on_commit_callbacks
):
    world.facility.requires_approval = True
    world.facility.save()
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(world.arena, world.afternoon, next_weekday(4), resident)
    assert booking.status == BookingStatus.PENDING
    assert booking.payment_due_at is None  # due only once approved
    assert "申請しました" in str(SimulatedDelivery.objects.get().messages)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"booking_opens_days_before": 10}, "not_yet"),
        ({"booking_closes_days_before": 40}, "window_closed"),
        ({"open_weekdays": "0123456".replace("1", "")}, "closed"),
    ],
)
def test_residents_book_inside_the_window_on_open_days(world, resident, change, code):
    for field, value in change.items():
        setattr(world.facility, field, value)
    world.facility.save()
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.evening, next_weekday(1, after=30), resident)
    assert exc.value.code == code


def test_staff_may_book_outside_the_window_and_pay_at_the_counter(world, kenko_editor):
    world.facility.booking_opens_days_before = 5
    world.facility.save()
    booking = book(world.arena, world.evening, next_weekday(1, after=30), actor=kenko_editor, group=GROUP)
    assert booking.origin == "staff"
    assert booking.resident is None
    assert (booking.payment_method, booking.payment_due_at) == ("counter", None)


def test_a_planned_closure_already_blocks_new_bookings(world, resident):
    day = next_weekday(1)
    Closure.objects.create(
        facility=world.facility, room=world.arena, starts_on=day, ends_on=day, reason="床の改修"
    )
    with pytest.raises(FacilityError, match="臨時休館（床の改修）"):
        book(world.arena, world.evening, day, resident)
    book(
        world.training,
        world.evening,
        day,
        resident,
        group=GroupDetails(representative="山田", purpose="筋トレ"),
    )


def test_year_end_and_holidays_are_closed(world, resident, kenko_editor):
    world.facility.closed_on_holidays = True
    world.facility.save()
    year = timezone.localdate().year + 1
    with pytest.raises(FacilityError, match="年末年始"):
        book(world.arena, world.evening, dt.date(year, 1, 2), actor=kenko_editor)
    with pytest.raises(FacilityError, match="元日|成人の日|建国記念の日"):
        book(world.arena, world.evening, dt.date(year, 2, 11), actor=kenko_editor)


def test_a_lottery_frame_is_not_first_come_until_released(world, resident):
    day = next_weekday(5)
    round_ = make_round(world.facility)
    frame = LotteryFrame.objects.create(
        round=round_,
        room=world.arena,
        frame=world.evening,
        use_date=day,
        starts_at=dt.time(18),
        ends_at=dt.time(21),
    )
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.evening, day, resident)
    assert exc.value.code == "lottery"
    frame.status = LotteryFrameStatus.RELEASED
    frame.save()
    assert book(world.arena, world.evening, day, resident).is_active


def test_the_monthly_limit_per_group_counts_the_group_however_it_is_typed(world, resident):
    world.facility.monthly_limit_per_group = 2
    world.facility.save()
    day = next_weekday(0, after=3)
    month_days = [d for d in (day + dt.timedelta(days=i) for i in range(0, 40)) if d.month == day.month][:3]
    if len(month_days) < 3:  # near the month's end: use next month
        first = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        month_days = [first + dt.timedelta(days=i) for i in range(3)]
    names = ["みどりバレー部", "みどり バレー部", "ﾐﾄﾞﾘ"]
    book(
        world.arena,
        world.evening,
        month_days[0],
        resident,
        group=GroupDetails(group_name=names[0], representative="山田", purpose="練習"),
    )
    book(
        world.arena,
        world.morning,
        month_days[1],
        resident,
        group=GroupDetails(group_name=names[1], representative="山田", purpose="練習"),
    )
    with pytest.raises(FacilityError) as exc:
        book(
            world.arena,
            world.afternoon,
            month_days[2],
            resident,
            group=GroupDetails(group_name="みどりバレー部", representative="山田", purpose="練習"),
        )
    assert exc.value.code == "limit"
    assert "1か月 2 件まで" in exc.value.message


def test_a_discount_needs_a_reason_and_staff_only_ones_are_refused_to_residents(
    world, resident, kenko_editor
):
    day = next_weekday(2)
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, day, resident, discount=world.elderly)
    assert exc.value.code == "discount_reason"
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, day, resident, discount=world.disabled, discount_reason="手帳")
    assert exc.value.code == "discount"
    booking = book(
        world.arena,
        world.morning,
        day,
        actor=kenko_editor,
        discount=world.disabled,
        discount_reason="療育手帳を確認",
    )
    assert (booking.discount_name, booking.discount_percent, booking.discount_amount, booking.total_fee) == (
        "障害者団体減免",
        100,
        2000,
        0,
    )
    assert booking.discount_reason == "療育手帳を確認"
    assert booking.payment_state == BookingPaymentState.NOT_REQUIRED


def test_the_non_resident_rate_and_the_group_fields_are_stored(world, resident):
    group = GroupDetails(
        group_name="ＡＢＣクラブ",
        representative=" 鈴木　一郎 ",
        representative_kana="すずき いちろう",
        phone="090-1234-5678",
        headcount=20,
        purpose="バドミントン",
        is_resident_rate=False,
    )
    booking = book(world.arena, world.morning, next_weekday(2), resident, group=group)
    assert (booking.group_name, booking.group_key, booking.representative) == (
        "ABCクラブ",
        "abcクラブ",
        "鈴木 一郎",
    )
    assert (booking.representative_kana, booking.phone, booking.total_fee) == (
        "スズキ イチロウ",
        "09012345678",
        4000,
    )


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"headcount": 101}, "headcount"),
        ({"purpose": " "}, "purpose"),
        ({"representative": ""}, "representative"),
    ],
)
def test_group_details_are_checked(world, resident, fields, code):
    group = GroupDetails(**{**GROUP.__dict__, **fields})
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, next_weekday(2), resident, group=group)
    assert exc.value.code == code


def test_a_payment_method_the_facility_does_not_take_is_refused(world, resident):
    world.facility.pay_at_counter = False
    world.facility.save()
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, next_weekday(2), resident, payment_method="counter")
    assert exc.value.code == "payment_method"
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, next_weekday(2), resident, payment_method="")
    assert exc.value.code == "payment_method"


def test_a_frame_without_a_rate_or_in_the_past_is_refused(world, resident):
    world.arena.rates.filter(frame=world.morning).delete()
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, next_weekday(2), resident)
    assert exc.value.code == "no_rate"
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.evening, days_ahead(-1), resident)
    assert exc.value.code == "past"


def test_another_departments_staff_cannot_book(world, somu_editor):
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.morning, next_weekday(2), actor=somu_editor)
    assert exc.value.code == "permission_denied"


def test_a_viewer_cannot_book(world, kenko_viewer):
    with pytest.raises(FacilityError) as exc:
        booking_create(
            room=world.arena, frame=world.morning, use_date=next_weekday(2), group=GROUP, actor=kenko_viewer
        )
    assert exc.value.code == "permission_denied"
