"""Normalisation and FAQ matching; the per-process index is refreshed when staff change data."""

from __future__ import annotations

import pytest

from chatbot.errors import ChatbotError
from chatbot.matching import get_index
from chatbot.models import Faq
from chatbot.normalize import key, query_key, strip_question
from chatbot.services import faq_delete, faq_save

from .factories import FaqFactory, KeywordRuleFactory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("乾電池", "乾電池"),
        ("乾電池はどうやって捨てる？", "乾電池"),
        ("かんでんち", "かんでんち"),
        ("カンデンチ", "かんでんち"),
        ("ｶﾝﾃﾞﾝﾁの捨て方", "かんでんち"),
        ("乾電池ってどうする", "乾電池"),
        ("乾電池は何ゴミ？", "乾電池"),
        ("スプレー缶を捨てたいのですが", "すぷれー缶"),
        ("ゴミ袋の出し方を教えてください", "ごみ袋"),
        ("汚れているもの", "汚れているもの"),  # an ending 「もの」 is part of the name
        ("ＩＨ　クッキングヒーター", "ihくっきんぐひーたー"),
    ],
)
def test_query_key(text, expected):
    assert query_key(text) == expected


def test_key_folds_width_kana_and_spaces():
    assert key(" ｺﾞﾐ 通知 ON ") == key("ごみ通知on")
    assert strip_question("明日のごみは？") == "明日のごみ"


def test_faq_exact_variant_and_fuzzy(town, kenko, somu):
    FaqFactory(
        department=kenko,
        question="特定健診の申し込み方法",
        variants="健診の予約\n健康診断を受けたい",
        answer="A",
    )
    FaqFactory(department=somu, question="住民票の写しの取り方", variants="住民票が欲しい", answer="B")
    FaqFactory(department=somu, question="印鑑登録の方法", answer="C", is_published=False)
    index = get_index(town.pk)
    assert [e.answer for e in index.match("健診の予約はどうすればいい？").answer] == ["A"]
    assert [e.answer for e in index.match("住民票の写しの取りかた").answer] == ["B"]  # fuzzy
    assert not index.match("印鑑登録の方法").answer  # unpublished


def test_index_is_refreshed_after_faq_and_keyword_changes(town, kenko, django_capture_on_commit_callbacks):
    assert not get_index(town.pk).match("ワクチンの予約").answer
    with django_capture_on_commit_callbacks(execute=True):
        faq = faq_save(
            faq=Faq(department=kenko, question="ワクチンの予約", answer="予約は電話で"),
            actor=None,
            created=True,
        )
    assert [e.answer for e in get_index(town.pk).match("ワクチンの予約").answer] == ["予約は電話で"]
    with django_capture_on_commit_callbacks(execute=True):
        faq_delete(faq=faq, actor=None)
    assert not get_index(town.pk).match("ワクチンの予約").answer
    KeywordRuleFactory(department=kenko, keyword="メニュー", reply="メニューです")
    from chatbot.matching import invalidate

    invalidate(town.pk)
    assert get_index(town.pk).keyword_reply("ﾒﾆｭｰ") == "メニューです"


def test_faq_service_checks_the_department_policy(town, kenko, somu, somu_editor, kenko_viewer):
    with pytest.raises(ChatbotError, match="権限がありません"):
        faq_save(faq=Faq(department=kenko, question="q", answer="a"), actor=somu_editor, created=True)
    with pytest.raises(ChatbotError, match="権限がありません"):
        faq_save(faq=Faq(department=kenko, question="q", answer="a"), actor=kenko_viewer, created=True)
    assert faq_save(faq=Faq(department=somu, question="q", answer="a"), actor=somu_editor, created=True).pk


def test_faq_constraints(town, kenko):
    FaqFactory(department=kenko, question="同じ質問")
    with pytest.raises(ChatbotError):
        faq_save(faq=Faq(department=kenko, question="同じ質問", answer="a"), actor=None, created=True)
    with pytest.raises(ChatbotError):
        faq_save(
            faq=Faq(department=kenko, question="リンク", answer="a", link_url="https://example.jp"),
            actor=None,
            created=True,
        )


def _town_with(town, area_days: str, target: str, remarks: str = ""):
    from chatbot.services import garbage_import

    files = {"area_days.csv": area_days.encode(), "target.csv": target.encode()}
    if remarks:
        files["remarks.csv"] = remarks.encode()
    garbage_import(municipality=town, files=files)


def test_item_under_two_categories_answers_both(town, resident):
    from chatbot import line_handlers

    _town_with(town, "地名,可燃ごみ,資源\n東町,月,水\n", "label,name\n可燃ごみ,紙コップ\n資源,紙コップ\n")
    reply = line_handlers._match_answer(resident, get_index(town.pk), "紙コップは？")
    assert "【可燃ごみ】" in reply[0]["text"] and "【資源】" in reply[0]["text"]


def test_next_collection_mentions_the_rule_and_its_remark(town, resident):
    from chatbot import line_handlers
    from municipalities.models import Area
    from municipalities.services import resident_update_preferences

    _town_with(
        town,
        "地名,燃やすごみ,びん\n東町,月 木,水2 *1\n",
        "label,name\nびん,一升びん\n",
        "ID,注意事項\n1,祝日は収集しません。\n",
    )
    resident_update_preferences(resident=resident, area=Area.objects.get(municipality=town, name="東町"))
    resident.refresh_from_db()
    reply = line_handlers._collection_answer(resident, get_index(town.pk), "次のびんの日は？")
    text = reply[0]["text"]
    assert "【びん】" in text and "第2 水曜日" in text and "※ 祝日は収集しません。" in text
