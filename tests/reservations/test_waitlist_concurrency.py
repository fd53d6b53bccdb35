"""Waitlist races on PostgreSQL: real threads, real transactions (STYLE R13)."""

import datetime as dt

import pytest

from reservations.models import Reservation, ReservationStatus, Slot, WaitlistEntry, WaitlistStatus
from reservations.services import (
    ReservationError,
    reservation_book,
    reservation_cancel,
    slot_counters_reconcile,
    waitlist_accept,
    waitlist_expire_holds,
    waitlist_hold_release,
    waitlist_join,
)
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.reservations.test_booking_concurrency import _run_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _held_and_booked(slot: Slot) -> tuple[int, int, int]:
    slot.refresh_from_db()
    booked = Reservation.objects.filter(slot=slot, status=ReservationStatus.BOOKED).count()
    offered = WaitlistEntry.objects.filter(slot=slot, status=WaitlistStatus.OFFERED).count()
    return slot.reserved, booked, offered


def test_concurrent_cancels_and_bookings_lose_no_place_and_give_none_twice(kenko, town):
    # given: a full slot of 5, five residents waiting, ten more trying to book directly
    menu = MenuFactory(department=kenko, max_per_resident_per_day=2)
    slot = SlotFactory(menu=menu, starts_at=in_days(5), capacity=5)
    holders = [reservation_book(slot=slot, resident=resident_in(town)) for _ in range(5)]
    waiting = [waitlist_join(slot=slot, resident=resident_in(town)) for _ in range(5)]
    bookers = [resident_in(town) for _ in range(10)]
    # when: all five holders cancel while ten residents book
    results = _run_all(
        [lambda h=h: reservation_cancel(reservation=h) for h in holders]
        + [lambda r=r: reservation_book(slot=slot, resident=r) for r in bookers]
    )
    # then: every freed place went to the waitlist in order; no direct booking got in
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, ReservationError)], (
        results
    )
    direct = [r for r in results[5:] if isinstance(r, Reservation)]
    assert direct == []
    reserved, booked, offered = _held_and_booked(slot)
    assert (reserved, booked, offered) == (5, 0, 5)
    assert {e.pk for e in WaitlistEntry.objects.filter(status=WaitlistStatus.OFFERED)} == {
        w.pk for w in waiting
    }
    assert slot_counters_reconcile() == []


def test_accept_racing_the_expiry_beat_gives_the_place_once(kenko, town):
    # given: an offer whose hold ends exactly now
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, starts_at=in_days(5), capacity=1)
    holder = reservation_book(slot=slot, resident=resident_in(town))
    first = waitlist_join(slot=slot, resident=resident_in(town))
    second = waitlist_join(slot=slot, resident=resident_in(town))
    reservation_cancel(reservation=holder)
    first.refresh_from_db()
    at = first.hold_until - dt.timedelta(microseconds=1)
    after = first.hold_until
    # when: the resident accepts (just inside the hold) while two beats run (just after it)
    results = _run_all(
        [
            lambda: waitlist_accept(entry=first, resident=first.resident, now=at),
            lambda: waitlist_hold_release(entry_id=first.pk, now=after),
            lambda: waitlist_expire_holds(now=after),
        ]
    )
    # then: exactly one of accept / expire won
    first.refresh_from_db()
    second.refresh_from_db()
    reserved, booked, offered = _held_and_booked(slot)
    assert reserved == 1 and booked + offered == 1, results
    if first.status == WaitlistStatus.BOOKED:
        assert isinstance(results[0], Reservation) and second.status == WaitlistStatus.WAITING
    else:
        assert first.status == WaitlistStatus.EXPIRED and second.status == WaitlistStatus.OFFERED
        assert isinstance(results[0], ReservationError) and results[0].code == "expired"
    assert slot_counters_reconcile() == []


def test_many_beats_at_once_release_each_hold_once(kenko, town):
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, starts_at=in_days(5), capacity=1)
    holder = reservation_book(slot=slot, resident=resident_in(town))
    entries = [waitlist_join(slot=slot, resident=resident_in(town)) for _ in range(3)]
    reservation_cancel(reservation=holder)
    entries[0].refresh_from_db()
    after = entries[0].hold_until
    # when: eight beats at the same moment
    results = _run_all([lambda: waitlist_expire_holds(now=after) for _ in range(8)])
    # then: the first offer ended once and the place moved to the second, not further
    assert sum(r for r in results if isinstance(r, int)) == 1, results
    statuses = [WaitlistEntry.objects.get(pk=e.pk).status for e in entries]
    assert statuses == [WaitlistStatus.EXPIRED, WaitlistStatus.OFFERED, WaitlistStatus.WAITING]
    assert _held_and_booked(slot) == (1, 0, 1)
