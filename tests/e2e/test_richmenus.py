"""Browser tests: staff build a menu from a template, preview and publish it; in the simulator a
resident taps 予約 and books in 4 taps; 災害モード switches the simulator's menu and back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from municipalities.models import Role
from reservations.models import Reservation
from richmenus.models import RichMenu
from richmenus.services import richmenu_line_sync
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import admin_login
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.richmenus.factories import DISASTER_TILES, make_menu

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def follow_in_simulator(page, live_server, name: str) -> None:
    """Signed-in staff open the simulator, where a new resident adds the account as a friend."""
    page.goto(f"{live_server.url}/simulator/")
    page.fill("#sim-new-name", name)
    page.click("#sim-follow")
    page.locator(".row.bot .bubble").first.wait_for()


def test_build_preview_publish_then_book_in_four_taps(page, live_server, town, kenko):
    # given a booking menu with a slot, and a town with a LIFF app
    town.liff_id = "1234567890-abcdefgh"
    town.save(update_fields=["liff_id"])
    checkup = MenuFactory(department=kenko, name="乳幼児歯科健診")
    slot = SlotFactory(menu=checkup, starts_at=in_days(3, 10), capacity=4)
    make_staff("rm_admin", town, Role.MUNICIPALITY_ADMIN)
    admin_login(page, live_server, "rm_admin", PASSWORD)

    # when staff build a menu from the compact 2-tile template
    page.goto(live_server.url + reverse("admin:richmenus_richmenu_add"))
    page.select_option("#id_municipality", str(town.pk))
    page.fill("#id_name", "みどり町メニュー")
    page.check("#id_is_default")
    page.select_option("#id_layout", "compact2")
    page.fill("#id_tiles-0-position", "1")
    page.fill("#id_tiles-0-label", "予約")
    page.select_option("#id_tiles-0-icon", "reserve")
    page.select_option("#id_tiles-0-action", "feature")
    page.select_option("#id_tiles-0-feature", "reservations.menus")
    page.fill("#id_tiles-0-feature_object_id", str(checkup.pk))
    page.fill("#id_tiles-1-position", "2")
    page.fill("#id_tiles-1-label", "ごみ")
    page.select_option("#id_tiles-1-icon", "garbage")
    page.select_option("#id_tiles-1-action", "text")
    page.fill("#id_tiles-1-text", "明日のごみは？")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    menu = RichMenu.objects.get(name="みどり町メニュー")

    # then the preview shows the image with both areas outlined, and it publishes
    page.goto(live_server.url + reverse("admin:richmenus_richmenu_preview", args=[menu.pk]))
    assert page.locator(".rm-area").count() == 2
    assert page.locator("#rm-image").evaluate("img => img.naturalWidth") == 2500
    page.click("#rm-publish")
    page.wait_for_selector(".messagelist")
    menu.refresh_from_db()
    assert menu.status == RichMenu.Status.PUBLISHED

    # when a resident taps 予約 in the simulator, then a day, a time, and confirms
    follow_in_simulator(page, live_server, "予約 花子")
    page.wait_for_selector(".rich-menu-area")
    assert page.locator(".rich-menu-area").count() == 2
    taps = 0
    with page.context.expect_page() as opened:
        page.locator(".rich-menu-area").nth(0).click()
        taps += 1
    booking = opened.value
    booking.wait_for_load_state("domcontentloaded")
    booking.wait_for_selector(f"[data-day='{in_days(3).date().isoformat()}']")
    for selector in (f"[data-day='{in_days(3).date().isoformat()}']", f"[data-slot='{slot.pk}']", "#book"):
        booking.locator(selector).first.click()
        taps += 1
        booking.wait_for_load_state("domcontentloaded")
    booking.wait_for_selector("#done")
    # then it took 4 taps, and the tile's opening was counted
    assert taps == 4
    assert Reservation.objects.filter(slot=slot).count() == 1
    assert menu.taps.get().count == 1


def test_disaster_mode_switches_the_simulator_menu_and_back(page, live_server, town):
    make_staff("rm_admin2", town, Role.MUNICIPALITY_ADMIN)
    normal = make_menu(town, name="通常", is_default=True)
    disaster = make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    richmenu_line_sync(menu_id=normal.pk)
    normal.refresh_from_db()
    admin_login(page, live_server, "rm_admin2", PASSWORD)
    follow_in_simulator(page, live_server, "防災 一郎")
    page.wait_for_selector(f"#rich-menu-body img[src*='{normal.line_rich_menu_id}']")
    simulator = page.url

    # when 自治体管理者 switches 災害モード on in the admin
    page.goto(live_server.url + reverse("admin:richmenus_richmenu_disaster"))
    page.select_option("select[name=disaster_type]", "earthquake")
    page.click("#rm-disaster-on")
    page.wait_for_selector("#rm-disaster-off")
    disaster.refresh_from_db()
    # then the simulator shows the disaster menu under the chat
    page.goto(simulator)
    page.wait_for_selector(f"#rich-menu-body img[src*='{disaster.line_rich_menu_id}']")
    # when it is switched back
    page.goto(live_server.url + reverse("admin:richmenus_richmenu_disaster"))
    page.click("#rm-disaster-off")
    page.wait_for_selector("#rm-disaster-on")
    page.goto(simulator)
    page.wait_for_selector(f"#rich-menu-body img[src*='{normal.line_rich_menu_id}']")
