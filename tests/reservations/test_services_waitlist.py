"""キャンセル待ち: join, offer on a freed place, hold, accept, expire once, automatic booking."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from municipalities.models import AuditEntry, SimulatedDelivery
from reservations.models import Reservation, ReservationStatus, WaitlistEntry, WaitlistStatus
from reservations.services import (
    ReservationError,
    reservation_book,
    reservation_cancel,
    reservation_change,
    reservation_delete,
    slot_counters_reconcile,
    slot_save,
    waitlist_accept,
    waitlist_auto_book,
    waitlist_expire_holds,
    waitlist_join,
    waitlist_leave,
)
from tests.conftest import link_button
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days


@pytest.fixture
def full_slot(kenko, town):
    menu = MenuFactory(department=kenko, waitlist_hold_minutes=30, max_per_resident_per_day=2)
    slot = SlotFactory(menu=menu, starts_at=in_days(5), capacity=1)
    holder = resident_in(town)
    reservation_book(slot=slot, resident=holder)
    slot.reservation_of_holder = Reservation.objects.get(slot=slot, resident=holder)
    return slot


def test_join_only_a_full_slot_once(full_slot, resident, kenko):
    # when
    entry = waitlist_join(slot=full_slot, resident=resident)
    # then
    assert entry.status == WaitlistStatus.WAITING
    assert AuditEntry.objects.filter(action="reservations.waitlist.joined", actor_resident=resident).exists()
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=full_slot, resident=resident)
    assert exc.value.code == "duplicate"
    roomy = SlotFactory(menu=full_slot.menu, capacity=3)
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=roomy, resident=resident)
    assert exc.value.code == "not_full"


def test_menu_without_waitlist_refuses(full_slot, resident):
    full_slot.menu.waitlist_enabled = False
    full_slot.menu.save(update_fields=["waitlist_enabled"])
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=full_slot, resident=resident)
    assert exc.value.code == "no_waitlist"


def test_cancellation_offers_the_place_to_the_first_in_line_and_holds_it(
    full_slot, resident, other_resident, town, django_capture_on_commit_callbacks
):
    # given: two waiting, in order
    first = waitlist_join(slot=full_slot, resident=resident)
    second = waitlist_join(slot=full_slot, resident=other_resident)
    # when: the holder cancels
    with django_capture_on_commit_callbacks(execute=True):
        reservation_cancel(reservation=full_slot.reservation_of_holder)
    # then: the first is offered the place, by LINE push with a button; the place stays taken
    first.refresh_from_db()
    second.refresh_from_db()
    full_slot.refresh_from_db()
    assert first.status == WaitlistStatus.OFFERED and second.status == WaitlistStatus.WAITING
    assert first.hold_until == first.offered_at + dt.timedelta(minutes=30)
    assert full_slot.reserved == 1
    push = SimulatedDelivery.objects.get(line_user_id=resident.line_user_id)
    assert "キャンセル待ちの枠に空きが出ました" in str(push.messages)
    assert link_button(push.messages[0]) == ("予約する", f"/liff/reservations/waitlist/{first.pk}/")
    # nobody else can book the held place
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=full_slot, resident=resident_in(town))
    assert exc.value.code == "full"
    # and the nightly recount keeps it
    assert slot_counters_reconcile() == []


def test_accepting_books_the_held_place(full_slot, resident, django_capture_on_commit_callbacks):
    entry = waitlist_join(slot=full_slot, resident=resident)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        reservation = waitlist_accept(entry=entry, resident=resident)
    # then
    entry.refresh_from_db()
    full_slot.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED and entry.reservation == reservation
    assert reservation.status == ReservationStatus.BOOKED and full_slot.reserved == 1
    assert "予約が確定しました" in str(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last().messages
    )


def test_only_the_entrys_resident_may_accept(full_slot, resident, other_resident):
    entry = waitlist_join(slot=full_slot, resident=resident)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    with pytest.raises(ReservationError) as exc:
        waitlist_accept(entry=entry, resident=other_resident)
    assert exc.value.code == "not_found"


def test_expired_hold_goes_to_the_next_exactly_once(full_slot, resident, other_resident):
    # given
    first = waitlist_join(slot=full_slot, resident=resident)
    second = waitlist_join(slot=full_slot, resident=other_resident)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    first.refresh_from_db()
    later = first.hold_until + dt.timedelta(seconds=1)
    # when: the beat runs twice after the hold ran out
    assert waitlist_expire_holds(now=later) == 1
    assert waitlist_expire_holds(now=later) == 0
    # then
    first.refresh_from_db()
    second.refresh_from_db()
    full_slot.refresh_from_db()
    assert first.status == WaitlistStatus.EXPIRED
    assert second.status == WaitlistStatus.OFFERED
    assert full_slot.reserved == 1
    with pytest.raises(ReservationError) as exc:
        waitlist_accept(entry=first, resident=resident, now=later)
    assert exc.value.code == "expired"
    assert AuditEntry.objects.filter(action="reservations.waitlist.expired").count() == 1


def test_last_expiry_frees_the_place(full_slot, resident):
    entry = waitlist_join(slot=full_slot, resident=resident)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    entry.refresh_from_db()
    waitlist_expire_holds(now=entry.hold_until)
    full_slot.refresh_from_db()
    assert full_slot.reserved == 0


def test_hold_not_yet_run_out_is_kept(full_slot, resident):
    entry = waitlist_join(slot=full_slot, resident=resident)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    assert waitlist_expire_holds(now=timezone.now()) == 0
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED


def test_declining_an_offer_passes_it_on(full_slot, resident, other_resident):
    first = waitlist_join(slot=full_slot, resident=resident)
    second = waitlist_join(slot=full_slot, resident=other_resident)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    waitlist_leave(entry=first, resident=resident)
    second.refresh_from_db()
    assert second.status == WaitlistStatus.OFFERED
    with pytest.raises(ReservationError):
        waitlist_leave(entry=first, resident=resident)


def test_change_away_frees_the_place_for_the_waitlist(full_slot, resident):
    entry = waitlist_join(slot=full_slot, resident=resident)
    other = SlotFactory(menu=full_slot.menu, starts_at=in_days(6), capacity=3)
    reservation_change(reservation=full_slot.reservation_of_holder, new_slot=other)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED


def test_automatic_booking(full_slot, resident, django_capture_on_commit_callbacks):
    full_slot.menu.waitlist_auto_book = True
    full_slot.menu.save(update_fields=["waitlist_auto_book"])
    entry = waitlist_join(slot=full_slot, resident=resident, answers={})
    # when
    with django_capture_on_commit_callbacks(execute=True):
        reservation_cancel(reservation=full_slot.reservation_of_holder)
    # then: booked and told
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED
    assert Reservation.objects.filter(slot=full_slot, resident=resident, status="booked").exists()
    assert "予約が確定しました" in str(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last().messages
    )
    assert waitlist_auto_book(entry_id=entry.pk) == "skipped"


def test_automatic_booking_refused_by_a_limit_passes_the_place_on(full_slot, resident, other_resident):
    # given: the first in line already holds the menu's one booking elsewhere
    menu = full_slot.menu
    menu.waitlist_auto_book = True
    menu.save(update_fields=["waitlist_auto_book"])
    first = waitlist_join(slot=full_slot, resident=resident)
    second = waitlist_join(slot=full_slot, resident=other_resident)
    reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(7)), resident=resident)
    # when (tasks run on commit, eagerly)
    reservation_cancel(reservation=full_slot.reservation_of_holder)
    waitlist_auto_book(entry_id=first.pk)
    # then
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == WaitlistStatus.EXPIRED
    assert second.status in (WaitlistStatus.OFFERED, WaitlistStatus.BOOKED)


def test_one_open_entry_constraint(full_slot, resident):
    waitlist_join(slot=full_slot, resident=resident)
    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.create(slot=full_slot, resident=resident)


def test_offer_needs_a_hold_constraint(full_slot, resident):
    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.create(slot=full_slot, resident=resident, status="offered")


def test_more_capacity_offers_the_new_places_in_order(
    full_slot, resident, other_resident, town, kenko_editor
):
    # given: three waiting for a full slot of one
    first = waitlist_join(slot=full_slot, resident=resident)
    second = waitlist_join(slot=full_slot, resident=other_resident)
    third = waitlist_join(slot=full_slot, resident=resident_in(town))
    # when: staff add two places
    full_slot.capacity = 3
    slot_save(slot=full_slot, actor=kenko_editor)
    # then: the first two are offered, the third still waits
    statuses = [WaitlistEntry.objects.get(pk=e.pk).status for e in (first, second, third)]
    assert statuses == [WaitlistStatus.OFFERED, WaitlistStatus.OFFERED, WaitlistStatus.WAITING]
    full_slot.refresh_from_db()
    assert full_slot.reserved == 3


def test_deleting_a_booking_offers_its_place(full_slot, resident, kenko_head):
    entry = waitlist_join(slot=full_slot, resident=resident)
    reservation_delete(reservation=full_slot.reservation_of_holder, actor=kenko_head)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
