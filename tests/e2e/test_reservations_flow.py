"""Browser tests: a resident books in ≤ 4 taps; staff take a phone booking in the admin."""

import time

import pytest
from django.urls import reverse

from municipalities.line.liff import resident_token
from reservations.models import Reservation, ReservationStatus
from tests.conftest import PASSWORD
from tests.e2e.conftest import admin_login
from tests.reservations.factories import MenuFactory, SlotFactory, in_days

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_resident_books_in_four_taps_and_cancels(mobile_page, live_server, kenko, resident):
    # given: a menu with an optional question, and one slot three days ahead
    menu = MenuFactory(department=kenko, name="乳幼児歯科健診", questions="連絡事項")
    slot = SlotFactory(menu=menu, starts_at=in_days(3, 10), capacity=4)
    page = mobile_page
    token = resident_token(resident, "/liff/reservations/")
    page.goto(live_server.url + reverse("line:resident_link", kwargs={"token": token}))
    page.wait_for_selector(f"[data-menu='{menu.pk}']")
    taps = 0

    def tap(selector: str) -> None:
        nonlocal taps
        page.locator(selector).first.tap()
        taps += 1
        page.wait_for_load_state("domcontentloaded")

    # when: services → calendar day → slot → confirm
    tap(f"[data-menu='{menu.pk}']")
    tap(f"[data-day='{in_days(3).date().isoformat()}']")
    tap(f"[data-slot='{slot.pk}']")
    tap("#book")
    # then
    page.wait_for_selector("#done")
    assert taps <= 4
    reservation = Reservation.objects.get(slot=slot, resident=resident)
    assert reservation.code in page.inner_text("#done")
    assert reservation.answers == {}

    # and: the resident cancels from 「予約の確認・変更」
    page.goto(live_server.url + reverse("reservations:my_detail", args=[reservation.pk]))
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#cancel").tap()
    page.wait_for_selector("#cancelled")
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CANCELLED


def test_full_slot_shows_a_message_and_alternatives(
    mobile_page, live_server, kenko, resident, other_resident
):
    from reservations.services import reservation_book

    menu = MenuFactory(department=kenko)
    full = SlotFactory(menu=menu, starts_at=in_days(3, 10), capacity=1)
    other = SlotFactory(menu=menu, starts_at=in_days(3, 11), capacity=3)
    page = mobile_page
    page.goto(
        live_server.url
        + reverse(
            "line:resident_link",
            kwargs={"token": resident_token(resident, f"/liff/reservations/slot/{full.pk}/")},
        )
    )
    page.wait_for_selector("#book")
    reservation_book(slot=full, resident=other_resident)  # someone else takes the last place meanwhile
    page.locator("#book").tap()
    page.wait_for_selector("[role=alert]")
    assert "満席" in page.inner_text("[role=alert]")
    assert page.locator(f"[data-alt='{other.pk}']").count() == 1


def test_staff_takes_a_phone_booking_with_the_keyboard(page, live_server, kenko, kenko_editor):
    # given
    menu = MenuFactory(department=kenko, name="集団健診")
    slot = SlotFactory(menu=menu, starts_at=in_days(5, 9), capacity=20)
    admin_login(page, live_server, kenko_editor.username, PASSWORD)
    page.goto(
        f"{live_server.url}{reverse('admin:reservations_slot_day')}?menu={menu.pk}&date={in_days(5).date().isoformat()}"
    )
    started = time.monotonic()
    # when: day view → 代理予約 → name, kana, phone → Enter
    page.locator(f"tr[data-slot='{slot.pk}'] >> text=代理予約").click()
    page.wait_for_selector("#caller-q:focus")  # a new caller: nobody to find, so on to the name
    page.keyboard.press("Tab")
    page.keyboard.type("佐藤 一郎")
    page.keyboard.press("Tab")
    page.keyboard.type("さとう いちろう")
    page.keyboard.press("Tab")
    page.keyboard.type("09012345678")
    page.keyboard.press("Enter")
    page.wait_for_selector(".messagelist")
    elapsed = time.monotonic() - started
    # then
    reservation = Reservation.objects.get(slot=slot)
    assert (reservation.name, reservation.kana, reservation.phone) == (
        "佐藤 一郎",
        "サトウ イチロウ",
        "09012345678",
    )
    assert reservation.booked_by == kenko_editor
    assert reservation.code in page.inner_text(".messagelist")
    assert elapsed < 30
    # and: the roster lists the caller
    page.goto(live_server.url + reverse("admin:reservations_slot_roster", args=[slot.pk]))
    assert "佐藤 一郎" in page.inner_text("#roster")
