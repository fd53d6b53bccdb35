import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from municipalities.line.client import retry_key_for
from municipalities.models import AuditEntry, SimulatedDelivery
from reservations.models import Reservation, ReservationStatus, Slot
from reservations.rules import CODE_ALPHABET
from reservations.services import (
    ReservationError,
    reservation_book,
    reservation_cancel,
    reservation_change,
    reservation_mark_attendance,
    slot_counters_reconcile,
)
from tests.conftest import link_button
from tests.municipalities.factories import resident_in
from tests.reservations.factories import SlotFactory, in_days


def test_resident_books_a_place_and_gets_a_confirmation_on_commit(
    slot, resident, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reservation = reservation_book(slot=slot, resident=resident)
    # then
    slot.refresh_from_db()
    assert slot.reserved == 1
    assert reservation.status == ReservationStatus.BOOKED
    assert len(reservation.code) == 9 and all(c in CODE_ALPHABET for c in reservation.code.replace("-", ""))
    assert len(callbacks) >= 1
    push = SimulatedDelivery.objects.get(line_user_id=resident.line_user_id)
    assert "予約が確定しました" in str(push.messages)
    assert reservation.code in str(push.messages)
    assert link_button(push.messages[0]) == (
        "予約を見る",
        f"/liff/reservations/my/{reservation.pk}/",
    )
    assert push.messages[0]["altText"].startswith("予約が確定しました。" + slot.menu.name)
    assert str(push.retry_key) == str(
        retry_key_for("reservations", "notice", reservation.pk, "booked", slot.pk)
    )
    assert AuditEntry.objects.filter(
        action="reservations.reservation.booked", object_id=str(reservation.pk)
    ).exists()


def test_full_slot_is_refused_with_code_full(menu, town):
    slot = SlotFactory(menu=menu, capacity=1)
    reservation_book(slot=slot, resident=resident_in(town))
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident_in(town))
    assert exc.value.code == "full"
    slot.refresh_from_db()
    assert slot.reserved == 1


def test_a_slot_full_as_read_is_refused_before_any_lock_or_write(menu, town):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    slot = SlotFactory(menu=menu, capacity=1)
    reservation_book(slot=slot, resident=resident_in(town))
    late = resident_in(town)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=late)
    assert exc.value.code == "full"
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if "FOR UPDATE" in sql or sql.startswith(("UPDATE", "INSERT"))]


def test_same_resident_cannot_book_same_slot_twice(menu, resident):
    menu.max_active_per_resident = 5
    menu.max_per_resident_per_day = 5
    menu.save()
    slot = SlotFactory(menu=menu)
    reservation_book(slot=slot, resident=resident)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident)
    assert exc.value.code == "duplicate"


def test_per_menu_limit(menu, resident):
    reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(3)), resident=resident)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(4)), resident=resident)
    assert exc.value.code == "limit_menu"


def test_per_day_limit(menu, resident):
    menu.max_active_per_resident = 3
    menu.save()
    reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(3, 9)), resident=resident)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(3, 14)), resident=resident)
    assert exc.value.code == "limit_day"


def test_window_not_yet_open_and_closed(menu, resident):
    menu.opens_days_before = 7
    menu.closes_hours_before = 24
    menu.save()
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(20)), resident=resident)
    assert exc.value.code == "not_yet"
    soon = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=5))
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=soon, resident=resident)
    assert exc.value.code == "window_closed"


def test_window_counted_in_business_days_skips_holidays(menu):
    from reservations.rules import opens_at

    menu.opens_days_before = 2
    menu.window_in_business_days = True
    # 2026-11-24 (Tue): two business days before skips 11/23 (勤労感謝の日, Mon) and the weekend
    starts = timezone.make_aware(dt.datetime(2026, 11, 24, 10, 0))
    assert timezone.localtime(opens_at(menu, starts)).date() == dt.date(2026, 11, 19)


def test_suspended_menu_refuses(menu, slot, resident):
    menu.is_suspended = True
    menu.save()
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident)
    assert exc.value.code == "suspended"


