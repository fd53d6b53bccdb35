"""Browser tests of issue 24: a parent books a child's checkup, the waitlist offer arrives in the
simulator and is accepted, and a phone booking is taken with the keyboard in ≤ 8 actions."""

import datetime as dt
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from municipalities.line.liff import resident_token
from municipalities.models import Resident
from reservations.models import Reservation, WaitlistEntry, WaitlistStatus
from reservations.services import reservation_book, reservation_cancel
from tests.conftest import PASSWORD
from tests.e2e.conftest import admin_login, simulator_follow, simulator_say
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.reservations.test_services_household import born_months_before

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_parent_registers_a_child_and_books_the_checkup_for_the_child_in_four_taps(
    mobile_page, live_server, kenko, resident
):
    # given: 乳幼児歯科健診 for 1歳6か月〜2歳未満, a slot five days ahead
    menu = MenuFactory(
        department=kenko, name="乳幼児歯科健診", eligible_age_from_months=18, eligible_age_until_months=24
    )
    day = in_days(5).date()
    slot = SlotFactory(menu=menu, starts_at=in_days(5, 10), capacity=4)
    page = mobile_page
    page.goto(
        live_server.url
        + reverse(
            "line:resident_link", kwargs={"token": resident_token(resident, "/liff/reservations/family/")}
        )
    )
    # when: the parent registers the child once (和暦, ひらがな)
    page.fill("#name", "山田 はると")
    page.fill("#kana", "やまだ はると")
    page.fill("#birth_date", born_months_before(day, 20))
    page.select_option("#relationship", "child")
    page.locator("#save-member").tap()
    page.wait_for_selector("[data-member]")
    assert "ヤマダ ハルト" in page.inner_text("[data-member]")
    # and books from the menu list: menu → day → slot → book
    page.goto(live_server.url + reverse("reservations:menus"))
    taps = 0

    def tap(selector: str) -> None:
        nonlocal taps
        page.locator(selector).first.tap()
        taps += 1
        page.wait_for_load_state("domcontentloaded")

    tap(f"[data-menu='{menu.pk}']")
    tap(f"[data-day='{day.isoformat()}']")
    tap(f"[data-slot='{slot.pk}']")
    page.wait_for_selector("#book")
    assert "1歳6か月〜2歳未満" in page.inner_text("main")
    tap("#book")
    # then: booked for the child, in four taps
    page.wait_for_selector("#done")
    assert taps <= 4
    reservation = Reservation.objects.get(slot=slot)
    assert reservation.member.name == "山田 はると" and reservation.resident == resident
    assert "山田 はると" in page.inner_text("#done")


def test_full_slot_waitlist_offer_arrives_in_the_simulator_and_is_accepted(
    page, live_server, town, kenko, town_admin
):
    # given: a full slot, and a resident of the simulator
    menu = MenuFactory(department=kenko, name="集団健診", waitlist_hold_minutes=30)
    slot = SlotFactory(menu=menu, starts_at=in_days(4, 10), capacity=1)
    holder = reservation_book(slot=slot, resident=resident_in(town))
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "待ち 花子")
    waiting = Resident.objects.get(display_name="待ち 花子")
    # when: the resident opens the day page and joins the waitlist with one tap
    simulator_say(page, "予約確認")
    card = page.locator(".row.bot [data-kind=flex]").last
    card.wait_for()
    with page.context.expect_page() as opened:
        card.locator(".flex-button.primary").click()
    liff = opened.value
    liff.wait_for_load_state()
    liff.goto(live_server.url + reverse("reservations:day", args=[menu.pk, in_days(4).date().isoformat()]))
    liff.locator(f"[data-waitlist-slot='{slot.pk}']").click()
    liff.wait_for_selector("#position")
    assert "1 番目" in liff.inner_text("#waitlist")
    # and: the booking holder cancels
    reservation_cancel(reservation=holder)
    # then: the offer arrives in the simulator, with its button
    offer = page.locator(".row.bot [data-kind=flex]", has_text="キャンセル待ちの枠に空きが出ました")
    offer.wait_for(timeout=20_000)
    with page.context.expect_page() as opened:
        offer.locator(".flex-button.primary").click()
    offered = opened.value
    offered.wait_for_load_state()
    offered.locator("#accept").click()
    offered.wait_for_selector("#done")
    entry = WaitlistEntry.objects.get(resident=waiting)
    assert entry.status == WaitlistStatus.BOOKED
    assert Reservation.objects.get(pk=entry.reservation_id).code in offered.inner_text("#done")


