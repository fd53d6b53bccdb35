"""The chatbot in Chromium: a resident asks in the simulator (candidates as quick replies, the
area conversation); staff answer from the talk page and the bot then stays silent."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from chatbot import matching
from chatbot.garbage_import import files_from_directory
from chatbot.models import ChatState, StaffReply
from chatbot.services import garbage_import
from municipalities.models import Resident
from tests.conftest import PASSWORD
from tests.e2e.conftest import simulator_follow, simulator_say

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

    # when: staff open the resident's talk in the admin and reply
    page.goto(f"{live_server.url}/admin/chatbot/talkthread/{resident.pk}/change/")
    page.locator(".chatbot-talk", has_text="峰山町1区").wait_for()
    page.fill("textarea[name=text]", "担当者です。ほかにご不明な点はありますか？")
    page.click(".chatbot-reply input[type=submit]")
    # then: the reply is in the talk with the sender, and the bot is silenced
    page.locator(".chatbot-msg.out", has_text="担当者です。").wait_for()
    assert "自動応答しません" in page.locator(".chatbot-silenced").inner_text()
    assert StaffReply.objects.get(resident=resident).sent_at is not None
    assert ChatState.objects.get(resident=resident).silenced_until is not None
