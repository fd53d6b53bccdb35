"""The simulator's server side: who may use it, and that it talks to the real webhook."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from municipalities.line import messages as m
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.models import Resident, StaffUser, WebhookEvent
from tests.conftest import make_staff

_capture = None


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    # The webhook enqueues processing on commit: run it when each send returns.
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


def send(client, town, **payload):
    with_town = {"municipality": town.pk, **payload}
    with _capture(execute=True):
        return client.post(
            reverse("line:simulator_send"), data=json.dumps(with_town), content_type="application/json"
        )


def talk(client, town, user_id):
    return client.get(reverse("line:simulator_talk"), {"municipality": town.pk, "userId": user_id}).json()


def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client):
    response = client.get(reverse("line:simulator"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_a_role_in_the_town_see_no_town(client, town):
    loner = StaffUser.objects.create_user("loner", "l@example.jp", "x", municipality=town, is_staff=True)
    client.force_login(loner)
    assert "みどり町" not in client.get(reverse("line:simulator")).content.decode()
    assert send(client, town, type="follow").status_code == 404


def test_superusers_see_every_town(client, superuser, town, other_town):
    client.force_login(superuser)
    html = client.get(reverse("line:simulator")).content.decode()
    assert "みどり町" in html and "あおば市" in html


def test_a_new_resident_follows_and_gets_the_greeting(client, town, kenko_editor):
    # given
    client.force_login(kenko_editor)
    # when
    response = send(client, town, type="follow", displayName="新規 住民")
    # then: a signed event went through the webhook
    assert response.status_code == 200
    user_id = response.json()["userId"]
    assert WebhookEvent.objects.get(line_user_id=user_id).event_type == "follow"
    resident = Resident.objects.get(municipality=town, line_user_id=user_id)
    assert resident.display_name == "新規 住民"
    data = talk(client, town, user_id)
    assert data["items"][0]["kind"] == "follow"
    assert [i["message"]["type"] for i in data["items"][1:]] == ["text", "template"]


def test_text_and_postbacks_are_sent_as_the_resident(client, town, town_admin, resident):
    client.force_login(town_admin)
    assert send(client, town, userId=resident.line_user_id, type="text", text="こんにちは").status_code == 200
    assert (
        send(
            client, town, userId=resident.line_user_id, type="postback", data="x:1", displayText="はい"
        ).status_code
        == 200
    )
    kinds = list(WebhookEvent.objects.order_by("pk").values_list("event_type", flat=True))
    assert kinds == ["message", "postback"]
    items = talk(client, town, resident.line_user_id)["items"]
    user_items = [i for i in items if i["side"] == "user"]
    assert [(i["kind"], i.get("displayText")) for i in user_items] == [("text", None), ("postback", "はい")]


def test_bad_input_is_a_clear_message(client, town, town_admin, resident):
    client.force_login(town_admin)
    assert (
        send(client, town, userId=resident.line_user_id, type="text", text="  ").json()["message"]
        == "メッセージを入力してください。"
    )
    assert send(client, town, userId=resident.line_user_id, type="dance").status_code == 400
    assert send(client, town, userId="U" + "0" * 32, type="text", text="x").status_code == 404


def test_multicasts_from_broadcasts_show_in_the_talk(client, town, town_admin, resident, other_resident):
    # given: a multicast recorded by the simulator backend (as a broadcast fan-out does)
    client.force_login(town_admin)
    get_line_client(town).multicast(
        [resident.line_user_id, other_resident.line_user_id],
        [m.text("防災訓練のお知らせ")],
        retry_key=retry_key_for("t", 1),
    )
    # then
    items = talk(client, town, resident.line_user_id)["items"]
    assert items[-1]["endpoint"] == "multicast" and items[-1]["message"]["text"] == "防災訓練のお知らせ"


def test_another_towns_resident_is_not_reachable(client, town, other_town, town_admin):
    from municipalities.services import resident_follow

    aoba, _ = resident_follow(municipality=other_town, line_user_id="U" + "c" * 32)
    client.force_login(town_admin)
    assert (
        client.get(
            reverse("line:simulator_talk"), {"municipality": other_town.pk, "userId": aoba.line_user_id}
        ).status_code
        == 404
    )
    assert (
        client.get(
            reverse("line:simulator_talk"), {"municipality": town.pk, "userId": aoba.line_user_id}
        ).status_code
        == 404
    )


def test_the_simulator_refuses_to_send_when_the_backend_is_real_line(client, town, town_admin, settings):
    settings.LINE_USES_SIMULATOR = False
    client.force_login(town_admin)
    assert send(client, town, type="follow").status_code == 409
    assert WebhookEvent.objects.count() == 0


def test_a_staff_member_of_the_town_with_any_role_may_use_it(client, town, kenko):
    viewer = make_staff("viewer2", town, "viewer", kenko)
    client.force_login(viewer)
    assert "みどり町" in client.get(reverse("line:simulator")).content.decode()


def test_a_datetime_picker_answer_arrives_as_postback_params(client, town, town_admin, resident):
    client.force_login(town_admin)
    response = send(
        client,
        town,
        userId=resident.line_user_id,
        type="postback",
        data="rsv:pick",
        params={"date": "2026-06-01"},
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["postback"] == {
        "data": "rsv:pick",
        "params": {"date": "2026-06-01"},
    }