def test_whole_day_waitlist_offer_for_a_cancellation_elsewhere_that_day(
    page, live_server, town, kenko, town_admin
):
    # given: both slots of a day full; a resident of the simulator
    menu = MenuFactory(department=kenko, name="集団健診", waitlist_hold_minutes=30)
    day = in_days(4).date()
    morning = SlotFactory(menu=menu, starts_at=in_days(4, 9), capacity=1)
    afternoon = SlotFactory(menu=menu, starts_at=in_days(4, 14), capacity=1)
    reservation_book(slot=morning, resident=resident_in(town))
    afternoon_holder = reservation_book(slot=afternoon, resident=resident_in(town))
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "終日 待子")
    waiting = Resident.objects.get(display_name="終日 待子")
    simulator_say(page, "予約確認")
    card = page.locator(".row.bot [data-kind=flex]").last
    card.wait_for()
    with page.context.expect_page() as opened:
        card.locator(".flex-button.primary").click()
    liff = opened.value
    liff.wait_for_load_state()
    # when: the month calendar marks the day 待; its day page joins the whole day with one tap
    liff.goto(live_server.url + reverse("reservations:calendar", args=[menu.pk]) + f"?ym={day:%Y-%m}")
    liff.locator(f"[data-day='{day.isoformat()}'][data-waitlist-day]").click()
    liff.locator(f"[data-waitlist-day='{day.isoformat()}']").click()
    liff.wait_for_selector("#position")
    assert "1 番目" in liff.inner_text("#waitlist") and "のどの時間でも" in liff.inner_text("#waitlist")
    # and a place frees elsewhere that day: the afternoon's holder cancels
    reservation_cancel(reservation=afternoon_holder)
    # then: the offer for the afternoon arrives in the simulator and is accepted
    offer = page.locator(".row.bot [data-kind=flex]", has_text="キャンセル待ちの枠に空きが出ました")
    offer.wait_for(timeout=20_000)
    assert "14:00" in offer.inner_text()
    with page.context.expect_page() as opened:
        offer.locator(".flex-button.primary").click()
    offered = opened.value
    offered.wait_for_load_state()
    offered.locator("#accept").click()
    offered.wait_for_selector("#done")
    entry = WaitlistEntry.objects.get(resident=waiting)
    assert entry.status == WaitlistStatus.BOOKED and entry.whole_day
    assert Reservation.objects.get(pk=entry.reservation_id).slot == afternoon


def test_phone_booking_with_the_keyboard_in_eight_actions(page, live_server, kenko, kenko_editor):
    # given: 田中さん phoned before; a menu with a question; free places on two days
    menu = MenuFactory(department=kenko, name="集団健診", questions="*連絡事項")
    first = SlotFactory(menu=menu, starts_at=in_days(5, 9), capacity=20)
    second = SlotFactory(menu=menu, starts_at=in_days(5, 9) + dt.timedelta(minutes=30), capacity=20)
    reservation_book(
        slot=SlotFactory(menu=MenuFactory(department=kenko, name="がん検診"), starts_at=in_days(3, 9)),
        actor=kenko_editor,
        name="田中 トメ",
        kana="タナカ トメ",
        phone="0265123456",
    )
    admin_login(page, live_server, kenko_editor.username, PASSWORD)
    page.goto(live_server.url + reverse("admin:reservations_slot_phone_booking"))
    page.wait_for_selector("#menu:focus")
    actions = 0

    def key(name: str) -> None:
        nonlocal actions
        page.keyboard.press(name)
        actions += 1

    def type_(text: str) -> None:
        nonlocal actions
        page.keyboard.type(text)
        actions += 1

    started = time.monotonic()
    # when: pick the menu, find the caller by phone digits, take the second slot, answer, submit
    key("ArrowDown")  # the first (only) menu → its week opens
    page.wait_for_selector("#caller-q:focus")
    type_("0265-12")
    page.wait_for_selector("#caller-suggestions button")
    key("Enter")  # fills 田中 トメ and moves to the week calendar
    page.wait_for_function(f"document.activeElement && document.activeElement.value === '{first.pk}'")
    key("ArrowRight")  # the next free slot
    key("Tab")  # the question
    type_("車いすで来ます")
    key("Enter")
    page.wait_for_selector(".messagelist")
    elapsed = time.monotonic() - started
    # then
    assert actions <= 8
    reservation = Reservation.objects.get(slot=second)
    assert (reservation.name, reservation.kana, reservation.phone) == (
        "田中 トメ",
        "タナカ トメ",
        "0265123456",
    )
    assert reservation.answers == {"連絡事項": "車いすで来ます"}
    assert reservation.booked_by == kenko_editor and reservation.code in page.inner_text(".messagelist")
    assert elapsed < 30
    assert timezone.localtime(second.starts_at).strftime("%H:%M") in page.inner_text(".messagelist")
