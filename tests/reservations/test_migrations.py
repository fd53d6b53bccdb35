"""reservations 0004: every waitlist entry made before it (one slot each) gets its menu and day."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from reservations.models import WaitlistEntry
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = ("reservations", "0003_household_eligibility_waitlist")


def test_old_entries_get_their_slots_menu_and_local_day(kenko, town):
    # given: an entry as 0003 stored it, for a slot at 00:30 Japan time (the day before in UTC)
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, starts_at=in_days(5, 0, 30), capacity=1)
    resident = resident_in(town)
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        OldEntry = old.get_model("reservations", "WaitlistEntry")
        old_pk = OldEntry.objects.create(slot_id=slot.pk, resident_id=resident.pk).pk
    finally:
        # when
        call_command("migrate", "reservations", verbosity=0)
    # then
    entry = WaitlistEntry.objects.get(pk=old_pk)
    assert entry.menu_id == menu.pk and entry.slot_id == slot.pk and not entry.whole_day
    assert entry.day == timezone.localtime(slot.starts_at).date() == in_days(5).date()
