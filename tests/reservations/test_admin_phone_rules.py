"""代理予約 under the resident flow's rules: eligibility by the caller's birth date and 地区, a
household member of a LINE user, and キャンセル待ち when the slot is full, each with a Japanese
error or message for the clerk."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from municipalities.models import Area
from reservations.models import Reservation, WaitlistEntry, WaitlistStatus
from reservations.services import reservation_book, reservation_cancel, waitlist_join
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.reservations.test_admin import BACKEND, staff_client  # noqa: F401 - fixture
from tests.reservations.test_services_household import born_months_before, checkup, child  # noqa: F401

URL = "admin:reservations_slot_phone_booking"


def _post(client, menu, slot, **data):
    return client.post(
        reverse(URL), {"menu": menu.pk, "slot": slot.pk, "name": "", "kana": "", "phone": "", **data}
    )


def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_caller_is_checked_against_the_age_rule_with_the_birth_date(staff_client, checkup):  # noqa: F811
    # given: 乳幼児歯科健診 (1歳6か月〜2歳未満) and a free slot
    slot = SlotFactory(menu=checkup, starts_at=in_days(5, 10))
    day = in_days(5).date()
    caller = {"name": "佐藤 ゆい", "kana": "さとう ゆい", "phone": "0265-22-3333"}
    # the page asks for the birth date because the menu has an age rule
    assert 'name="birth_date"' in staff_client.get(reverse(URL), {"menu": checkup.pk}).content.decode()
    # when: no birth date, then a child too young
    page = _post(staff_client, checkup, slot, **caller).content.decode()
    assert "生年月日を入力してください" in page
    page = _post(
        staff_client, checkup, slot, **caller, birth_date=born_months_before(day, 12)
    ).content.decode()
    assert "1歳" in page and "達していません" in page
    # and a date that cannot be read stays next to the field
    page = _post(staff_client, checkup, slot, **caller, birth_date="平成99年1月1日").content.decode()
    assert "平成" in page and not Reservation.objects.exists()
    # then: with a birth date in range (和暦 is fine) the booking is made and keeps it
    response = _post(staff_client, checkup, slot, **caller, birth_date=born_months_before(day, 20))
    assert response.status_code == 302
    reservation = Reservation.objects.get(slot=slot)
    assert reservation.birth_date is not None and reservation.name == "佐藤 ゆい"
    roster = staff_client.get(reverse("admin:reservations_slot_roster", args=[slot.pk])).content.decode()
    assert "1歳8か月" in roster


def test_caller_is_checked_against_the_area_rule(staff_client, kenko, town):  # noqa: F811
    east = Area.objects.create(municipality=town, name="東地区")
    west = Area.objects.create(municipality=town, name="西地区")
    menu = MenuFactory(department=kenko, name="東地区健診")
    menu.eligible_areas.add(east)
    slot = SlotFactory(menu=menu)
    caller = {"name": "鈴木", "phone": "0265111111"}
    assert "お住まいの地区" in staff_client.get(reverse(URL), {"menu": menu.pk}).content.decode()
    assert "地区を選んでください" in _post(staff_client, menu, slot, **caller).content.decode()
    assert "対象外" in _post(staff_client, menu, slot, **caller, area=west.pk).content.decode()
    assert _post(staff_client, menu, slot, **caller, area=east.pk).status_code == 302


def test_booking_for_a_household_member_of_a_line_user(staff_client, checkup, resident):  # noqa: F811
    # given: the LINE user registered their child; the caller search offers the child
    slot = SlotFactory(menu=checkup, starts_at=in_days(5, 10))
    kid = child(resident, in_days(5).date(), 20)
    found = staff_client.get(reverse(URL), {"menu": checkup.pk, "callers": "山田"}).json()["results"]
    line_user = next(r for r in found if r["kind"] == "LINE")
    assert [m["id"] for m in line_user["members"]] == [kid.pk] and "子" in line_user["members"][0]["label"]
    # when: the resident themselves (no birth date registered) → the clerk is told what is missing
    page = _post(staff_client, checkup, slot, resident=resident.pk).content.decode()
    assert "生年月日を入力してください" in page
    # then: booked for the child
    response = _post(staff_client, checkup, slot, resident=resident.pk, member=kid.pk)
    assert response.status_code == 302
    reservation = Reservation.objects.get(slot=slot)
    assert reservation.member == kid and reservation.resident == resident


def test_full_slot_says_so_and_puts_the_caller_on_the_waitlist(staff_client, kenko, town):  # noqa: F811
    # given: a full slot
    menu = MenuFactory(department=kenko, name="集団健診", waitlist_hold_minutes=45)
    slot = SlotFactory(menu=menu, starts_at=in_days(5, 9), capacity=1)
    holder = reservation_book(slot=slot, resident=resident_in(town))
    html = staff_client.get(reverse(URL), {"menu": menu.pk, "slot": slot.pk}).content.decode()
    assert f'value="{slot.pk}" data-full' in html and 'id="join-waitlist"' in html
    caller = {"name": "田中 トメ", "kana": "タナカ トメ", "phone": "0265123456"}
    # when: the clerk presses 予約する anyway
    page = _post(staff_client, menu, slot, **caller).content.decode()
    assert "満席" in page and "キャンセル待ちに登録" in page
    # then: キャンセル待ちに登録 puts the caller in line
    response = _post(staff_client, menu, slot, **caller, _waitlist="1")
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get(slot=slot)
    assert entry.name == "田中 トメ" and entry.status == WaitlistStatus.WAITING
    text = _messages(response)
    assert "キャンセル待ちに登録しました" in text and "1 番目" in text and "お電話でご案内ください" in text
    # and when a place frees, staff see it on the roster, phone the caller and book it there
    reservation_cancel(reservation=holder)
    roster_url = reverse("admin:reservations_slot_roster", args=[slot.pk])
    roster = staff_client.get(roster_url).content.decode()
    assert "お電話でご案内ください" in roster and 'value="accept"' in roster
    response = staff_client.post(roster_url, {"entry": entry.pk, "op": "accept"})
    assert response.status_code == 302
    assert "田中 トメ さんを予約しました" in _messages(response)
    assert Reservation.objects.get(slot=slot, status="booked").name == "田中 トメ"


def test_staff_of_another_department_cannot_book_or_decline_an_offer(client, kenko, somu_editor, town):
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, capacity=1)
    holder = reservation_book(slot=slot, resident=resident_in(town))
    waiting = resident_in(town)
    entry = waitlist_join(slot=slot, resident=waiting)
    reservation_cancel(reservation=holder)
    client.force_login(somu_editor, backend=BACKEND)
    url = reverse("admin:reservations_slot_roster", args=[slot.pk])
    response = client.post(url, {"entry": entry.pk, "op": "accept"})
    assert response.status_code in (302, 403, 404)
    assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.OFFERED


def test_whole_day_waitlist_from_the_phone_page(staff_client, kenko, resident, town):  # noqa: F811
    menu = MenuFactory(department=kenko, name="集団健診")
    slots = [SlotFactory(menu=menu, starts_at=in_days(5, h), capacity=1) for h in (9, 10)]
    for s in slots:
        reservation_book(slot=s, resident=resident_in(town))
    response = _post(staff_client, menu, slots[0], resident=resident.pk, whole_day="1", _waitlist="1")
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get(resident=resident)
    assert entry.whole_day and entry.day == in_days(5).date() and entry.added_by is not None
    assert "のどの時間でも" in _messages(response) and "LINE でご案内します" in _messages(response)


def test_waitlist_refused_while_the_slot_has_room(staff_client, kenko):  # noqa: F811
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, capacity=3)
    page = _post(staff_client, menu, slot, name="田中", phone="0265123456", _waitlist="1").content.decode()
    assert "空きがあります" in page and not WaitlistEntry.objects.exists()


def test_birth_date_is_taken_only_for_menus_with_an_age_rule(staff_client, kenko):  # noqa: F811
    menu = MenuFactory(department=kenko)
    SlotFactory(menu=menu)
    assert 'name="birth_date"' not in staff_client.get(reverse(URL), {"menu": menu.pk}).content.decode()


@pytest.fixture(autouse=True)
def _resident_named(resident):
    """The shared resident is 「山田 花子」, found by the caller search as a LINE user."""
    return resident