def test_required_question_must_be_answered(menu, slot, resident):
    menu.questions = "*お子さんの月齢: 1歳6か月/3歳\nアレルギー"
    menu.save()
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident, answers={})
    assert exc.value.code == "answers"
    r = reservation_book(slot=slot, resident=resident, answers={"q0": "3歳", "q1": "なし"})
    assert r.answers == {"お子さんの月齢": "3歳", "アレルギー": "なし"}


def test_phone_booking_by_staff_normalises_kana_and_phone(slot, kenko_editor):
    r = reservation_book(
        slot=slot,
        actor=kenko_editor,
        name="田中　トメ",
        kana="たなか とめ",
        phone="０９０－１２３４－５６７８",
    )
    assert (r.name, r.kana, r.phone, r.resident) == ("田中 トメ", "タナカ トメ", "09012345678", None)
    assert r.booked_by == kenko_editor
    # same caller again: the per-menu limit applies to the phone number too
    with pytest.raises(ReservationError) as exc:
        reservation_book(
            slot=SlotFactory(menu=slot.menu, starts_at=in_days(5)),
            actor=kenko_editor,
            name="田中トメ",
            phone="09012345678",
        )
    assert exc.value.code == "limit_menu"


def test_phone_booking_needs_name_and_phone(slot, kenko_editor):
    with pytest.raises(ReservationError):
        reservation_book(slot=slot, actor=kenko_editor, name="", phone="0901234567")
    with pytest.raises(ReservationError):
        reservation_book(slot=slot, actor=kenko_editor, name="田中", phone="12")


def test_staff_of_other_department_may_not_book_on_behalf(slot, somu_editor, kenko_viewer):
    for user in (somu_editor, kenko_viewer):
        with pytest.raises(ReservationError, match="権限がありません"):
            reservation_book(slot=slot, actor=user, name="田中", phone="0312345678")


def test_staff_may_book_after_the_residents_window_closed(menu, kenko_editor, resident):
    menu.closes_hours_before = 48
    menu.save()
    slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=10))
    with pytest.raises(ReservationError):
        reservation_book(slot=slot, resident=resident)
    r = reservation_book(slot=slot, resident=resident, actor=kenko_editor)
    assert r.booked_by == kenko_editor


def test_resident_of_another_town_cannot_book(slot, other_town):
    with pytest.raises(ReservationError):
        reservation_book(slot=slot, resident=resident_in(other_town))


def test_cancel_frees_the_place_and_is_audited(slot, resident, django_capture_on_commit_callbacks):
    r = reservation_book(slot=slot, resident=resident)
    with django_capture_on_commit_callbacks(execute=True):
        reservation_cancel(reservation=r)
    slot.refresh_from_db()
    r.refresh_from_db()
    assert slot.reserved == 0 and r.status == ReservationStatus.CANCELLED
    assert AuditEntry.objects.filter(action="reservations.reservation.cancelled").exists()
    with pytest.raises(ReservationError):
        reservation_cancel(reservation=r)
    # cancelled bookings do not block booking the same slot again
    again = reservation_book(slot=slot, resident=resident)
    assert again.pk != r.pk


def test_resident_cannot_cancel_after_deadline_but_staff_can(menu, resident, kenko_editor):
    menu.closes_hours_before = 1
    menu.cancel_deadline_hours = 24
    menu.save()
    slot = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=10))
    r = reservation_book(slot=slot, resident=resident)
    with pytest.raises(ReservationError) as exc:
        reservation_cancel(reservation=r)
    assert exc.value.code == "deadline"
    reservation_cancel(reservation=r, actor=kenko_editor)
    r.refresh_from_db()
    assert r.status == ReservationStatus.CANCELLED and r.cancelled_by == kenko_editor


def test_change_moves_the_place(menu, resident):
    a = SlotFactory(menu=menu, starts_at=in_days(3))
    b = SlotFactory(menu=menu, starts_at=in_days(4))
    r = reservation_book(slot=a, resident=resident)
    reservation_change(reservation=r, new_slot=b)
    a.refresh_from_db()
    b.refresh_from_db()
    r.refresh_from_db()
    assert (a.reserved, b.reserved, r.slot_id) == (0, 1, b.pk)


