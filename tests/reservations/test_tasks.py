import datetime as dt

from django.utils import timezone

from municipalities.line.dispatch import InboundContext
from municipalities.models import SimulatedDelivery
from reservations import line_handlers
from reservations.models import ReminderDelivery, ReminderStatus
from reservations.services import reminder_send, reminders_schedule_due, reservation_book, reservation_cancel
from reservations.tasks import reminders_send_due_task, reservation_counters_reconcile_task
from tests.conftest import link_button, sent_link_button, shown_text
from tests.reservations.factories import SlotFactory


def _reminders_for(resident):
    return [
        d
        for d in SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
        if "近づきました" in str(d.messages)
    ]


def test_reminder_is_sent_once_when_the_task_runs_twice(menu, resident, django_capture_on_commit_callbacks):
    # given: a booking two days ahead, made now; offsets 1日前 18:00 and 2時間前
    slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(days=2))
    reservation = reservation_book(slot=slot, resident=resident)
    day_before_18 = timezone.make_aware(
        dt.datetime.combine(timezone.localtime(slot.starts_at).date() - dt.timedelta(days=1), dt.time(18, 0))
    )
    # when: the beat task runs twice at 18:00:30 the day before
    for _ in range(2):
        ids = reminders_schedule_due(now=day_before_18 + dt.timedelta(seconds=30))
        for pk in ids:
            reminder_send(delivery_id=pk)
    # then
    [reminder] = _reminders_for(resident)
    my_reservation = f"/liff/reservations/my/{reservation.pk}/"
    assert link_button(reminder.messages[0]) == ("予約を見る", my_reservation)
    delivery = ReminderDelivery.objects.get(reservation=reservation)
    assert (delivery.offset_key, delivery.status) == ("1d18:00", ReminderStatus.SENT)
    # and: the 2-hours reminder comes later, once
    for _ in range(2):
        for pk in reminders_schedule_due(
            now=slot.starts_at - dt.timedelta(hours=2) + dt.timedelta(seconds=5)
        ):
            reminder_send(delivery_id=pk)
    assert len(_reminders_for(resident)) == 2


def test_no_reminder_before_it_is_due_or_for_cancelled_bookings(menu, resident, other_resident):
    slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(days=3))
    keep = reservation_book(slot=slot, resident=resident)
    gone = reservation_book(slot=slot, resident=other_resident)
    assert reminders_schedule_due() == []
    reservation_cancel(reservation=gone)
    ids = reminders_schedule_due(now=slot.starts_at - dt.timedelta(hours=1))
    for pk in ids:
        reminder_send(delivery_id=pk)
    assert set(ReminderDelivery.objects.values_list("reservation_id", flat=True)) == {keep.pk}
    assert _reminders_for(other_resident) == []


def test_a_reminder_already_past_at_booking_time_is_skipped(menu, resident):
    slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=3))
    reservation_book(slot=slot, resident=resident)
    # 2時間前 is due in an hour; 1日前 18:00 was already past when the booking was made
    ids = reminders_schedule_due(now=slot.starts_at - dt.timedelta(minutes=119))
    for pk in ids:
        reminder_send(delivery_id=pk)
    statuses = dict(ReminderDelivery.objects.values_list("offset_key", "status"))
    assert statuses == {"2h": ReminderStatus.SENT, "1d18:00": ReminderStatus.SKIPPED}
    assert len(_reminders_for(resident)) == 1


def test_beat_tasks_run_eagerly(menu, resident):
    # given: booked 90 minutes before the start, so the 2-hour reminder was never due for it
    slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(minutes=90))
    reservation_book(slot=slot, resident=resident)
    # when / then
    assert reminders_send_due_task.delay().get() == 0
    rows = dict(ReminderDelivery.objects.values_list("offset_key", "status"))
    assert rows["2h"] == ReminderStatus.SKIPPED and set(rows.values()) == {ReminderStatus.SKIPPED}
    assert reservation_counters_reconcile_task.delay().get() == 0


def test_chat_lists_upcoming_reservations(town, menu, slot, resident):
    r = reservation_book(slot=slot, resident=resident)
    ctx = InboundContext(
        municipality=town,
        resident=resident,
        event={"type": "message", "message": {"type": "text", "text": "予約確認"}},
    )
    replies = line_handlers.on_text(ctx)
    assert replies and r.code in shown_text(replies[0])
    assert sent_link_button(replies[0]) == ("予約を見る", resident.pk, "/liff/reservations/my/")
    other = InboundContext(
        municipality=town,
        resident=resident,
        event={"type": "message", "message": {"type": "text", "text": "明日のごみは？"}},
    )
    assert line_handlers.on_text(other) is None
    pb = InboundContext(
        municipality=town, resident=resident, event={"type": "postback", "postback": {"data": "rsv:menus"}}
    )
    items = line_handlers.on_postback(pb)[0]["quickReply"]["items"]
    assert items[0]["action"]["label"] == menu.name
