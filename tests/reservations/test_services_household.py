"""Booking for a household member, and the menu's eligibility rule re-checked in the service."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from municipalities.models import AuditEntry
from municipalities.services import household_member_remove, household_member_save
from reservations.eligibility import age_rule_text, candidates_for, rule_text
from reservations.models import Reservation, ReservationStatus
from reservations.services import ReservationError, reservation_book
from tests.reservations.factories import MenuFactory, SlotFactory, in_days


def born_months_before(day: dt.date, months: int) -> str:
    """A birth date that makes someone exactly ``months`` old on ``day`` (as 西暦 text)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return f"{y}/{m + 1}/{min(day.day, 28)}"


@pytest.fixture
def checkup(kenko):
    # 1歳6か月〜2歳未満
    return MenuFactory(
        department=kenko, name="乳幼児歯科健診", eligible_age_from_months=18, eligible_age_until_months=24
    )


def child(resident, day, months, name="山田 はると"):
    return household_member_save(
        resident=resident,
        name=name,
        kana="ヤマダハルト",
        birth_date=born_months_before(day, months),
        relationship="child",
    )


def test_rule_is_written_in_japanese(checkup, kenko, areas):
    assert age_rule_text(checkup) == "1歳6か月〜2歳未満"
    assert age_rule_text(MenuFactory(department=kenko, eligible_age_from_months=780)) == "65歳以上"
    menu = MenuFactory(department=kenko, eligible_age_from_months=780)
    menu.eligible_areas.set([areas["東区"]])
    assert rule_text(menu) == "対象: 65歳以上・東区"


def test_child_of_the_right_age_is_booked_as_a_member(checkup, resident):
    # given
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    member = child(resident, in_days(5).date(), 20)
    # when
    reservation = reservation_book(slot=slot, resident=resident, member=member)
    # then
    assert reservation.member == member and reservation.resident == resident
    assert reservation.display_name == "山田 はると"
    entry = AuditEntry.objects.get(action="reservations.reservation.booked", object_id=str(reservation.pk))
    assert entry.data["member"] == "山田 はると"


@pytest.mark.parametrize(("months", "why"), [(17, "達していません"), (24, "過ぎています")])
def test_child_outside_the_age_is_refused_with_the_reason(checkup, resident, months, why):
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    member = child(resident, in_days(5).date(), months)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident, member=member)
    assert exc.value.code == "eligibility" and why in exc.value.message
    slot.refresh_from_db()
    assert slot.reserved == 0


def test_age_rule_needs_a_registered_person(checkup, resident):
    slot = SlotFactory(menu=checkup)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident)
    assert exc.value.code == "eligibility" and "家族の登録" in exc.value.message


def test_area_rule(kenko, resident, areas):
    # given: a menu for one area; the resident lives elsewhere, then moves in
    area, other = list(areas.values())[:2]
    menu = MenuFactory(department=kenko)
    menu.eligible_areas.set([area])
    slot = SlotFactory(menu=menu)
    resident.area = other
    resident.save(update_fields=["area"])
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident)
    assert exc.value.code == "eligibility" and area.name in exc.value.message
    resident.area = area
    resident.save(update_fields=["area"])
    assert reservation_book(slot=slot, resident=resident).pk


def test_another_residents_member_or_a_removed_one_cannot_be_booked(checkup, resident, other_resident):
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    theirs = child(other_resident, in_days(5).date(), 20)
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident, member=theirs)
    assert exc.value.code == "member"
    mine = child(resident, in_days(5).date(), 20)
    household_member_remove(resident=resident, member=mine)
    with pytest.raises(ReservationError):
        reservation_book(slot=slot, resident=resident, member=mine)


def test_two_children_in_one_slot_and_limits_per_person(checkup, resident):
    # given: twins, one place each in the same slot (limits count per person)
    slot = SlotFactory(menu=checkup, starts_at=in_days(5), capacity=5)
    day = in_days(5).date()
    a, b = child(resident, day, 20, "山田 一"), child(resident, day, 20, "山田 二")
    # when
    reservation_book(slot=slot, resident=resident, member=a)
    reservation_book(slot=slot, resident=resident, member=b)
    # then: the same child twice is refused
    with pytest.raises(ReservationError) as exc:
        reservation_book(slot=slot, resident=resident, member=a)
    assert exc.value.code == "duplicate"
    assert Reservation.objects.filter(slot=slot, status=ReservationStatus.BOOKED).count() == 2


def test_one_active_booking_per_member_and_slot_constraint(checkup, resident):
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    member = child(resident, in_days(5).date(), 20)
    first = reservation_book(slot=slot, resident=resident, member=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(
            slot=slot,
            menu=checkup,
            slot_date=first.slot_date,
            resident=resident,
            member=member,
            code="ZZZZ-ZZZZ",
        )


def test_member_needs_a_resident_constraint(checkup, resident):
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    member = child(resident, in_days(5).date(), 20)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(
            slot=slot, menu=checkup, slot_date=timezone.localdate(), member=member, name="x", code="ZZZZ-ZZZY"
        )


def test_candidates_list_each_person_with_the_reason(checkup, resident):
    day = in_days(5).date()
    ok, young = child(resident, day, 19, "山田 一"), child(resident, day, 10, "山田 二")
    people = candidates_for(menu=checkup, on=day, resident=resident, members=[ok, young])
    assert [c.value for c in people] == ["self", str(ok.pk), str(young.pk)]
    assert people[0].problem and not people[1].problem and "達していません" in people[2].problem
    assert "当日 1歳7か月" in people[1].label
