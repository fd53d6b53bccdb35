"""The demo town: its residents are simulated ones, so ``make demo`` shows the simulator at work."""

from __future__ import annotations

from django.urls import reverse

from municipalities.demo import seed_core
from municipalities.models import Resident, StaffUser


def test_the_demo_residents_are_simulated_and_the_simulator_lists_them(db, client):
    # given
    town = seed_core()
    # when: seeded a second time, and the town's 自治体管理者 opens the simulator
    seed_core()
    client.force_login(StaffUser.objects.get(username="joho"))
    listed = client.get(reverse("line:simulator_residents"), {"municipality": town.pk}).json()["residents"]
    # then: 30 friends, every one simulated, all of them in the simulator
    residents = Resident.objects.filter(municipality=town)
    assert residents.count() == 30
    assert all(r.is_simulated and r.is_following for r in residents)
    assert sorted(r["userId"] for r in listed) == sorted(r.line_user_id for r in residents)
