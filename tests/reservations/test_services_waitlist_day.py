"""キャンセル待ち for a whole day, for callers on the phone, the expiry message, and reopened slots."""

import datetime as dt

import pytest
from django.utils import timezone

from municipalities.models import AuditEntry, SimulatedDelivery
from reservations.models import ReservationStatus, WaitlistEntry, WaitlistStatus
from reservations.selectors import waitlist_for_resident, waitlist_for_slot, waitlist_position
from reservations.services import (
    ReservationError,
    reservation_book,
    reservation_cancel,
    slot_counters_reconcile,
    slot_set_open,
    waitlist_accept,
    waitlist_expire_holds,
    waitlist_expired_notify,
    waitlist_join,
    waitlist_leave,
)
from tests.conftest import link_button
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days


@pytest.fixture
def full_day(kenko, town):
    """A menu with two slots on one day, each of one place, both booked."""
    menu = MenuFactory(department=kenko, waitlist_hold_minutes=30, max_per_resident_per_day=2)
    morning = SlotFactory(menu=menu, starts_at=in_days(5, 9), capacity=1)
    afternoon = SlotFactory(menu=menu, starts_at=in_days(5, 14), capacity=1)
    holders = {}
    for slot in (morning, afternoon):
        holders[slot.pk] = reservation_book(slot=slot, resident=resident_in(town))
    return {
        "menu": menu,
        "day": in_days(5).date(),
        "morning": morning,
        "afternoon": afternoon,
        "holders": holders,
    }


def _join_day(full_day, resident, **kwargs) -> WaitlistEntry:
    return waitlist_join(menu=full_day["menu"], day=full_day["day"], resident=resident, **kwargs)


def test_whole_day_entry_is_offered_a_place_freed_in_any_slot_of_the_day(full_day, resident):
    # given
    entry = _join_day(full_day, resident)
    assert entry.whole_day and entry.slot is None and entry.status == WaitlistStatus.WAITING
    # when: the afternoon's holder cancels
    reservation_cancel(reservation=full_day["holders"][full_day["afternoon"].pk])
    # then: the place is held for the day's entry, which now names the slot
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED and entry.slot == full_day["afternoon"]
    full_day["afternoon"].refresh_from_db()
    assert full_day["afternoon"].reserved == 1
    assert slot_counters_reconcile() == []
    # and accepting books that slot
    reservation = waitlist_accept(entry=entry, resident=resident)
    assert reservation.slot == full_day["afternoon"] and reservation.status == ReservationStatus.BOOKED


def test_places_go_first_to_whoever_joined_first_slot_or_day(full_day, resident, other_resident, town):
    # given: one waits for the morning only, then one for the whole day, then one more for the morning
    morning_first = waitlist_join(slot=full_day["morning"], resident=resident)
    day_second = _join_day(full_day, other_resident)
    morning_third = waitlist_join(slot=full_day["morning"], resident=resident_in(town))
    assert waitlist_position(entry=morning_third) == 3 and waitlist_position(entry=day_second) == 1
    # when: the afternoon frees (only the day entry wants it), then the morning twice over
    reservation_cancel(reservation=full_day["holders"][full_day["afternoon"].pk])
    reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    # then
    states = [WaitlistEntry.objects.get(pk=e.pk) for e in (morning_first, day_second, morning_third)]
    assert [e.status for e in states] == [
        WaitlistStatus.OFFERED,
        WaitlistStatus.OFFERED,
        WaitlistStatus.WAITING,
    ]
    assert states[1].slot == full_day["afternoon"] and states[0].slot == full_day["morning"]


def test_an_earlier_whole_day_entry_beats_a_later_slot_entry(full_day, resident, other_resident):
    day_first = _join_day(full_day, resident)
    morning_later = waitlist_join(slot=full_day["morning"], resident=other_resident)
    assert waitlist_position(entry=morning_later) == 2
    reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    assert WaitlistEntry.objects.get(pk=day_first.pk).status == WaitlistStatus.OFFERED
    assert WaitlistEntry.objects.get(pk=morning_later.pk).status == WaitlistStatus.WAITING


