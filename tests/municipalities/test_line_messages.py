"""Message builders and LINE's limits, checked before anything is sent."""

from __future__ import annotations

import json

import pytest

from municipalities.line import messages as m
from municipalities.line.errors import LineMessageInvalid
from tests.fakeline import validate_body


def test_every_builder_makes_a_message_lines_schema_accepts():
    link = m.uri_action("開く", "https://cms.example.jp/r/abc/")
    built = [
        m.text(
            "こんにちは",
            quick_reply=[m.quick_reply_item(m.postback_action("はい", "app:yes", display_text="はい"))],
        ),
        m.image("https://cms.example.jp/a.jpg"),
        m.buttons(
            "本文",
            [link, m.message_action("送る", "送る")],
            alt_text="ボタン",
            title="題名",
            image_url="https://cms.example.jp/t.jpg",
        ),
        m.confirm(
            "よろしいですか？",
            m.message_action("はい", "はい"),
            m.message_action("いいえ", "いいえ"),
            alt_text="確認",
        ),
        m.flex_card(
            title="お知らせ",
            body="本文",
            fields=[("日時", "6月1日")],
            link=link,
            actions=[m.postback_action("取消", "a:1")],
            alt_text="お知らせ",
            image_url="https://cms.example.jp/h.jpg",
        ),
        m.text_with_button(
            "予約が確定しました。\n\n■ 健診\n\n変更・キャンセルはこちらから:",
            "予約を見る",
            "https://cms.example.jp/r/abc/",
            alt_text="予約が確定しました。",
            quick_reply=[
                m.quick_reply_item(m.postback_action("予約確認", "rsv:my", display_text="予約確認"))
            ],
        ),
    ]
    for batch in (built[: m.MAX_MESSAGES_PER_REQUEST], built[m.MAX_MESSAGES_PER_REQUEST :]):
        m.validate_messages(batch)
        validate_body("PushMessageRequest", {"to": "U" + "a" * 32, "messages": batch})


def test_text_is_counted_in_utf16_units():
    assert m.utf16_len("あ") == 1 and m.utf16_len("😀") == 2
    m.validate_messages([m.text("😀" * 2500)])
    with pytest.raises(LineMessageInvalid):
        m.validate_messages([m.text("😀" * 2500 + "a")])


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [m.text("x")] * 6,
        [m.text("x", quick_reply=[m.quick_reply_item(m.message_action("a", "a"))] * 14)],
        [m.text("x", quick_reply=[m.quick_reply_item(m.postback_action("a", "p:" + "x" * 299))])],
        [{"type": "template", "template": {"type": "confirm", "text": "x", "actions": []}}],
        [{"type": "flex", "altText": "", "contents": {}}],
        [
            {
                "type": "template",
                "altText": "a",
                "template": {"type": "confirm", "text": "x", "actions": [m.message_action("a", "a")]},
            }
        ],
        [
            {
                "type": "template",
                "altText": "a",
                "template": {"type": "buttons", "text": "x", "actions": [m.message_action("a", "a")] * 5},
            }
        ],
        [{"type": "image", "originalContentUrl": "https://x/a.jpg"}],
        [
            m.flex_card(
                title="t", alt_text="a", link={"type": "postback", "label": "l", "data": "p:" + "y" * 300}
            )
        ],
    ],
)
def test_limits_are_enforced(messages):
    with pytest.raises(LineMessageInvalid):
        m.validate_messages(messages)


def test_alt_text_is_required_by_the_builders():
    with pytest.raises(LineMessageInvalid):
        m.buttons("x", [m.message_action("a", "a")], alt_text="")
    with pytest.raises(LineMessageInvalid):
        m.confirm("x", m.message_action("a", "a"), m.message_action("b", "b"), alt_text="")
    with pytest.raises(LineMessageInvalid):
        m.flex_card(title="x", alt_text="")


def test_labels_are_cut_to_lines_limit():
    assert len(m.postback_action("あ" * 30, "p:1")["label"]) == 20


def test_text_with_button_shows_the_text_and_puts_the_link_in_its_button():
    # when
    message = m.text_with_button("見出し\n\n本文", "開く", "https://cms.example.jp/r/abc/", alt_text="見出し")
    # then: the first line is the title, the rest the text, and the URL only in the button
    assert [c["text"] for c in message["contents"]["body"]["contents"]] == ["見出し", "本文"]
    [button] = message["contents"]["footer"]["contents"]
    assert button["action"] == {"type": "uri", "label": "開く", "uri": "https://cms.example.jp/r/abc/"}
    assert "quickReply" not in message


def test_text_with_button_keeps_a_long_text_within_a_bubbles_30_kb():
    # given: LINE's SDK sends JSON with every non-ASCII UTF-16 unit escaped (6 bytes)
    message = m.text_with_button("😀" * 5000, "開く", "https://cms.example.jp/r/abc/", alt_text="長い")
    # then
    assert m.utf16_len(message["contents"]["body"]["contents"][0]["text"]) == m.MAX_FLEX_TEXT_UTF16
    assert len(json.dumps(message["contents"])) < 30_000
    m.validate_messages([message])


def test_the_talk_log_shows_a_cards_text_and_buttons_not_only_its_alt_text():
    card = m.text_with_button(
        "これからの予約（1 件）\n集団健診\n変更・キャンセルはこちら:",
        "予約を見る",
        "https://town.example/r/token/",
        alt_text="これからの予約（1 件）",
        quick_reply=[m.quick_reply_item(m.message_action("予約する", "予約する"))],
    )
    assert m.summary(card) == "これからの予約（1 件）\n集団健診\n変更・キャンセルはこちら:\n［予約を見る］"
    buttons = m.buttons("どちらの会場にしますか？", [m.message_action("本庁", "本庁")], alt_text="会場の選択")
    assert m.summary(buttons) == "どちらの会場にしますか？\n［本庁］"
    titled = m.buttons(
        "地区を選んでください。",
        [m.message_action("受信設定", "受信設定")],
        alt_text="受信設定",
        title="受信設定",
    )
    assert m.summary(titled) == "受信設定\n地区を選んでください。\n［受信設定］"
    assert m.summary(m.text("こんにちは")) == "こんにちは"
    assert m.summary(m.image("https://town.example/a.png")) == "[image]"
