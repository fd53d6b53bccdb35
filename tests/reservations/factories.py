"""Factories of the reservations app and its permission-matrix builders."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.utils import timezone

from municipalities.models import Department
from reservations.models import Menu, Reservation, Slot, WaitlistEntry
from reservations.services import reservation_book, waitlist_join
from tests.matrix import matrix_builder
from tests.municipalities.factories import resident_in

_n = itertools.count(1)


def in_days(days: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


class MenuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Menu

    department = None
    name = factory.Sequence(lambda n: f"健診メニュー{n}")
    description = "対象: 1歳6か月児"
    venues = "保健センター\n公民館"
    opens_days_before = 60
    closes_hours_before = 1
    cancel_deadline_hours = 24
    max_active_per_resident = 1
    max_per_resident_per_day = 1
    reminder_offsets = "1日前 18:00\n2時間前"


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    menu = factory.SubFactory(MenuFactory)
    venue = "保健センター"
    starts_at = factory.LazyFunction(lambda: in_days(3, 10) + dt.timedelta(minutes=next(_n)))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(minutes=30))
    capacity = 5


@matrix_builder(Menu)
def _menu(department: Department) -> Menu:
    return MenuFactory(department=department)


@matrix_builder(Slot)
def _slot(department: Department) -> Slot:
    return SlotFactory(menu=MenuFactory(department=department))


@matrix_builder(Reservation)
def _reservation(department: Department) -> Reservation:
    slot = SlotFactory(menu=MenuFactory(department=department))
    return reservation_book(slot=slot, resident=resident_in(department.municipality))


@matrix_builder(WaitlistEntry)
def _waitlist_entry(department: Department) -> WaitlistEntry:
    slot = SlotFactory(menu=MenuFactory(department=department), capacity=1)
    reservation_book(slot=slot, resident=resident_in(department.municipality))
    return waitlist_join(slot=slot, resident=resident_in(department.municipality))