def test_whole_day_refused_while_a_slot_of_the_day_has_room(full_day, resident):
    reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    with pytest.raises(ReservationError) as exc:
        _join_day(full_day, resident)
    assert exc.value.code == "not_full" and "空いている枠" in exc.value.message


def test_whole_day_refused_for_a_day_without_slots_or_twice(full_day, resident):
    with pytest.raises(ReservationError) as exc:
        waitlist_join(menu=full_day["menu"], day=full_day["day"] + dt.timedelta(days=1), resident=resident)
    assert exc.value.code == "closed"
    _join_day(full_day, resident)
    with pytest.raises(ReservationError) as exc:
        _join_day(full_day, resident)
    assert exc.value.code == "duplicate"
    # and a single slot of that day is refused while the whole day is waited for
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=full_day["morning"], resident=resident)
    assert exc.value.code == "duplicate" and "どの枠でも" in exc.value.message


def test_widening_to_the_whole_day_keeps_the_place_in_line(full_day, resident, other_resident):
    # given: the resident waits for the morning first, another resident then for the day
    single = waitlist_join(slot=full_day["morning"], resident=resident)
    other_day = _join_day(full_day, other_resident)
    # when: the resident widens to the whole day
    widened = _join_day(full_day, resident)
    # then: the single entry is withdrawn and the day entry is still ahead of the other
    single.refresh_from_db()
    assert single.status == WaitlistStatus.LEFT
    assert widened.created_at == single.created_at
    assert waitlist_position(entry=widened) == 1 and waitlist_position(entry=other_day) == 2
    reservation_cancel(reservation=full_day["holders"][full_day["afternoon"].pk])
    assert WaitlistEntry.objects.get(pk=widened.pk).status == WaitlistStatus.OFFERED


def test_resident_and_staff_see_the_whole_day_entry(full_day, resident):
    entry = _join_day(full_day, resident)
    assert [(e.pk, pos) for e, pos in waitlist_for_resident(resident=resident)] == [(entry.pk, 1)]
    assert entry in waitlist_for_slot(slot=full_day["morning"])
    assert entry in waitlist_for_slot(slot=full_day["afternoon"])


def test_expired_offer_tells_the_resident_once(full_day, resident, django_capture_on_commit_callbacks):
    # given: an offer held for the resident
    entry = waitlist_join(slot=full_day["morning"], resident=resident)
    reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    entry.refresh_from_db()
    later = entry.hold_until + dt.timedelta(seconds=1)
    # when: the beat ends it (twice), and the message task runs again
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert waitlist_expire_holds(now=later) == 1
        assert waitlist_expire_holds(now=later) == 0
    assert callbacks
    waitlist_expired_notify(entry_id=entry.pk)
    # then: one LINE message that says the hold ran out and the entry has ended, with a button
    pushes = [
        d
        for d in SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
        if "確保期限が過ぎました" in str(d.messages)
    ]
    assert len(pushes) == 1
    assert "次の方にご案内しました" in str(pushes[0].messages)
    assert link_button(pushes[0].messages[0]) == (
        "予約ページを開く",
        f"/liff/reservations/menu/{full_day['menu'].pk}/",
    )


def test_no_expiry_message_when_the_resident_accepted_or_declined(
    full_day, resident, django_capture_on_commit_callbacks
):
    entry = waitlist_join(slot=full_day["morning"], resident=resident)
    reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    with django_capture_on_commit_callbacks(execute=True):
        waitlist_leave(entry=entry, resident=resident)
    assert waitlist_expired_notify(entry_id=entry.pk) is False
    assert not any(
        "確保期限が過ぎました" in str(d.messages)
        for d in SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    )


