"""Races on PostgreSQL: real threads, real transactions (STYLE R13). Two groups booking the same
exclusive frame at once: exactly one wins, the other is told the frame is taken."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import close_old_connections, connection

from facilities.errors import FacilityError
from facilities.models import FacilityBooking
from facilities.services import GroupDetails
from tests.facilities.factories import facility_world, next_weekday
from tests.facilities.helpers import book
from tests.municipalities.factories import resident_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_all(workers):
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(i, fn):
        try:
            barrier.wait(timeout=30)
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - FacilityError or a failure the assertions report
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    close_old_connections()
    return results


def _group(i: int) -> GroupDetails:
    return GroupDetails(group_name=f"団体{i}", representative=f"代表{i}", purpose="練習", headcount=5)


def test_two_groups_booking_the_same_exclusive_frame_exactly_one_wins(kenko, town):
    # given
    world = facility_world(kenko)
    day = next_weekday(2)
    residents = [resident_in(town) for _ in range(2)]
    # when
    results = _run_all(
        [
            lambda i=i, r=r: book(world.arena, world.evening, day, r, group=_group(i))
            for i, r in enumerate(residents)
        ]
    )
    # then
    won = [r for r in results if isinstance(r, FacilityBooking)]
    lost = [r for r in results if isinstance(r, FacilityError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].message == "この枠はすでに予約されています。"
    assert FacilityBooking.objects.filter(room=world.arena, use_date=day).count() == 1


def test_twenty_groups_racing_for_one_frame_one_booking(kenko, town):
    world = facility_world(kenko)
    day = next_weekday(3)
    residents = [resident_in(town) for _ in range(20)]
    results = _run_all(
        [
            lambda i=i, r=r: book(world.arena, world.morning, day, r, group=_group(i))
            for i, r in enumerate(residents)
        ]
    )
    assert sum(isinstance(r, FacilityBooking) for r in results) == 1
    assert all(r.code == "taken" for r in results if isinstance(r, FacilityError))
    assert FacilityBooking.objects.filter(room=world.arena, use_date=day).count() == 1


def test_without_the_lock_and_the_recount_the_database_still_refuses_the_second(kenko, town):
    # given: the facility lock and the overlap check switched off, so both reach the INSERT
    world = facility_world(kenko)
    day = next_weekday(4)
    residents = [resident_in(town) for _ in range(2)]
    real_lock = __import__("facilities.services.booking", fromlist=["lock_facility"]).lock_facility

    def no_lock(facility_id):
        from facilities.models import Facility

        return Facility.objects.select_related("department__municipality").get(pk=facility_id)

    with (
        mock.patch("facilities.services.booking.lock_facility", no_lock),
        mock.patch("facilities.services.booking._check_free", lambda *a, **k: None),
    ):
        results = _run_all(
            [
                lambda i=i, r=r: book(world.arena, world.evening, day, r, group=_group(i))
                for i, r in enumerate(residents)
            ]
        )
    # then: the partial UNIQUE let one in and turned the other into the same clear message
    assert real_lock is not no_lock
    assert sum(isinstance(r, FacilityBooking) for r in results) == 1, results
    errors = [r for r in results if isinstance(r, FacilityError)]
    assert len(errors) == 1 and errors[0].code == "taken"


def test_a_shared_room_never_goes_over_its_capacity(kenko, town):
    world = facility_world(kenko)  # トレーニング室: shared, 10 people
    day = next_weekday(2)
    residents = [resident_in(town) for _ in range(8)]
    three = GroupDetails(representative="山田", purpose="筋トレ", headcount=3)
    results = _run_all(
        [lambda r=r: book(world.training, world.evening, day, r, group=three) for r in residents]
    )
    assert sum(isinstance(r, FacilityBooking) for r in results) == 3, results
    assert all(isinstance(r, FacilityBooking) or r.code == "full" for r in results), results
    assert sum(b.headcount for b in FacilityBooking.objects.filter(room=world.training)) == 9
