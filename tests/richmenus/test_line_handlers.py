"""What residents get through the webhook (simulator backend): tile postbacks counted and
answered, 「避難所」 and a location message answered with the nearest open shelters, the disaster
notice at follow and before the bot's fallback."""

from __future__ import annotations

import pytest
from django.utils import timezone

from municipalities.models import SimulatedDelivery
from richmenus.models import DisasterMode, RichMenuTap, RichMenuTile, Shelter, ShelterStatus
from tests.fakeline import post_webhook, webhook_body, webhook_event
from tests.richmenus.factories import make_menu, make_shelter

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(town, event):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, town, body=webhook_body(event))
        assert response.status_code == 200

    return send


def last_reply(user_id: str) -> list[dict]:
    row = SimulatedDelivery.objects.filter(line_user_id=user_id, endpoint="reply").order_by("-pk").first()
    assert row is not None, "no reply"
    return row.messages


def location_event(user_id: str, lat: float, lon: float) -> dict:
    event = webhook_event("message", user_id)
    event["message"] = {
        "id": "1",
        "type": "location",
        "latitude": lat,
        "longitude": lon,
        "address": "みどり町",
    }
    return event


def test_feature_tile_without_liff_answers_a_sign_in_button_and_counts(town, resident, post):
    # given the published-menu tile 予約 (a town without a LIFF app: a postback tile)
    menu = make_menu(town)
    tile = RichMenuTile.objects.get(menu=menu, position=1)
    # when the resident taps it twice
    for _ in range(2):
        post(town, webhook_event("postback", resident.line_user_id, data=f"rm:t:{tile.pk}"))
    # then the bot answers a card with a button to the booking menus, and the taps are counted
    [card] = last_reply(resident.line_user_id)
    assert card["type"] == "flex"
    assert RichMenuTap.objects.get(tile=tile, day=timezone.localdate()).count == 2


def test_staff_postback_is_counted_and_forwarded(town, resident, post):
    menu = make_menu(town)
    tile = RichMenuTile.objects.get(menu=menu, position=5)  # お知らせ: postback "bc:settings"
    post(town, webhook_event("postback", resident.line_user_id, data=f"rm:t:{tile.pk}"))
    assert RichMenuTap.objects.get(tile=tile).count == 1


def test_another_towns_tile_is_not_used(town, other_town, resident, post):
    tile = RichMenuTile.objects.filter(menu=make_menu(other_town)).first()
    post(town, webhook_event("postback", resident.line_user_id, data=f"rm:t:{tile.pk}"))
    assert "使えません" in last_reply(resident.line_user_id)[0]["text"]
    assert not RichMenuTap.objects.exists()


def test_shelter_word_asks_for_the_location(town, resident, post):
    post(town, webhook_event("message", resident.line_user_id, text="避難所"))
    [message] = last_reply(resident.line_user_id)
    assert message["quickReply"]["items"][0]["action"]["type"] == "location"


def test_location_answers_open_shelters_first_nearest_first(town, resident, post):
    # given a full shelter next door, an open one 1 km away, a crowded one 2 km away
    near_full = make_shelter(town, name="満の避難所", latitude="35.000100", longitude="135.000000")
    make_shelter(town, name="開設の避難所", latitude="35.009000", longitude="135.000000")
    make_shelter(town, name="混雑の避難所", latitude="35.018000", longitude="135.000000")
    make_shelter(town, name="座標のない避難所", latitude=None, longitude=None)
    Shelter.objects.filter(name="満の避難所").update(status=ShelterStatus.FULL)
    Shelter.objects.filter(name="開設の避難所").update(status=ShelterStatus.OPEN)
    Shelter.objects.filter(name="混雑の避難所").update(status=ShelterStatus.CROWDED)
    # when the resident sends their location
    post(town, location_event(resident.line_user_id, 35.0, 135.0))
    # then open, then crowded, then full (though nearest); nothing without coordinates
    intro, carousel = last_reply(resident.line_user_id)
    names = [b["body"]["contents"][0]["text"] for b in carousel["contents"]["contents"]]
    assert names == ["開設の避難所", "混雑の避難所", near_full.name]
    assert "開設中" in intro["text"]
    first = carousel["contents"]["contents"][0]
    assert first["footer"]["contents"][0]["action"]["uri"].startswith("https://www.google.com/maps/")
    assert "約 1.0 km" in str(first["body"])


def test_location_filters_by_the_disaster_type(town, resident, post):
    make_shelter(town, name="津波の避難所", disaster_types=["tsunami"], status=ShelterStatus.OPEN)
    make_shelter(town, name="洪水の避難所", disaster_types=["flood"], status=ShelterStatus.OPEN)
    DisasterMode.objects.create(municipality=town, is_on=True, disaster_type="tsunami")
    post(town, location_event(resident.line_user_id, 35.0, 135.0))
    _intro, carousel = last_reply(resident.line_user_id)
    assert [b["body"]["contents"][0]["text"] for b in carousel["contents"]["contents"]] == ["津波の避難所"]


def test_follow_during_disaster_mode_tells_about_the_disaster_menu(town, post):
    DisasterMode.objects.create(municipality=town, is_on=True, disaster_type="earthquake")
    post(town, webhook_event("follow", "U" + "f" * 32))
    texts = [msg.get("text", "") for msg in last_reply("U" + "f" * 32)]
    assert any("災害モード" in text and "地震" in text for text in texts)


def test_fallback_answer_is_preceded_by_the_disaster_notice(town, resident, post):
    post(town, webhook_event("message", resident.line_user_id, text="ｘｙｚ何かの質問"))
    assert not any("災害モード" in msg.get("text", "") for msg in last_reply(resident.line_user_id))
    DisasterMode.objects.create(municipality=town, is_on=True)
    post(town, webhook_event("message", resident.line_user_id, text="ｘｙｚ何かの質問"))
    assert "災害モード" in last_reply(resident.line_user_id)[0]["text"]
