"""kill -9 while reminders are sent: every reminder pushed once, no row left in 送信中.

Real Celery workers on a Redis of the test's own, LINE faked on 127.0.0.1. The fake holds one
push at a chosen point (after LINE accepted it, or before) while the test kills the worker,
so the kill lands exactly at a claim point; the beat's minute tick is sent by hand once the
claims are stale (``CLAIM_STALE_AFTER_SECONDS`` is 3 s for the workers here).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import pytest
from django.utils import timezone

from reservations.models import ReminderDelivery, ReminderStatus, Reservation
from reservations.services import reservation_book
from tests.fakeline import FakeLine
from tests.municipalities.factories import resident_in
from tests.processes import process_env, send_task, wait_until
from tests.reservations.factories import MenuFactory, SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)
logger = logging.getLogger(__name__)
STALE_SECONDS = 3
RESIDENTS = 8


class PushHold:
    """Holds the n-th push at the fake LINE until ``release``: after accepting it (the answer is
    lost with the worker) or before (LINE never gets it, as when the worker dies on the way)."""

    def __init__(self, fake: FakeLine) -> None:
        self.points: dict[int, tuple[bool, threading.Event, threading.Event]] = {}
        self.count = 0
        self._lock = threading.Lock()
        self._original = fake.handle_message
        fake.handle_message = self._handle  # type: ignore[method-assign]

    def at(self, n: int, *, after_accept: bool) -> tuple[threading.Event, threading.Event]:
        reached, release = threading.Event(), threading.Event()
        self.points[n] = (after_accept, reached, release)
        return reached, release

    def _handle(self, endpoint: str, schema: str, headers: dict[str, str], body: Any) -> Any:
        if endpoint != "push":
            return self._original(endpoint, schema, headers, body)
        with self._lock:
            self.count += 1
            point = self.points.get(self.count)
        if point is None:
            return self._original(endpoint, schema, headers, body)
        after_accept, reached, release = point
        if after_accept:
            answer = self._original(endpoint, schema, headers, body)
            reached.set()
            release.wait(60)
            return answer
        reached.set()
        release.wait(60)
        return 503, {"message": "lost on the way"}, {}


def _statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in ReminderDelivery.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_two_workers_killed_at_claim_points_every_reminder_pushed_once(
    town, kenko, redis_server, fake_line, celery_workers
):
    # given: 8 bookings whose 2時間前 reminder is due now (booked yesterday)
    menu = MenuFactory(department=kenko, name="予防接種", reminder_offsets="2時間前")
    residents = [resident_in(town) for _ in range(RESIDENTS)]
    for resident in residents:
        slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=2, minutes=-1))
        reservation_book(slot=slot, resident=resident)
    Reservation.objects.update(created_at=timezone.now() - dt.timedelta(days=1))
    env = process_env(redis_server, fake_line, CLAIM_STALE_AFTER_SECONDS=str(STALE_SECONDS))
    hold = PushHold(fake_line)
    accepted_then_lost = hold.at(3, after_accept=True)
    lost_on_the_way = hold.at(6, after_accept=False)

    # when: the beat's tick; the worker is killed while LINE holds the 3rd push it accepted
    first = celery_workers.start(env)
    send_task(redis_server, "reservations.tasks.reminders_send_due_task")
    assert accepted_then_lost[0].wait(60), "the third push never came"
    first.kill()
    accepted_then_lost[1].set()
    # and: the next worker is killed while its push (the 6th) is on the way
    second = celery_workers.start(env)
    assert lost_on_the_way[0].wait(60), "the sixth push never came"
    second.kill()
    lost_on_the_way[1].set()
    killed_at = time.monotonic()
    assert _statuses().get(ReminderStatus.SENDING) == 2
    # and: a third worker comes; the next minute's tick finds the two stale claims
    third = celery_workers.start(env)
    wait_until(lambda: _statuses().get(ReminderStatus.PENDING, 0) == 0, timeout=60)
    time.sleep(STALE_SECONDS + 0.5)
    send_task(redis_server, "reservations.tasks.reminders_send_due_task")
    wait_until(lambda: _statuses() == {ReminderStatus.SENT: RESIDENTS}, timeout=60)
    recovered_in = time.monotonic() - killed_at
    third.assert_alive()

    # then: each resident got their reminder exactly once, under one retry key each
    delivered = fake_line.state.deliveries_per_user
    assert {r.line_user_id: delivered[r.line_user_id] for r in residents} == {
        r.line_user_id: 1 for r in residents
    }
    assert fake_line.duplicate_deliveries() == {}
    assert len(fake_line.recipients_by_key) == RESIDENTS
    # the push whose answer was lost was sent again with its key, and LINE answered 409
    assert [r.status for r in fake_line.requests_to("push")].count(409) == 1
    row_keys = {r.retry_key for r in fake_line.requests_to("push")}
    assert len(row_keys) == RESIDENTS
    assert not ReminderDelivery.objects.exclude(claimed_by="").exists()
    logger.warning(
        "reminders recovered %.1f s after the second kill (stale after %s s)", recovered_in, STALE_SECONDS
    )