def test_change_to_full_slot_keeps_the_old_booking(menu, resident, town):
    a = SlotFactory(menu=menu, starts_at=in_days(3))
    b = SlotFactory(menu=menu, starts_at=in_days(4), capacity=1)
    reservation_book(slot=b, resident=resident_in(town))
    r = reservation_book(slot=a, resident=resident)
    with pytest.raises(ReservationError) as exc:
        reservation_change(reservation=r, new_slot=b)
    assert exc.value.code == "full"
    a.refresh_from_db()
    assert a.reserved == 1


def test_attendance_marks_and_keeps_the_place(slot, resident, kenko_editor, kenko_viewer):
    r = reservation_book(slot=slot, resident=resident)
    reservation_mark_attendance(reservation=r, status=ReservationStatus.ATTENDED, actor=kenko_editor)
    r.refresh_from_db()
    slot.refresh_from_db()
    assert r.status == ReservationStatus.ATTENDED and slot.reserved == 1
    with pytest.raises(ReservationError, match="権限がありません"):
        reservation_mark_attendance(reservation=r, status=ReservationStatus.NO_SHOW, actor=kenko_viewer)


def test_capacity_check_constraint_is_enforced_by_the_database(slot):
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(reserved=slot.capacity + 1)


def test_partial_unique_is_enforced_by_the_database(slot, resident):
    r = reservation_book(slot=slot, resident=resident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(
            slot=slot, menu=slot.menu, slot_date=r.slot_date, resident=resident, code="XXXX-XXXX"
        )


def test_a_code_already_taken_is_drawn_again_on_insert(slot, town, monkeypatch):
    # given: a booking, and a new row that drew the same code
    from reservations.services import places

    first = reservation_book(slot=slot, resident=resident_in(town))
    row = places.reservation_row(slot=slot, resident=resident_in(town))
    row.code = first.code
    monkeypatch.setattr(places, "reservation_code_new", lambda: "ZZZZ-ZZZZ")
    # when
    with transaction.atomic():
        inserted = places.reservation_insert(row)
    # then: stored with the code drawn again
    assert inserted.pk and Reservation.objects.get(pk=inserted.pk).code == "ZZZZ-ZZZZ"


def test_reconcile_recounts_reserved(slot, resident):
    reservation_book(slot=slot, resident=resident)
    Slot.objects.filter(pk=slot.pk).update(reserved=3)
    fixed = slot_counters_reconcile()
    slot.refresh_from_db()
    assert slot.reserved == 1
    assert fixed == [{"slot": slot.pk, "was": 3, "now": 1, "actual": 1}]


def test_slot_capacity_cannot_drop_below_bookings_and_booked_slots_are_not_deleted(
    slot, resident, kenko_editor
):
    from reservations.services import slot_delete, slot_save

    reservation_book(slot=slot, resident=resident)
    slot.capacity = 0
    with pytest.raises(ReservationError):
        slot_save(slot=slot, actor=kenko_editor)
    slot.refresh_from_db()
    slot.capacity = 8
    slot_save(slot=slot, actor=kenko_editor)
    assert Slot.objects.get(pk=slot.pk).capacity == 8
    assert AuditEntry.objects.filter(action="reservations.slot.changed").exists()
    with pytest.raises(ReservationError):
        slot_delete(slot=slot, actor=kenko_editor)


def test_closed_slot_takes_no_booking(slot, resident):
    Slot.objects.filter(pk=slot.pk).update(is_open=False)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident)
    assert exc.value.code == "closed"


def test_staff_deletes_a_mistaken_booking_and_frees_the_place(slot, kenko_editor):
    from reservations.services import reservation_delete

    r = reservation_book(slot=slot, actor=kenko_editor, name="誤入力", phone="0312345678")
    reservation_delete(reservation=r, actor=kenko_editor)
    slot.refresh_from_db()
    assert slot.reserved == 0 and not Reservation.objects.exists()
    assert AuditEntry.objects.filter(action="reservations.reservation.deleted").exists()
