"""Browser tests of the broadcasts app: the resident's 受信設定 page on a phone, and the
composer's live recipient count and preview in the admin."""

from __future__ import annotations

import pytest

from municipalities.line.liff import resident_link
from municipalities.models import Resident
from tests.broadcasts.factories import make_residents
from tests.conftest import PASSWORD
from tests.e2e.conftest import admin_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_resident_turns_an_interest_on_with_one_tap(live_server, mobile_page, resident, interests, areas):
    # given
    page = mobile_page
    page.goto(resident_link(resident, "/liff/broadcasts/settings/", base_url=live_server.url))
    toggle = page.locator("button.toggle[data-interest='bosai']")
    assert toggle.get_attribute("aria-checked") == "false"
    # when
    toggle.click()
    # then
    page.wait_for_selector(".messages li")
    assert "「防災」のお知らせを受け取ります。" in page.inner_text(".messages")
    assert page.locator("button.toggle[data-interest='bosai']").get_attribute("aria-checked") == "true"
    assert list(Resident.objects.get(pk=resident.pk).interests.values_list("code", flat=True)) == ["bosai"]
    # and the district and the pause are one tap each
    page.click("button.chip:has-text('東区')")
    page.wait_for_selector("button.chip.selected:has-text('東区')")
    page.click("#pause-notices")
    page.wait_for_selector("#resume-notices")
    resident.refresh_from_db()
    assert (resident.area.name, resident.notices_paused) == ("東区", True)


def test_composer_shows_the_recipient_count_and_a_preview(
    live_server, page, kenko_editor, kenko, town, interests
):
    # given
    make_residents(town, 3, interests=[interests["kenko"]])
    admin_login(page, live_server, kenko_editor.username, PASSWORD)
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{live_server.url}/admin/broadcasts/broadcast/add/")
    page.wait_for_selector("#recipient-count")
    # when
    page.select_option("#id_category", label="健康")
    page.fill("textarea[name='messages-0-text']", "特定健診の受付を始めました。")
    # then
    page.wait_for_selector("#recipient-count:has-text('約 3 人に届きます')")  # CSP forbids eval-based waits
    assert page.inner_text("#line-preview .bc-text") == "特定健診の受付を始めました。"
    assert "14 / 5,000 文字" in page.inner_text(".bc-counter")


def test_head_approves_a_pending_broadcast_with_the_button(
    live_server, page, kenko_head, kenko_editor, kenko, town, interests
):
    # given: an editor's broadcast waiting for approval, to three residents
    from broadcasts.models import Broadcast, BroadcastStatus
    from broadcasts.services import broadcast_submit
    from tests.broadcasts.factories import make_broadcast

    make_residents(town, 3, interests=[interests["kenko"]])
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    admin_login(page, live_server, kenko_head.username, PASSWORD)
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{live_server.url}/admin/broadcasts/broadcast/{broadcast.pk}/change/")
    # when: the head presses 承認する and confirms
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="承認する").click()
    # then: approved and sent (Celery runs eagerly here), and the page says so
    page.wait_for_selector(".messagelist li:has-text('承認しました。')")
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENT
    assert Broadcast.objects.get(pk=broadcast.pk).delivered_count == 3


def test_a_transition_button_does_not_act_on_unsaved_edits(
    live_server, page, kenko_editor, kenko, town, interests
):
    # given: a draft open in the composer, its title changed but not saved
    from broadcasts.models import Broadcast, BroadcastStatus
    from tests.broadcasts.factories import make_broadcast

    make_residents(town, 3, interests=[interests["kenko"]])
    broadcast = make_broadcast(kenko, category=interests["kenko"])
    admin_login(page, live_server, kenko_editor.username, PASSWORD)
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{live_server.url}/admin/broadcasts/broadcast/{broadcast.pk}/change/")
    page.wait_for_load_state("load")
    page.fill("#id_title", "特定健診のご案内（訂正）")
    # when: the editor asks for approval before saving
    page.get_by_role("button", name="承認を申請する").click()
    # then: nothing is submitted and the page says why
    page.wait_for_selector("#bc-unsaved")
    assert "保存していない変更があります。「承認を申請する」はこの変更を含みません。" in page.inner_text(
        "#bc-unsaved"
    )
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DRAFT
    # and once saved, the same button submits the saved version
    page.click("input[name='_continue']")
    page.wait_for_selector(".messagelist li")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="承認を申請する").click()
    page.wait_for_selector(".messagelist li:has-text('承認を申請しました')")
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.title) == (BroadcastStatus.PENDING, "特定健診のご案内（訂正）")


def test_leaving_the_settings_page_sends_one_summary_by_beacon_not_a_push_per_tap(
    live_server, mobile_page, resident, interests, areas
):
    """受信設定 in LIFF: each tap is confirmed on the page; when the resident leaves, the page's
    beacon (navigator.sendBeacon on pagehide) asks for one summary in LINE."""
    import json
    import time

    from municipalities.models import SimulatedDelivery

    def pushes() -> list[str]:
        return [
            json.dumps(message, ensure_ascii=False)
            for delivery in SimulatedDelivery.objects.filter(
                line_user_id=resident.line_user_id, endpoint="push"
            )
            for message in delivery.messages
        ]

    def wait_for_pushes(n: int) -> list[str]:
        deadline = time.monotonic() + 10
        while len(found := pushes()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    # given the resident on their 受信設定 page
    page = mobile_page
    page.goto(resident_link(resident, "/liff/broadcasts/settings/", base_url=live_server.url))
    # when they change three things, one tap each
    page.click("button.toggle[data-interest='bosai']")
    page.wait_for_selector("button.toggle[data-interest='bosai'][aria-checked='true']")
    page.click("button.toggle[data-interest='kenko']")
    page.wait_for_selector("button.toggle[data-interest='kenko'][aria-checked='true']")
    page.click("button.chip:has-text('東区')")
    page.wait_for_selector("button.chip.selected:has-text('東区')")
    # then nothing was pushed while they were on the page (each push costs the town's quota)
    assert pushes() == []
    # when they leave the page (LIFF closed: the page is hidden and unloaded)
    page.goto("about:blank")
    # then the beacon brings one summary of the settings as they ended up
    [summary] = wait_for_pushes(1)
    assert "【受信設定】" in summary and "防災" in summary and "健康" in summary and "東区" in summary
    # when they open the page again and leave without changing anything
    page.goto(resident_link(resident, "/liff/broadcasts/settings/", base_url=live_server.url))
    page.wait_for_selector("button.toggle[data-interest='bosai'][aria-checked='true']")
    page.goto("about:blank")
    time.sleep(1)
    # then no second message
    assert len(pushes()) == 1
