"""Reminders after a lost worker: the claim, the stale sweep and the re-send with the same key."""

import datetime as dt

import pytest
from django.utils import timezone

from municipalities.claims import claim, worker_identity
from municipalities.models import SimulatedDelivery
from reservations.models import ReminderDelivery, ReminderStatus
from reservations.services import reminder_send, reminders_schedule_due, reservation_book
from reservations.services import reminders as reminders_module
from tests.reservations.factories import MenuFactory, SlotFactory


@pytest.fixture
def two_hours_menu(kenko):
    return MenuFactory(department=kenko, name="予防接種", reminder_offsets="2時間前")


@pytest.fixture
def due_reminder(two_hours_menu, resident):
    """A booking whose 2時間前 reminder is due; returns (delivery id, the time it is due)."""
    slot = SlotFactory(menu=two_hours_menu, starts_at=timezone.now() + dt.timedelta(hours=5))
    reservation_book(slot=slot, resident=resident)
    due = slot.starts_at - dt.timedelta(hours=2)
    [delivery_id] = reminders_schedule_due(now=due)
    return delivery_id, due


def _pushed(resident) -> int:
    return SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).count()


def test_a_claim_records_the_worker_and_time_and_the_end_releases_it(due_reminder, monkeypatch):
    # given
    delivery_id, _ = due_reminder
    claimed = {}
    real_client = reminders_module.get_line_client

    def spy_client(municipality):  # the row as it is just before the push
        claimed.update(
            ReminderDelivery.objects.filter(pk=delivery_id)
            .values("status", "claimed_by", "claim_count")
            .get()
        )
        return real_client(municipality)

    monkeypatch.setattr(reminders_module, "get_line_client", spy_client)
    # when
    status = reminder_send(delivery_id=delivery_id)
    # then: while sending, the row said who had it; afterwards the claim is released
    assert claimed == {"status": "sending", "claimed_by": worker_identity(), "claim_count": 1}
    row = ReminderDelivery.objects.get(pk=delivery_id)
    assert (status, row.claimed_by, row.heartbeat_at, row.claimed_at is not None) == ("sent", "", None, True)


def test_a_reminder_left_sending_by_a_dead_worker_is_offered_again_once_stale(
    due_reminder, resident, settings
):
    # given: a worker claimed the row and died before pushing
    settings.CLAIM_STALE_AFTER_SECONDS = 60
    delivery_id, due = due_reminder
    claimed_at = due
    assert claim(
        ReminderDelivery.objects.filter(pk=delivery_id), now=claimed_at, status=ReminderStatus.SENDING
    )
    # when: the minute's run 30 s later, then 61 s later
    early = reminders_schedule_due(now=claimed_at + dt.timedelta(seconds=30))
    late = reminders_schedule_due(now=claimed_at + dt.timedelta(seconds=61))
    # then: a live-looking claim is left alone; a stale one is offered again and sent once
    assert early == [] and late == [delivery_id]
    assert reminder_send(delivery_id=delivery_id) == ReminderStatus.SENT
    assert _pushed(resident) == 1
    assert ReminderDelivery.objects.get(pk=delivery_id).claim_count == 2


def test_a_push_that_arrived_before_the_worker_died_is_not_sent_twice(due_reminder, resident, monkeypatch):
    # given: the push reaches LINE, then the worker dies before it records 送信済
    delivery_id, due = due_reminder
    real_finish = reminders_module._finish

    def die_after_push(pk, **changes):
        if changes.get("status") == ReminderStatus.SENT:
            raise SystemExit("killed")
        real_finish(pk, **changes)

    monkeypatch.setattr(reminders_module, "_finish", die_after_push)
    with pytest.raises(SystemExit):
        reminder_send(delivery_id=delivery_id)
    monkeypatch.setattr(reminders_module, "_finish", real_finish)
    assert ReminderDelivery.objects.get(pk=delivery_id).status == ReminderStatus.SENDING
    # when: the claim goes stale and the reminder run offers it again
    ids = reminders_schedule_due(now=due + dt.timedelta(minutes=5))
    status = reminder_send(delivery_id=delivery_id)
    # then: LINE knew the retry key (409): counted as sent, and the resident has one reminder
    assert ids == [delivery_id] and status == ReminderStatus.SENT
    assert _pushed(resident) == 1


def test_a_reminder_that_keeps_killing_its_workers_ends_failed(due_reminder, resident):
    # given: claimed for the fifth time, by a worker that died too
    delivery_id, due = due_reminder
    ReminderDelivery.objects.filter(pk=delivery_id).update(claim_count=4)
    claim(ReminderDelivery.objects.filter(pk=delivery_id), now=due, status=ReminderStatus.SENDING)
    # when
    ids = reminders_schedule_due(now=due + dt.timedelta(minutes=5))
    # then: recorded as failed with a sentence for staff, not offered again
    row = ReminderDelivery.objects.get(pk=delivery_id)
    assert ids == [] and row.status == ReminderStatus.FAILED
    assert row.error == "送信中に処理が繰り返し中断されたため、送信を取りやめました。"
    assert (row.claimed_by, _pushed(resident)) == ("", 0)


def test_the_sweep_keeps_a_claim_whose_worker_heartbeats(due_reminder):
    # given: claimed long ago, but the worker beat a moment ago
    delivery_id, due = due_reminder
    claim(
        ReminderDelivery.objects.filter(pk=delivery_id),
        now=due - dt.timedelta(minutes=10),
        status=ReminderStatus.SENDING,
    )
    ReminderDelivery.objects.filter(pk=delivery_id).update(heartbeat_at=due - dt.timedelta(seconds=5))
    # when
    ids = reminders_schedule_due(now=due)
    # then
    assert ids == [] and ReminderDelivery.objects.get(pk=delivery_id).status == ReminderStatus.SENDING
