"""Two beat workers at 20:00 at once (PostgreSQL): each resident still gets one reminder."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from chatbot.models import GarbageReminder
from chatbot.services import chat_state_update
from chatbot.tasks import garbage_reminders_dispatch_task
from municipalities.models import SimulatedDelivery
from municipalities.services import resident_follow, resident_update_preferences
from tests.chatbot.test_reminders_handoff import _area_collecting_tomorrow


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_one_reminder_per_resident(kyotango_town):
    # given ten residents with the reminder on in an area collecting tomorrow
    area = _area_collecting_tomorrow(kyotango_town)
    for i in range(10):
        resident, _ = resident_follow(municipality=kyotango_town, line_user_id=f"U{i:032d}")
        resident_update_preferences(resident=resident, area=area)
        chat_state_update(resident=resident, garbage_reminder=True)
    # when two workers run the nightly task at the same moment
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            garbage_reminders_dispatch_task()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # then every resident got exactly one push, and every claim is marked sent
    assert not errors
    pushes = SimulatedDelivery.objects.filter(endpoint="push")
    assert pushes.count() == 10
    assert pushes.values("line_user_id").distinct().count() == 10
    assert GarbageReminder.objects.filter(sent_at__isnull=False).count() == 10
