"""The areas of 受信設定 are the garbage areas, and the town's collection time decides whether
today's collection is still 「次の収集日」."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from chatbot.line_handlers import first_day_to_answer
from chatbot.matching import get_index
from municipalities.models import Area, SimulatedDelivery
from municipalities.services import resident_update_preferences

TOKYO = ZoneInfo("Asia/Tokyo")


def test_collection_time_moves_the_first_day_to_answer_to_tomorrow(town):
    # given the default collection time 8:30
    morning = dt.datetime(2026, 6, 1, 8, 29, tzinfo=TOKYO)
    after = dt.datetime(2026, 6, 1, 8, 30, tzinfo=TOKYO)
    # then before it today still counts, from it on the answer starts tomorrow
    assert first_day_to_answer(town, now=morning) == dt.date(2026, 6, 1)
    assert first_day_to_answer(town, now=after) == dt.date(2026, 6, 2)
    # and a town that collects at 10:00 still counts today at 9:00
    town.garbage_collection_time = dt.time(10, 0)
    assert first_day_to_answer(town, now=dt.datetime(2026, 6, 1, 9, 0, tzinfo=TOKYO)) == dt.date(2026, 6, 1)


def test_resident_with_a_settings_area_is_answered_without_being_asked(kyotango_town, resident, say):
    # given the resident chose a garbage area in 受信設定
    area = Area.objects.get(municipality=kyotango_town, name="峰山町1区")
    resident_update_preferences(resident=resident, area=area)
    # when they ask about tomorrow
    replies = say(kyotango_town, resident, "明日のごみは？")
    # then they are answered for that area, not asked for it
    assert "（峰山町1区）" in replies[0]
    assert not any("地区名を送ってください" in r for r in replies)


def test_settings_area_without_a_calendar_says_so_and_offers_the_nearest(kyotango_town, resident, say):
    # given the resident chose an area that has no collection calendar
    area = Area.objects.create(municipality=kyotango_town, name="峰山町99区", kana="みねやまちょう99く")
    resident_update_preferences(resident=resident, area=area)
    assert area.pk not in get_index(kyotango_town.pk).calendars
    # when they ask about tomorrow
    replies = say(kyotango_town, resident, "明日のごみは？")
    # then the bot says the area has no calendar and offers the nearest areas that have one
    assert "「峰山町99区」には、ごみの収集日がまだ登録されていません" in replies[0]
    items = SimulatedDelivery.objects.filter(endpoint="reply").last().messages[0]["quickReply"]["items"]
    offered = [i["action"]["label"] for i in items if i["action"]["type"] == "postback"]
    assert offered and all(label.startswith("峰山町") for label in offered)
    assert not any("地区名を送ってください" in r for r in replies)


def test_tap_on_a_nearest_area_sets_it_and_answers(kyotango_town, resident, say, tap):
    area = Area.objects.create(municipality=kyotango_town, name="峰山町99区")
    resident_update_preferences(resident=resident, area=area)
    say(kyotango_town, resident, "明日のごみは？")
    items = SimulatedDelivery.objects.filter(endpoint="reply").last().messages[0]["quickReply"]["items"]
    first = next(i["action"] for i in items if i["action"]["type"] == "postback")
    replies = tap(kyotango_town, resident, first["data"])
    resident.refresh_from_db()
    assert resident.area.name == first["displayText"]
    assert any("に設定しました" in r for r in replies)
