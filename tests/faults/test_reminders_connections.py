"""PostgreSQL connections cut while reminders are sent: each reminder pushed once, none left 送信中.

A cut can land between the claim and the push, or between the push and 送信済; the row is then
left 送信中 (or 送信待ち) by a task that failed. The next minute's ticks (sent by hand once the
claims are stale, ``CLAIM_STALE_AFTER_SECONDS`` = 3 s here) offer it again under the same retry
key.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django.utils import timezone

from reservations.models import ReminderDelivery, ReminderStatus, Reservation
from reservations.services import reservation_book
from tests.municipalities.factories import resident_in
from tests.processes import connection_cutter, process_env, send_task, wait_until
from tests.reservations.factories import MenuFactory, SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)
logger = logging.getLogger(__name__)
STALE_SECONDS = 3
RESIDENTS = 20


def _left() -> int:
    return ReminderDelivery.objects.exclude(status=ReminderStatus.SENT).count()


def test_connections_cut_while_sending_every_reminder_pushed_once(
    town, kenko, redis_server, fake_line, celery_workers
):
    # given: 20 reminders due now; LINE takes 0.2 s a push, so the sending lasts a few seconds
    menu = MenuFactory(department=kenko, name="予防接種", reminder_offsets="2時間前")
    residents = [resident_in(town) for _ in range(RESIDENTS)]
    for resident in residents:
        slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=2, minutes=-1))
        reservation_book(slot=slot, resident=resident)
    Reservation.objects.update(created_at=timezone.now() - dt.timedelta(days=1))
    fake_line.latency_seconds = 0.2
    worker = celery_workers.start(
        process_env(redis_server, fake_line, CLAIM_STALE_AFTER_SECONDS=str(STALE_SECONDS))
    )
    send_task(redis_server, "reservations.tasks.reminders_send_due_task")
    wait_until(lambda: len(fake_line.requests_to("push")) >= 1, timeout=60)

    # when: every connection of the test database is cut every 0.3 s while they are sent
    with connection_cutter(every=0.3) as cuts:
        time.sleep(4)
    cut_at = time.monotonic()
    # and: the minute's ticks come until nothing is left (each after the claims went stale)
    for _ in range(10):
        time.sleep(STALE_SECONDS + 0.5)
        if not _left():
            break
        send_task(redis_server, "reservations.tasks.reminders_send_due_task")
    wait_until(lambda: _left() == 0, timeout=60)
    recovered_in = time.monotonic() - cut_at

    # then: every resident got the reminder exactly once, and no row is left claimed
    worker.assert_alive()
    assert sum(cuts) > 0
    delivered = fake_line.state.deliveries_per_user
    assert [delivered[r.line_user_id] for r in residents] == [1] * RESIDENTS
    assert fake_line.duplicate_deliveries() == {}
    assert not ReminderDelivery.objects.exclude(claimed_by="").exists()
    logger.warning(
        "reminders: %s cuts, all %s sent %.1f s after the cuts ended (409s: %s)",
        sum(cuts),
        RESIDENTS,
        recovered_in,
        [r.status for r in fake_line.requests_to("push")].count(409),
    )
