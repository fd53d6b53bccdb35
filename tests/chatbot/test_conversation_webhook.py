"""End to end through signed webhook posts (simulator backend): the area conversation, the
collection-day answers, garbage sorting, FAQ, keyword rules and unanswered questions."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from chatbot.collection import format_day
from chatbot.matching import get_index
from chatbot.models import ChatState, UnansweredQuestion
from municipalities.models import Area, SimulatedDelivery

from .factories import FaqFactory, KeywordRuleFactory


def test_area_conversation_then_collection_day_answer(kyotango_town, resident, say):
    # given a resident without an area asks about tomorrow
    replies = say(kyotango_town, resident, "明日のごみは？")
    assert any("地区名を送ってください" in r for r in replies)
    assert ChatState.objects.get(resident=resident).pending == ChatState.Pending.AREA
    # when they answer with the area name, half-width digits and all
    replies = say(kyotango_town, resident, "峰山町1区")
    # then the area is set, confirmed, and the pending question answered
    resident.refresh_from_db()
    assert resident.area == Area.objects.get(municipality=kyotango_town, name="峰山町1区")
    assert any("「峰山町1区」に設定しました" in r for r in replies)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    index = get_index(kyotango_town.pk)
    expected = [index.categories[c].label for c in index.calendars[resident.area_id].categories_on(tomorrow)]
    answer = next(r for r in replies if format_day(tomorrow, today=timezone.localdate()) in r)
    for label in expected:
        assert label in answer
    if not expected:
        assert "収集がありません" in answer
    assert ChatState.objects.get(resident=resident).pending == ""


def test_next_collection_of_a_category(kyotango_town, resident, say):
    area = Area.objects.get(municipality=kyotango_town, name="峰山町1区")  # 可燃ごみ: 月 木
    from municipalities.services import resident_update_preferences

    resident_update_preferences(resident=resident, area=area)
    replies = say(kyotango_town, resident, "次の燃やせるごみはいつ？")
    index = get_index(kyotango_town.pk)
    category = next(c for c in index.categories.values() if c.label == "可燃ごみ")
    day = index.calendars[area.pk].next_day(category.pk, timezone.localdate())
    assert day is not None and day.weekday() in {0, 3}
    assert any(
        "【可燃ごみ】" in r
        and format_day(day, today=timezone.localdate()) in r
        and "毎週 月曜日・木曜日" in r
        for r in replies
    )
    # and today
    assert any("の収集" in r for r in say(kyotango_town, resident, "今日のごみは？"))


def test_garbage_item_answer_with_next_day(kyotango_town, resident, say):
    replies = say(kyotango_town, resident, "ｶﾝﾃﾞﾝﾁの捨て方")
    assert any("【有害ごみ】" in r for r in replies)
    assert any("地区を教えていただくと" in r for r in replies)
    from municipalities.services import resident_update_preferences

    resident_update_preferences(
        resident=resident, area=Area.objects.get(municipality=kyotango_town, name="峰山町1区")
    )
    replies = say(kyotango_town, resident, "乾電池はどうやって捨てる？")
    assert any("【有害ごみ】" in r and "次の収集日" in r for r in replies)


def test_ambiguous_question_offers_candidates_as_quick_replies(kyotango_town, resident, say):
    say(kyotango_town, resident, "アイスクリームのカップ")
    message = (
        SimulatedDelivery.objects.filter(endpoint="reply", line_user_id=resident.line_user_id)
        .last()
        .messages[0]
    )
    *items, staff = message["quickReply"]["items"]
    assert 2 <= len(items) <= 3
    assert all(item["action"]["data"].startswith("cb:item:") for item in items)
    assert staff["action"]["data"] == "cb:staff"  # a person is always one tap away


def test_unanswered_question_is_logged_kindly(kyotango_town, resident, other_resident, say):
    replies = say(kyotango_town, resident, "宇宙船の操縦免許はどこで取れますか")
    assert any("まだお答えできません" in r for r in replies)
    say(kyotango_town, other_resident, "宇宙船の操縦免許はどこで取れますか？")
    question = UnansweredQuestion.objects.get(municipality=kyotango_town)
    assert question.count == 2 and question.status == UnansweredQuestion.Status.OPEN


def test_faq_and_keyword_rules(town, kenko, somu, resident, say):
    FaqFactory(
        department=kenko,
        question="特定健診の申し込み方法",
        variants="健診の予約\n健康診断を受けたい",
        answer="健康福祉課（内線 123）で受け付けます。",
        link_label="詳しくはこちら",
        link_url="https://example.jp/kenshin",
    )
    FaqFactory(department=kenko, question="非公開の質問です", answer="秘密", is_published=False)
    KeywordRuleFactory(department=somu, keyword="開庁時間", reply="平日 8:30〜17:15 です。")
    assert say(town, resident, "健康診断を受けたいのですが") == ["健康福祉課（内線 123）で受け付けます。"]
    assert say(town, resident, "健診の予約は？") == ["健康福祉課（内線 123）で受け付けます。"]
    assert say(town, resident, "開庁時間") == ["平日 8:30〜17:15 です。"]
    assert say(town, resident, "開庁　時間") == ["平日 8:30〜17:15 です。"]  # spaces and widths folded
    assert not any("秘密" in r for r in say(town, resident, "非公開の質問です"))
    reply = SimulatedDelivery.objects.filter(endpoint="reply").first().messages[0]
    assert reply["template"]["actions"] == [
        {"type": "uri", "label": "詳しくはこちら", "uri": "https://example.jp/kenshin"}
    ]


def test_reminder_switches(kyotango_town, resident, say):
    replies = say(kyotango_town, resident, "ごみ通知オン")
    assert ChatState.objects.get(resident=resident).garbage_reminder is True
    assert any("地区名を送ってください" in r for r in replies)  # no area yet: asked for it
    say(kyotango_town, resident, "ｺﾞﾐ通知ｵﾌ")
    assert ChatState.objects.get(resident=resident).garbage_reminder is False


def test_area_without_a_calendar_is_not_taken(kyotango_town, areas, resident, say):
    # given the town also has areas without a garbage calendar (本町 …)
    say(kyotango_town, resident, "今日のごみは？")
    # when the resident names one of them
    replies = say(kyotango_town, resident, "本町")
    # then they are told, and the bot still waits for an area it can answer for
    assert any("「本町」の収集日はまだ登録されていません" in r for r in replies)
    resident.refresh_from_db()
    assert resident.area is None
    assert ChatState.objects.get(resident=resident).pending == ChatState.Pending.AREA


def test_ambiguous_area_name_offers_choices(kyotango_town, resident, say):
    say(kyotango_town, resident, "明日のごみは？")
    replies = say(kyotango_town, resident, "峰山町1")
    assert any("どの地区ですか" in r for r in replies)
    message = (
        SimulatedDelivery.objects.filter(endpoint="reply", line_user_id=resident.line_user_id)
        .last()
        .messages[0]
    )
    labels = [item["action"]["label"] for item in message["quickReply"]["items"]]
    assert "峰山町10区" in labels and all(label.startswith("峰山町1") for label in labels)


def test_after_a_staff_reply_that_pauses_the_bot_it_says_busy_once_then_nothing(
    kyotango_town, resident, kenko_editor, say, django_capture_on_commit_callbacks
):
    from chatbot.services import talk_reply_send

    # given a member of staff has replied to the resident and paused the bot
    with django_capture_on_commit_callbacks(execute=True):
        talk_reply_send(resident=resident, text="担当の者です。", actor=kenko_editor, pause_bot=True)
    # when the resident writes twice within the pause
    first = say(kyotango_town, resident, "乾電池")
    second = say(kyotango_town, resident, "乾電池")
    # then the bot says once that staff are on it, then nothing (staff answer)
    assert first == ["担当者が対応中です。お返事まで少しお待ちください。"]
    assert second == []
