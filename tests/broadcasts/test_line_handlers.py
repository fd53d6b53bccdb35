"""The 受信設定 flow in the chat: text keyword, quick replies, postbacks."""

from __future__ import annotations

from broadcasts import line_handlers
from municipalities.line import dispatch
from municipalities.line.dispatch import InboundContext


def text_event(text: str) -> dict:
    return {"type": "message", "message": {"type": "text", "text": text}, "source": {"userId": "U"}}


def postback_event(data: str) -> dict:
    return {"type": "postback", "postback": {"data": data}, "source": {"userId": "U"}}


def labels(reply: list[dict]) -> list[str]:
    return [item["action"]["label"] for item in reply[-1]["quickReply"]["items"]]


def test_handlers_are_registered():
    assert dispatch.postback_handler("bc:menu") is line_handlers.on_postback
    assert line_handlers.on_text in dispatch.text_handlers()


def test_keyword_shows_settings_with_quick_replies(town, resident, interests):
    # given: full-width spaces and width variants are normalised
    ctx = InboundContext(municipality=town, resident=resident, event=text_event("受信　設定"))
    # when
    reply = line_handlers.on_text(ctx)
    # then
    assert "【受信設定】" in reply[0]["text"]
    assert labels(reply)[:4] == ["＋子育て", "＋健康", "＋防災", "＋ごみ"]
    assert "画面で設定" in labels(reply)
    assert len(reply[0]["quickReply"]["items"]) <= 13


def test_other_text_is_not_ours(town, resident):
    assert (
        line_handlers.on_text(
            InboundContext(municipality=town, resident=resident, event=text_event("明日のごみは？"))
        )
        is None
    )


def test_postback_toggles_an_interest(town, resident, interests):
    ctx = InboundContext(
        municipality=town, resident=resident, event=postback_event(f"bc:t:{interests['bosai'].pk}")
    )
    reply = line_handlers.on_postback(ctx)
    assert "「防災」のお知らせを受け取ります" in reply[0]["text"]
    assert list(resident.interests.all()) == [interests["bosai"]]
    assert "✓防災" in labels(reply)
    # and a second tap turns it off
    line_handlers.on_postback(ctx)
    assert not resident.interests.exists()


def test_area_and_age_band_by_quick_reply(town, resident, areas):
    reply = line_handlers.on_postback(
        InboundContext(municipality=town, resident=resident, event=postback_event("bc:areas"))
    )
    assert labels(reply) == ["本町", "東区", "西区", "選ばない"]
    line_handlers.on_postback(
        InboundContext(municipality=town, resident=resident, event=postback_event(f"bc:a:{areas['西区'].pk}"))
    )
    line_handlers.on_postback(
        InboundContext(municipality=town, resident=resident, event=postback_event("bc:g:70p"))
    )
    resident.refresh_from_db()
    assert (resident.area, resident.age_band) == (areas["西区"], "70p")


def test_pause_and_resume(town, resident):
    reply = line_handlers.on_postback(
        InboundContext(municipality=town, resident=resident, event=postback_event("bc:p:1"))
    )
    resident.refresh_from_db()
    assert resident.notices_paused
    assert "お知らせを再開" in labels(reply)


def test_another_towns_area_changes_nothing(town, other_town, resident):
    from municipalities.models import Area

    foreign = Area.objects.create(municipality=other_town, name="よそ")
    line_handlers.on_postback(
        InboundContext(municipality=town, resident=resident, event=postback_event(f"bc:a:{foreign.pk}"))
    )
    resident.refresh_from_db()
    assert resident.area is None


def test_a_town_with_many_districts_is_sent_to_the_page(town, resident):
    from municipalities.models import Area

    Area.objects.bulk_create(Area(municipality=town, name=f"地区{n}") for n in range(20))
    reply = line_handlers.on_postback(
        InboundContext(municipality=town, resident=resident, event=postback_event("bc:areas"))
    )
    assert "設定画面" in reply[0]["text"]
    assert reply[0]["quickReply"]["items"][0]["action"]["type"] == "uri"
