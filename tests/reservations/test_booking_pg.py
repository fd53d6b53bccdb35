"""The resident's booking in one PostgreSQL statement (``reservations.services.booking_pg``) and
the ORM way beside it leave the same rows, or refuse with the same words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from municipalities.models import Area, AuditEntry, Resident
from municipalities.services import household_member_save
from reservations.models import Reservation, Slot
from reservations.services import ReservationError, booking_pg, places, reservation_book
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days

pytestmark = pytest.mark.postgres


def _born_months_before(day: dt.date, months: int) -> str:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return f"{y}/{m + 1}/{min(day.day, 28)}"


def _child(resident: Resident, months: int) -> Any:
    return household_member_save(
        resident=resident,
        name="山田 はると",
        kana="ヤマダハルト",
        birth_date=_born_months_before(in_days(3).date(), months),
        relationship="child",
    )


# Each scenario sets up its own menu, slots and resident and returns (slot, resident, member).
def _self(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko)
    return SlotFactory(menu=menu), resident_in(kenko.municipality), None


def _member_of_age(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko, eligible_age_from_months=18, eligible_age_until_months=24)
    resident = resident_in(kenko.municipality)
    return SlotFactory(menu=menu), resident, _child(resident, 20)


def _member_too_young(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko, eligible_age_from_months=18, eligible_age_until_months=24)
    resident = resident_in(kenko.municipality)
    return SlotFactory(menu=menu), resident, _child(resident, 10)


def _self_when_the_menu_has_an_age_rule(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko, eligible_age_from_months=780)
    return SlotFactory(menu=menu), resident_in(kenko.municipality), None


def _area(inside: bool) -> Callable[[Any], tuple]:
    def scenario(kenko: Any) -> tuple:
        town = kenko.municipality
        east, west = (Area.objects.get_or_create(municipality=town, name=n)[0] for n in ("東区", "西区"))
        menu = MenuFactory(department=kenko)
        menu.eligible_areas.set([east])
        resident = resident_in(town)
        resident.area = east if inside else west
        resident.save(update_fields=["area"])
        return SlotFactory(menu=menu), resident, None

    return scenario


def _menu_limit(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko, max_active_per_resident=1, max_per_resident_per_day=0)
    resident = resident_in(kenko.municipality)
    reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(4)), resident=resident)
    return SlotFactory(menu=menu), resident, None


def _day_limit(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko, max_active_per_resident=5, max_per_resident_per_day=1)
    resident = resident_in(kenko.municipality)
    reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(3, 9)), resident=resident)
    return SlotFactory(menu=menu, starts_at=in_days(3, 14)), resident, None


def _same_slot_again(kenko: Any) -> tuple:
    menu = MenuFactory(department=kenko, max_active_per_resident=5, max_per_resident_per_day=5)
    resident = resident_in(kenko.municipality)
    slot = SlotFactory(menu=menu)
    reservation_book(slot=slot, resident=resident)
    return slot, resident, None


def _member_after_self(kenko: Any) -> tuple:
    # the limits are per person: the resident's own booking leaves their child's place open
    menu = MenuFactory(department=kenko, max_active_per_resident=1, max_per_resident_per_day=1)
    resident = resident_in(kenko.municipality)
    slot = SlotFactory(menu=menu)
    reservation_book(slot=slot, resident=resident)
    return slot, resident, _child(resident, 20)


def _closed_after_read(kenko: Any) -> tuple:
    # closed by staff after the page was read: the place is not taken
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu)
    Slot.objects.filter(pk=slot.pk).update(is_open=False)
    return slot, resident_in(kenko.municipality), None


SCENARIOS = {
    "self": _self,
    "member of age": _member_of_age,
    "member too young": _member_too_young,
    "self, age rule": _self_when_the_menu_has_an_age_rule,
    "inside the area": _area(inside=True),
    "outside the area": _area(inside=False),
    "menu limit": _menu_limit,
    "day limit": _day_limit,
    "same slot again": _same_slot_again,
    "member after self": _member_after_self,
    "closed after read": _closed_after_read,
}


def _outcome(kenko: Any, scenario: Callable[[Any], tuple]) -> tuple[Any, ...]:
    """What booking leaves: the refusal, or the rows written, with this run's ids and names
    replaced by what they stand for."""
    slot, resident, member = scenario(kenko)
    menu = slot.menu
    names = {resident.display_name: "<resident>", menu.name: "<menu>", str(slot): "<slot>"}

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, str):
            for name, stands_for in names.items():
                value = value.replace(name, stands_for)
        return value

    try:
        reservation = reservation_book(slot=slot, resident=resident, member=member)
    except ReservationError as exc:
        return ("refused", exc.code, plain(str(exc.message)), _places(menu))
    names[reservation.code] = "<code>"
    refs = {
        "slot_id": slot.pk,
        "menu_id": menu.pk,
        "resident_id": resident.pk,
        "actor_resident_id": resident.pk,
        "member_id": member.pk if member is not None else None,
        "object_id": str(reservation.pk),
    }

    def plain_row(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: f"<{k}>" if v is not None and refs.get(k) == v else plain(v)
            for k, v in row.items()
            if k not in {"id", "created_at", "updated_at", "code"}
        }

    return (
        "booked",
        plain_row(Reservation.objects.filter(pk=reservation.pk).values().get()),
        plain_row(
            AuditEntry.objects.filter(action="reservations.reservation.booked", object_id=str(reservation.pk))
            .values()
            .get()
        ),
        _places(menu),
        Reservation.objects.filter(menu=menu).count(),
    )


def _places(menu: Any) -> list[tuple[int, int]]:
    return list(Slot.objects.filter(menu=menu).order_by("starts_at").values_list("capacity", "reserved"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_one_statement_and_the_orm_leave_the_same_rows(name, kenko, monkeypatch):
    written = []
    original = booking_pg.resident_book
    monkeypatch.setattr(
        booking_pg, "resident_book", lambda **kwargs: written.append(original(**kwargs)) or written[-1]
    )
    # when: the statement's way, then the ORM's way on a like setup
    by_statement = _outcome(kenko, SCENARIOS[name])
    took_statement = list(written)
    monkeypatch.setattr(booking_pg, "is_available", lambda: False)
    written.clear()
    by_orm = _outcome(kenko, SCENARIOS[name])
    # then
    assert by_statement == by_orm
    assert not written  # the second run went the ORM way only
    if by_statement[0] == "booked":
        assert took_statement[-1] is True  # written by the statement, not by the ORM way after it


def test_a_code_already_taken_gives_the_place_back_and_the_orm_draws_another(kenko, monkeypatch):
    # given: the first code drawn is one a booking already has
    menu = MenuFactory(department=kenko, max_active_per_resident=5, max_per_resident_per_day=5)
    first = reservation_book(slot=SlotFactory(menu=menu), resident=resident_in(kenko.municipality))
    drawn = iter([first.code, "ZZZZ-ZZZZ"])
    monkeypatch.setattr(places, "reservation_code_new", lambda: next(drawn))
    written = []
    original = booking_pg.resident_book
    monkeypatch.setattr(
        booking_pg, "resident_book", lambda **kwargs: written.append(original(**kwargs)) or written[-1]
    )
    slot = SlotFactory(menu=menu)
    # when
    second = reservation_book(slot=slot, resident=resident_in(kenko.municipality))
    # then: the statement wrote nothing; one booking with the next code, one place, one audit entry
    slot.refresh_from_db()
    assert written == [False]
    assert second.code == "ZZZZ-ZZZZ" and slot.reserved == 1
    assert Reservation.objects.filter(slot=slot).count() == 1
    assert AuditEntry.objects.filter(object_id=str(second.pk)).count() == 1
