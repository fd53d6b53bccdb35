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


def test_concurrent_cancels_across_a_day_lose_no_place_and_give_none_twice(kenko, town):
    # given: three slots of one day, each of 2 places and full; four wait for the whole day and
    # two for the first slot only, joined in turns; six residents try to book directly
    menu = MenuFactory(department=kenko, max_per_resident_per_day=2)
    slots = [SlotFactory(menu=menu, starts_at=in_days(5, 9 + i), capacity=2) for i in range(3)]
    holders = [reservation_book(slot=s, resident=resident_in(town)) for s in slots for _ in range(2)]
    day = in_days(5).date()
    waiting = []
    for i in range(6):
        if i % 3 == 2:
            waiting.append(waitlist_join(slot=slots[0], resident=resident_in(town)))
        else:
            waiting.append(waitlist_join(menu=menu, day=day, resident=resident_in(town)))
    bookers = [resident_in(town) for _ in range(6)]
    # when: all six holders cancel at once while six residents book
    results = _run_all(
        [lambda h=h: reservation_cancel(reservation=h) for h in holders]
        + [
            lambda s=s, r=r: reservation_book(slot=s, resident=r)
            for s, r in zip(slots * 2, bookers, strict=True)
        ]
    )
    # then: nothing but refusals went wrong
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, ReservationError)], (
        results
    )
    entries = {e.pk: e for e in WaitlistEntry.objects.all()}
    offered = [e for e in entries.values() if e.status == WaitlistStatus.OFFERED]
    still_waiting = [e for e in entries.values() if e.status == WaitlistStatus.WAITING]
    # each entry holds at most one place, a single-slot entry only in its own slot
    assert len(offered) + len(still_waiting) == 6
    assert all(e.slot_id == slots[0].pk for e in entries.values() if not e.whole_day and e.slot_id)
    for slot in slots:
        # every place is a booking or a held offer, never more than the capacity ...
        reserved, booked, held = _held_and_booked(slot)
        assert reserved == booked + held <= 2
        # ... and a place left free has nobody waiting who could have had it
        if reserved < 2:
            assert not [e for e in still_waiting if e.whole_day or e.slot_id == slot.pk]
    # nobody waiting for the day is passed over by a later one: the offered day entries came first
    day_entries = sorted((e for e in entries.values() if e.whole_day), key=lambda e: (e.created_at, e.pk))
    statuses = [e.status for e in day_entries]
    assert statuses == sorted(statuses, key=lambda s: s != WaitlistStatus.OFFERED)
    assert slot_counters_reconcile() == []
