"""The chatbot in Chromium: a resident asks in the simulator (candidates as quick replies, the
area conversation); staff answer from the talk page; the hand-off to a person from the
resident's 「職員と話す」 to staff marking it done."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from chatbot import matching
from chatbot.garbage_import import files_from_directory
from chatbot.models import ChatState, Handoff, StaffReply
from chatbot.services import garbage_import
from municipalities.models import Area, Resident
from municipalities.services import resident_update_preferences
from tests.conftest import PASSWORD
from tests.e2e.conftest import TrackedContext, admin_login, simulator_follow, simulator_say

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KYOTANGO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "5374" / "kyotango"


@pytest.fixture
def garbage_town(town):
    matching.clear_all()
    cache.clear()
    garbage_import(municipality=town, files=files_from_directory(KYOTANGO))
    yield town
    matching.clear_all()


def test_resident_asks_and_staff_take_over(page, live_server, garbage_town, town_admin):
    # given: staff open the simulator and a resident adds the account
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "ごみ 太郎")

    # when: they ask about an item listed under two materials
    simulator_say(page, "アイスクリームのカップ")
    # then: the candidates come as quick replies; tapping one answers with its category
    chip = page.locator(".qr", has_text="アイスクリームのカップ（紙製）")
    chip.wait_for()
    chip.click()
    page.locator(".row.bot .bubble", has_text="【可燃ごみ】").wait_for()

    # when: they ask for tomorrow's garbage without an area, then name it
    simulator_say(page, "明日のごみは？")
    page.locator(".row.bot .bubble", has_text="お住まいの地区名を送ってください").wait_for()
    simulator_say(page, "峰山町1区")
    # then: the area is set and confirmed
    page.locator(".row.bot .bubble", has_text="「峰山町1区」に設定しました").wait_for()
    resident = Resident.objects.get(municipality=garbage_town, display_name="ごみ 太郎")
    assert resident.area.name == "峰山町1区"

    # when: staff open the resident's talk in the admin, reply and pause the bot
    page.goto(f"{live_server.url}/admin/chatbot/talkthread/{resident.pk}/change/")
    page.locator(".chatbot-talk", has_text="峰山町1区").wait_for()
    page.fill("textarea[name=text]", "担当者です。ほかにご不明な点はありますか？")
    page.check("input[name=pause_bot]")
    page.click(".chatbot-reply input[type=submit]")
    # then: the reply is in the talk with the sender, the page is back at the talk, the bot paused
    page.locator(".chatbot-msg.out", has_text="担当者です。").wait_for()
    assert page.url.endswith("#talk-end")
    # the newest message is in view at the bottom of the talk, and so is the reply box
    at_bottom = (
        "(l => l.scrollTop + l.clientHeight >= l.scrollHeight - 2)(document.getElementById('talk-log'))"
    )
    page.wait_for_function(at_bottom)
    assert page.locator("textarea[name=text]").is_visible()
    assert (
        page.evaluate("document.querySelector('textarea[name=text]').getBoundingClientRect().bottom") <= 900
    )
    assert "自動応答しません" in page.locator(".chatbot-silenced").inner_text()
    assert StaffReply.objects.get(resident=resident).sent_at is not None
    assert ChatState.objects.get(resident=resident).silenced_until is not None
    # and the resident's tap on the quick reply reads as what they tapped, not its code
    assert page.locator(".chatbot-msg.tap", has_text="アイスクリームのカップ（紙製）").count() == 1
    assert "cb:item:" not in page.locator(".chatbot-talk").inner_text()


def test_resident_with_a_settings_area_asks_for_a_person_and_staff_answer(
    page, browser, live_server, garbage_town, town_admin
):
    # given: a resident whose 受信設定 area has a collection calendar
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "相談 花子")
    resident = Resident.objects.get(municipality=garbage_town, display_name="相談 花子")
    area = Area.objects.get(municipality=garbage_town, name="峰山町1区")
    resident_update_preferences(resident=resident, area=area)

    # when: they ask about tomorrow's garbage
    simulator_say(page, "明日のごみは？")
    # then: they are answered for their area without being asked for it
    page.locator(".row.bot .bubble", has_text="（峰山町1区）").wait_for()
    assert page.locator(".row.bot .bubble", has_text="地区名を送ってください").count() == 0

    # when: they ask something the bot cannot answer and tap 「職員と話す」
    simulator_say(page, "先月出した書類の審査はどうなっていますか")
    page.locator(".row.bot .bubble", has_text="まだお答えできません").wait_for()
    page.locator(".qr", has_text="職員と話す").last.click()
    # then: they are told someone will answer, and when
    page.locator(".row.bot .bubble", has_text="職員が対応する時間は").wait_for()

    # when: staff open the admin home in their own browser
    staff_context = TrackedContext(browser, locale="ja-JP", timezone_id="Asia/Tokyo")
    staff = staff_context.context.new_page()
    admin_login(staff, live_server, town_admin.username, PASSWORD)
    # then: every admin page's header shows the badge, and the home's notice the waiting resident
    badge = staff.locator("#user-tools .cms-header-badge", has_text="職員対応待ち")
    badge.wait_for()
    assert badge.locator(".cms-badge-count").inner_text() == "1"
    notice = staff.locator("#staff-notices-module a", has_text="職員との会話を待っている住民 1 人")
    notice.wait_for()
    notice.click()
    staff.locator("#result_list a", has_text="相談 花子").click()
    staff.locator(".chatbot-handoff", has_text="職員の返事待ち").wait_for()
    assert "先月出した書類" in staff.locator(".chatbot-handoff").inner_text()
    # when: staff reply and then mark the conversation done
    staff.fill("textarea[name=text]", "書類は受け付けております。審査には 1 週間ほどかかります。")
    staff.click(".chatbot-reply input[type=submit]")
    staff.locator(".chatbot-msg.out", has_text="審査には 1 週間").wait_for()
    staff.locator(".chatbot-done").click()
    staff.locator(".messagelist", has_text="対応完了にしました").wait_for()
    assert staff.locator("#user-tools .cms-header-badge").count() == 0  # nobody waits any more
    staff_context.close_when_answered()
    assert Handoff.objects.get(resident=resident).status == Handoff.Status.DONE

    # then: the resident got the staff reply, and the bot answers again
    page.locator(".row.bot .bubble", has_text="審査には 1 週間").wait_for()
    simulator_say(page, "乾電池")
    page.locator(".row.bot .bubble", has_text="【有害ごみ】").wait_for()
