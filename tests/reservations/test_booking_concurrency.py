"""Races on PostgreSQL: real threads, real transactions (STYLE R13)."""

import threading

import pytest
from django.db import close_old_connections, connection

from reservations.models import Reservation, ReservationStatus, Slot
from reservations.services import ReservationError, reservation_book
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_all(workers):
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(i, fn):
        try:
            barrier.wait(timeout=30)
            results[i] = fn()
        except ReservationError as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
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


def test_fifty_threads_booking_five_seats_get_exactly_five(kenko, town):
    # given
    slot = SlotFactory(menu=MenuFactory(department=kenko), capacity=5)
    residents = [resident_in(town) for _ in range(50)]
    # when
    results = _run_all([lambda r=r: reservation_book(slot=slot, resident=r) for r in residents])
    # then
    booked = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, ReservationError)]
    assert len(booked) == 5
    assert len(refused) == 45 and all(e.code == "full" for e in refused)
    slot.refresh_from_db()
    assert slot.reserved == 5
    assert Reservation.objects.filter(slot=slot, status=ReservationStatus.BOOKED).count() == 5


def test_one_resident_racing_for_many_slots_gets_only_the_limit(kenko, town):
    # given: a limit of 1 per menu and 20 different slots on different days
    menu = MenuFactory(department=kenko, max_active_per_resident=1, max_per_resident_per_day=1)
    slots = [SlotFactory(menu=menu, starts_at=in_days(2 + i), capacity=5) for i in range(20)]
    resident = resident_in(town)
    # when: the same resident books all of them at once
    results = _run_all([lambda s=s: reservation_book(slot=s, resident=resident) for s in slots])
    # then
    booked = [r for r in results if isinstance(r, Reservation)]
    assert len(booked) == 1, results
    assert all(isinstance(r, ReservationError) and r.code == "limit_menu" for r in results if r not in booked)
    assert sum(Slot.objects.filter(menu=menu).values_list("reserved", flat=True)) == 1


def test_per_day_limit_under_the_same_race(kenko, town):
    menu = MenuFactory(department=kenko, max_active_per_resident=10, max_per_resident_per_day=2)
    slots = [SlotFactory(menu=menu, starts_at=in_days(3, 9).replace(minute=i), capacity=5) for i in range(12)]
    resident = resident_in(town)
    results = _run_all([lambda s=s: reservation_book(slot=s, resident=resident) for s in slots])
    assert len([r for r in results if isinstance(r, Reservation)]) == 2
    assert Reservation.objects.filter(resident=resident, status=ReservationStatus.BOOKED).count() == 2


def test_two_residents_swapping_slots_at_once_neither_deadlocks_nor_oversells(kenko, town):
    # given: A and B are full, each held by one resident; both move to the other's slot at once
    menu = MenuFactory(department=kenko, max_active_per_resident=1, max_per_resident_per_day=2)
    a = SlotFactory(menu=menu, starts_at=in_days(3, 9), capacity=1)
    b = SlotFactory(menu=menu, starts_at=in_days(3, 10), capacity=1)
    ra = reservation_book(slot=a, resident=resident_in(town))
    rb = reservation_book(slot=b, resident=resident_in(town))
    from reservations.services import reservation_change

    # when
    results = _run_all(
        [
            lambda: reservation_change(reservation=ra, new_slot=b),
            lambda: reservation_change(reservation=rb, new_slot=a),
        ]
    )
    # then: both refused as full (each slot is still taken when the other tries), no deadlock error
    assert all(isinstance(r, ReservationError) and r.code == "full" for r in results), results
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.reserved, b.reserved) == (1, 1)
