"""「施設予約」 and 「施設の予約確認」 in LINE (through the real signed webhook, simulator backend),
the rich-menu destinations, and the 16 px floor of the facility pages' styles."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django.urls import reverse

from municipalities.line import destinations
from municipalities.models import SimulatedDelivery
from tests.conftest import link_button, resident_client, shown_text
from tests.facilities.factories import next_weekday
from tests.facilities.helpers import book
from tests.fakeline import post_webhook, webhook_event
from tests.municipalities.test_resident_font_sizes import _too_small

pytestmark = pytest.mark.django_db
_ids = itertools.count()


def _send(client, town, capture, resident, **event) -> list[dict]:
    n = next(_ids)
    kind = "postback" if "data" in event else "message"
    payload = webhook_event(
        kind, resident.line_user_id, event_id=f"FAC{n:023d}", reply_token=f"fac{n}", **event
    )
    with capture(execute=True):
        assert post_webhook(client, town, payload).status_code == 200
    return [m for d in SimulatedDelivery.objects.filter(endpoint="reply").order_by("pk") for m in d.messages]


def test_shisetsu_yoyaku_offers_each_facility_and_the_bookings(
    client, town, world, resident, django_capture_on_commit_callbacks
):
    replies = _send(client, town, django_capture_on_commit_callbacks, resident, text="施設 予約")
    answer = replies[-1]
    labels = [i["action"]["label"] for i in answer["quickReply"]["items"]]
    assert world.facility.name in labels and "施設の予約確認" in labels
    assert link_button(answer)[0] == "施設の一覧"


def test_the_bookings_are_listed_with_their_payment_state(
    client, town, world, resident, django_capture_on_commit_callbacks
):
    booking = book(world.arena, world.morning, next_weekday(2), resident, payment_method="counter")
    replies = _send(client, town, django_capture_on_commit_callbacks, resident, data="fac:my")
    text = shown_text(replies[-1])
    assert booking.code in text and "未払い" in text and world.facility.name in text
    assert link_button(replies[-1]) == ("予約を見る", "/liff/facilities/my/")


def test_yoyaku_kakunin_lists_the_facility_bookings_beside_the_checkups(
    client, town, world, resident, django_capture_on_commit_callbacks
):
    # given: a facility booking and no checkup booked
    booking = book(world.arena, world.morning, next_weekday(2), resident, payment_method="counter")
    # when: the resident asks 「予約確認」 (answered by the reservations app)
    replies = _send(client, town, django_capture_on_commit_callbacks, resident, text="予約確認")
    # then: the facility booking is there under its own heading, with a way to its page
    text = shown_text(replies[-1])
    assert "施設の予約" in text and world.facility.name in text and "未払い" in text
    labels = [i["action"]["label"] for i in replies[-1]["quickReply"]["items"]]
    assert "施設の予約" in labels
    # and: the 予約確認 page lists it too, linking to the facility bookings
    page = resident_client(resident).get(reverse("reservations:my_list")).content.decode()
    assert world.facility.name in page and 'href="/liff/facilities/my/"' in page
    assert booking.code not in page  # the line says when and where; the code is on its own page


def test_no_booking_yet(client, town, world, resident, django_capture_on_commit_callbacks):
    replies = _send(client, town, django_capture_on_commit_callbacks, resident, text="施設の予約確認")
    assert "これからの施設予約はありません" in shown_text(replies[-1])


def test_the_pages_are_offered_to_rich_menu_tiles(world):
    assert destinations.path_for("facilities.list") == "/liff/facilities/"
    assert (
        destinations.path_for("facilities.list", world.facility.pk)
        == f"/liff/facilities/{world.facility.pk}/"
    )
    assert destinations.path_for("facilities.mine") == "/liff/facilities/my/"


def test_no_facility_style_is_under_16px():
    root = Path(__file__).resolve().parents[2]
    css = (root / "static/cms/facilities/liff.css").read_text(encoding="utf-8")
    assert _too_small(css) == []
