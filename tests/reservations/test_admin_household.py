"""Staff see who comes (the household member) and the waitlist on the roster and in the export."""

import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from municipalities.services import household_member_save
from reservations.services import reservation_book, reservation_cancel, waitlist_join
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.reservations.test_admin import BACKEND, staff_client  # noqa: F401 - fixture
from tests.reservations.test_services_household import born_months_before


@pytest.fixture
def child_booking(kenko, resident):
    menu = MenuFactory(
        department=kenko, name="乳幼児歯科健診", eligible_age_from_months=18, eligible_age_until_months=24
    )
    slot = SlotFactory(menu=menu, starts_at=in_days(5), capacity=1)
    member = household_member_save(
        resident=resident,
        name="山田 はると",
        kana="ヤマダ ハルト",
        birth_date=born_months_before(in_days(5).date(), 19),
        relationship="child",
    )
    return reservation_book(slot=slot, resident=resident, member=member)


def test_roster_shows_the_member_and_the_waitlist(staff_client, child_booking, town):  # noqa: F811
    # given: two residents waiting; the first is offered a place after a cancellation elsewhere
    slot = child_booking.slot
    slot.menu.eligible_age_from_months = None
    slot.menu.eligible_age_until_months = None
    slot.menu.save(update_fields=["eligible_age_from_months", "eligible_age_until_months"])
    waitlist_join(slot=slot, resident=resident_in(town, display_name="待ち 一"))
    waitlist_join(slot=slot, resident=resident_in(town, display_name="待ち 二"))
    # when
    html = staff_client.get(reverse("admin:reservations_slot_roster", args=[slot.pk])).content.decode()
    # then
    assert "山田 はると" in html and "ヤマダ ハルト" in html and "1歳7か月" in html
    assert "キャンセル待ち（2 人待ち）" in html and "待ち 一" in html and "待ち 二" in html
    reservation_cancel(reservation=child_booking)
    html = staff_client.get(reverse("admin:reservations_slot_roster", args=[slot.pk])).content.decode()
    assert "キャンセル待ち（1 人待ち）" in html and "案内中（席を確保）" in html


def test_roster_export_has_the_member_columns(staff_client, child_booking):  # noqa: F811
    xlsx = staff_client.get(
        reverse("admin:reservations_slot_roster_export", args=[child_booking.slot_id, "xlsx"])
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert row["氏名"] == "山田 はると" and row["フリガナ"] == "ヤマダ ハルト"
    assert row["予約した住民との続柄"] == "子" and row["当日の年齢"] == "1歳7か月"
    assert row["生年月日"].startswith("令和")


def _waiting_child(kenko, town) -> None:
    slot = SlotFactory(menu=MenuFactory(department=kenko), capacity=1)
    reservation_book(slot=slot, resident=resident_in(town))
    parent = resident_in(town)
    child = household_member_save(
        resident=parent,
        name="山田 はると",
        kana="ヤマダハルト",
        birth_date="令和6年1月1日",
        relationship="child",
    )
    waitlist_join(slot=slot, resident=parent, member=child)


@pytest.mark.parametrize(
    "url", ["admin:reservations_waitlistentry_changelist", "admin:municipalities_householdmember_changelist"]
)
def test_waitlist_and_household_changelists_use_a_fixed_number_of_queries(kenko_head, kenko, town, url):
    # given
    client = Client()
    client.force_login(kenko_head, backend=BACKEND)
    _waiting_child(kenko, town)
    client.get(reverse(url))  # warm caches (the header badge is computed once, then cached)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(url)).status_code == 200
    # when: five more rows
    for _ in range(5):
        _waiting_child(kenko, town)
    with CaptureQueriesContext(connection) as six:
        assert client.get(reverse(url)).status_code == 200
    # then
    assert len(six) == len(one)