def test_reopening_a_slot_offers_its_free_places_to_the_waitlist(full_day, resident, kenko_editor):
    # given: the morning is closed by staff, and its holder then cancels (the place stays free)
    morning = full_day["morning"]
    entry = waitlist_join(slot=morning, resident=resident)
    slot_set_open(slot=morning, is_open=False, actor=kenko_editor)
    reservation_cancel(reservation=full_day["holders"][morning.pk])
    entry.refresh_from_db()
    morning.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING and morning.reserved == 0
    # when: staff reopen it
    slot_set_open(slot=morning, is_open=True, actor=kenko_editor)
    # then: the free place is offered to the first in line before anyone can book it
    entry.refresh_from_db()
    morning.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED and morning.reserved == 1
    assert AuditEntry.objects.filter(action="reservations.waitlist.offered").count() == 1


def test_staff_put_a_caller_on_the_waitlist_and_book_the_offer_on_the_phone(
    full_day, kenko_editor, django_capture_on_commit_callbacks
):
    # given: a caller without LINE waits for the morning
    entry = waitlist_join(
        slot=full_day["morning"],
        actor=kenko_editor,
        name="田中 トメ",
        kana="たなか とめ",
        phone="0265-12-3456",
    )
    assert (entry.name, entry.kana, entry.phone, entry.added_by) == (
        "田中 トメ",
        "タナカ トメ",
        "0265123456",
        kenko_editor,
    )
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=full_day["morning"], actor=kenko_editor, name="田中 トメ", phone="0265123456")
    assert exc.value.code == "duplicate"
    # when: a place frees; nobody can be pushed, staff phone and book it
    with django_capture_on_commit_callbacks(execute=True):
        reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    assert not SimulatedDelivery.objects.filter(messages__icontains="キャンセル待ち").exists()
    reservation = waitlist_accept(entry=entry, actor=kenko_editor)
    # then
    assert (reservation.name, reservation.phone, reservation.booked_by) == (
        "田中 トメ",
        "0265123456",
        kenko_editor,
    )
    assert reservation.resident is None and reservation.slot == full_day["morning"]


def test_a_caller_needs_staff_and_staff_of_the_department(full_day, somu_editor, resident):
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=full_day["morning"], name="田中", phone="0265123456")
    assert exc.value.code == "person"
    with pytest.raises(ReservationError):
        waitlist_join(slot=full_day["morning"], actor=somu_editor, name="田中", phone="0265123456")
    entry = waitlist_join(slot=full_day["morning"], resident=resident)
    with pytest.raises(ReservationError):
        waitlist_leave(entry=entry, actor=somu_editor)
    assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.WAITING


def test_phone_waitlist_checks_the_age_rule_with_the_callers_birth_date(kenko, town, kenko_editor):
    # given: a full slot of a menu for 65歳以上
    menu = MenuFactory(department=kenko, eligible_age_from_months=780)
    slot = SlotFactory(menu=menu, starts_at=in_days(5, 9), capacity=1)
    reservation_book(
        slot=slot, actor=kenko_editor, name="先客", phone="0265000000", birth_date=dt.date(1950, 1, 1)
    )
    # when / then
    with pytest.raises(ReservationError) as exc:
        waitlist_join(slot=slot, actor=kenko_editor, name="若い人", phone="0265111111")
    assert exc.value.code == "eligibility" and "生年月日を入力してください" in exc.value.message
    with pytest.raises(ReservationError) as exc:
        waitlist_join(
            slot=slot, actor=kenko_editor, name="若い人", phone="0265111111", birth_date=dt.date(1990, 1, 1)
        )
    assert "達していません" in exc.value.message
    entry = waitlist_join(
        slot=slot, actor=kenko_editor, name="高齢 さん", phone="0265111111", birth_date=dt.date(1950, 6, 1)
    )
    assert entry.birth_date == dt.date(1950, 6, 1)


def test_whole_day_entries_of_other_days_are_not_offered(full_day, resident, town):
    other_day = SlotFactory(menu=full_day["menu"], starts_at=in_days(6, 9), capacity=1)
    reservation_book(slot=other_day, resident=resident_in(town))
    entry = waitlist_join(
        menu=full_day["menu"], day=timezone.localtime(other_day.starts_at).date(), resident=resident
    )
    reservation_cancel(reservation=full_day["holders"][full_day["morning"].pk])
    assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.WAITING
