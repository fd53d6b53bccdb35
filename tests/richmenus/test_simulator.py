"""The simulator shows the published menu under the talk (its image, areas and actions, the tabs
it can switch to), follows 災害モード, and sends a location for the shelters."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from municipalities.services import resident_follow, resident_simulated_create
from richmenus.models import RichMenu, RichMenuTile
from richmenus.services import disaster_mode_apply, disaster_mode_switch, richmenu_line_sync
from tests.richmenus.factories import DISASTER_TILES, make_menu, make_shelter

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, town_admin):
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    return client


@pytest.fixture
def practice(town):
    created = resident_simulated_create(municipality=town, display_name="練習 花子", actor=None)
    resident, _ = resident_follow(municipality=town, line_user_id=created.line_user_id)
    return resident


def talk(client, town, user_id) -> dict:
    response = client.get(reverse("line:simulator_talk"), {"municipality": town.pk, "userId": user_id})
    assert response.status_code == 200
    return response.json()


def test_published_menu_is_drawn_under_the_talk(staff, town, practice):
    # given no menu yet
    assert talk(staff, town, practice.line_user_id)["richMenu"] is None
    # when the default menu with a tab is published
    tab = make_menu(town, name="タブ2", alias="tab-2")
    richmenu_line_sync(menu_id=tab.pk)
    menu = make_menu(town, is_default=True)
    RichMenuTile.objects.filter(menu=menu, position=6).update(
        action=RichMenuTile.Action.SWITCH, switch_to=tab
    )
    richmenu_line_sync(menu_id=menu.pk)
    # then the talk carries it: image, chat bar, six areas with their actions, and the tab
    data = talk(staff, town, practice.line_user_id)
    shown = data["richMenu"]
    menu.refresh_from_db()
    assert shown["id"] == menu.line_rich_menu_id
    assert shown["chatBarText"] == "メニュー" and len(shown["areas"]) == 6
    assert shown["areas"][2]["action"] == {"type": "message", "label": "ごみ", "text": "明日のごみは？"}
    assert shown["areas"][5]["action"]["type"] == "richmenuswitch"
    assert "tab-2" in data["richMenuAliases"]
    image = staff.get(shown["imageUrl"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_disaster_mode_switches_the_simulators_menu_and_back(staff, town, practice):
    richmenu_line_sync(menu_id=make_menu(town, is_default=True).pk)
    make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    normal = talk(staff, town, practice.line_user_id)["richMenu"]["id"]
    disaster_mode_apply(
        mode_id=disaster_mode_switch(municipality=town, on=True, actor=None, enqueue=False).pk
    )
    shown = talk(staff, town, practice.line_user_id)["richMenu"]
    assert shown["id"] == RichMenu.objects.get(kind="disaster").line_rich_menu_id
    assert shown["areas"][0]["action"]["text"] == "避難所"
    disaster_mode_apply(
        mode_id=disaster_mode_switch(municipality=town, on=False, actor=None, enqueue=False).pk
    )
    assert talk(staff, town, practice.line_user_id)["richMenu"]["id"] == normal


def test_sending_a_location_answers_the_shelters(staff, town, practice, django_capture_on_commit_callbacks):
    make_shelter(town, name="中央小学校", status="open")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("line:simulator_send"),
            data=json.dumps(
                {
                    "municipality": town.pk,
                    "userId": practice.line_user_id,
                    "type": "location",
                    "latitude": "35.001",
                    "longitude": "135.0",
                }
            ),
            content_type="application/json",
        )
    assert response.status_code == 200
    items = talk(staff, town, practice.line_user_id)["items"]
    carousel = [i for i in items if i["side"] == "bot" and i["message"].get("type") == "flex"][-1]
    assert "中央小学校" in json.dumps(carousel["message"], ensure_ascii=False)


def test_another_towns_menu_image_is_a_404(staff, town, other_town):
    menu = make_menu(other_town, is_default=True)
    richmenu_line_sync(menu_id=menu.pk)
    menu.refresh_from_db()
    url = reverse("line:simulator_richmenu_image", kwargs={"rich_menu_id": menu.line_rich_menu_id})
    assert staff.get(url, {"municipality": town.pk}).status_code == 404
    assert staff.get(url, {"municipality": other_town.pk}).status_code in (403, 404)
