"""臨時休館 confirmation (cancel, refund, notify) and 定期利用 bulk entry (all or nothing)."""

from __future__ import annotations

import datetime as dt

import pytest

from facilities.errors import FacilityError
from facilities.models import BookingPaymentState, BookingStatus, Closure, ClosureStatus, FacilityBooking
from facilities.services import (
    FacilityBulkError,
    GroupDetails,
    bookings_bulk_create,
    closure_confirm,
    closure_withdraw,
)
from municipalities.models import Payment, SimulatedDelivery
from tests.facilities.factories import booking_row, next_weekday
from tests.facilities.helpers import book, pay_online

GROUP = GroupDetails(group_name="火曜バレー会", representative="田中", purpose="バレーボール", headcount=15)


def test_confirming_a_closure_cancels_refunds_and_notifies(
    world, resident, kenko_head, django_capture_on_commit_callbacks
):
    # given: a paid booking 3 days ahead (inside the fee period: the town cancels, so all back)
    day = next_weekday(3, after=3)
    paid = book(world.arena, world.evening, day, resident)
    pay_online(paid, resident)
    other_room = book(
        world.training,
        world.evening,
        day,
        resident,
        group=GroupDetails(representative="山田", purpose="筋トレ"),
    )
    closure = Closure.objects.create(
        facility=world.facility, room=world.arena, starts_on=day, ends_on=day, reason="照明の故障"
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = closure_confirm(closure=closure, actor=kenko_head)
    # then
    paid.refresh_from_db()
    assert (paid.status, paid.refund_amount, paid.cancellation_fee) == (BookingStatus.CANCELLED, 4000, 0)
    assert paid.payment_state == BookingPaymentState.REFUNDED  # the head refunded at once
    assert Payment.objects.get(status="refunded").detail["refund_amount"] == 4000
    assert (result.refunded, result.refund_errors) == (1, [])
    other_room.refresh_from_db()
    assert other_room.is_active
    closure.refresh_from_db()
    assert (closure.status, closure.cancelled_bookings, closure.confirmed_by) == (
        ClosureStatus.CONFIRMED,
        1,
        kenko_head,
    )
    assert "臨時休館のため" in str(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last().messages
    )
    with pytest.raises(FacilityError):
        closure_confirm(closure=closure, actor=kenko_head)


def test_an_editor_confirms_and_the_refunds_wait_for_the_head(world, resident, kenko_editor):
    day = next_weekday(3, after=3)
    paid = book(world.arena, world.evening, day, resident)
    pay_online(paid, resident)
    closure = Closure.objects.create(facility=world.facility, starts_on=day, ends_on=day, reason="停電")
    result = closure_confirm(closure=closure, actor=kenko_editor)
    paid.refresh_from_db()
    assert paid.payment_state == BookingPaymentState.REFUND_PENDING
    assert result.refunded == 0


def test_a_withdrawn_closure_no_longer_blocks(world, resident, kenko_editor):
    day = next_weekday(3)
    closure = Closure.objects.create(facility=world.facility, starts_on=day, ends_on=day, reason="点検")
    with pytest.raises(FacilityError):
        book(world.arena, world.evening, day, resident)
    closure_withdraw(closure=closure, actor=kenko_editor)
    assert book(world.arena, world.evening, day, resident).is_active


def test_bulk_books_every_tuesday_evening_skipping_closed_days(world, kenko_editor):
    # given: a Tuesday closure in the range
    start = next_weekday(1, after=7)
    end = start + dt.timedelta(weeks=12)
    Closure.objects.create(
        facility=world.facility,
        starts_on=start + dt.timedelta(weeks=2),
        ends_on=start + dt.timedelta(weeks=2),
        reason="点検",
    )
    # when
    result = bookings_bulk_create(
        room=world.arena,
        frame=world.evening,
        weekday=1,
        starts_on=start,
        ends_on=end,
        group=GROUP,
        actor=kenko_editor,
    )
    # then
    assert all(d.weekday() == 1 for d in result.dates)
    assert start + dt.timedelta(weeks=2) in [d for d, _r in result.skipped]
    assert len(result.dates) + len(result.skipped) == 13
    bookings = FacilityBooking.objects.filter(series=result.series)
    assert bookings.count() == len(result.dates)
    assert {(b.origin, b.payment_method, b.status) for b in bookings} == {("bulk", "counter", "confirmed")}


def test_bulk_with_a_conflict_writes_nothing_and_lists_each_date(world, kenko_editor):
    start = next_weekday(1, after=7)
    taken = [start + dt.timedelta(weeks=1), start + dt.timedelta(weeks=3)]
    for day in taken:
        booking_row(world.arena, world.evening, day, group_name="先客")
    with pytest.raises(FacilityBulkError) as exc:
        bookings_bulk_create(
            room=world.arena,
            frame=world.evening,
            weekday=1,
            starts_on=start,
            ends_on=start + dt.timedelta(weeks=4),
            group=GROUP,
            actor=kenko_editor,
        )
    assert [d for d, _m in exc.value.rows] == taken
    assert all(m == "この枠はすでに予約されています。" for _d, m in exc.value.rows)
    assert FacilityBooking.objects.filter(group_name="火曜バレー会").count() == 0


def test_bulk_dry_run_writes_nothing(world, kenko_editor):
    start = next_weekday(1, after=7)
    result = bookings_bulk_create(
        room=world.arena,
        frame=world.evening,
        weekday=1,
        starts_on=start,
        ends_on=start + dt.timedelta(weeks=3),
        group=GROUP,
        actor=kenko_editor,
        dry_run=True,
    )
    assert result.dry_run and len(result.dates) >= 3
    assert FacilityBooking.objects.count() == 0


def test_bulk_needs_the_departments_booking_right(world, somu_editor, kenko_viewer):
    start = next_weekday(1, after=7)
    for actor in (somu_editor, kenko_viewer):
        with pytest.raises(FacilityError) as exc:
            bookings_bulk_create(
                room=world.arena,
                frame=world.evening,
                weekday=1,
                starts_on=start,
                ends_on=start,
                group=GROUP,
                actor=actor,
            )
        assert exc.value.code == "permission_denied"
