"""The facilities' Celery entry points: the lapse beat and the notice push (idempotent)."""

from __future__ import annotations

from config.celery import app
from facilities.tasks import booking_notify_task, bookings_lapse_unpaid_task
from municipalities.models import SimulatedDelivery
from tests.facilities.factories import next_weekday
from tests.facilities.helpers import book


def test_the_lapse_runs_on_beat(db):
    entries = [
        v
        for v in app.conf.beat_schedule.values()
        if v["task"] == "facilities.tasks.bookings_lapse_unpaid_task"
    ]
    assert len(entries) == 1
    assert bookings_lapse_unpaid_task() == 0


def test_a_notice_pushed_twice_reaches_the_resident_once(world, resident):
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    assert booking_notify_task(booking.pk, "booked") is True
    booking_notify_task(booking.pk, "booked")
    pushes = SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    assert pushes.count() == 1
    assert "施設の予約が確定しました" in str(pushes.first().messages)


def test_a_callers_booking_has_nobody_to_tell(world, kenko_editor):
    booking = book(world.arena, world.evening, next_weekday(2), actor=kenko_editor)
    assert booking_notify_task(booking.pk, "booked") is False
