"""The simulator's server side: who may use it, as whom, and that it talks to the real webhook."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from municipalities.errors import MunicipalityError
from municipalities.line import messages as m
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.liff import SESSION_KEY, resident_token
from municipalities.models import AuditEntry, Resident, Role, StaffUser, WebhookEvent
from municipalities.services import resident_follow, resident_simulated_create, resident_unfollow
from tests.conftest import make_staff

_capture = None


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    # The webhook enqueues processing on commit: run it when each send returns.
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


def simulated_resident(town, name: str) -> Resident:
    """A resident the simulator created, who then added the account (as its follow event does)."""
    created = resident_simulated_create(municipality=town, display_name=name, actor=None)
    resident, _ = resident_follow(municipality=town, line_user_id=created.line_user_id)
    return resident


@pytest.fixture
def simulated(town) -> Resident:
    return simulated_resident(town, "練習 花子")


@pytest.fixture
def other_simulated(town) -> Resident:
    return simulated_resident(town, "練習 一郎")


def send(client, town, **payload):
    with_town = {"municipality": town.pk, **payload}
    with _capture(execute=True):
        return client.post(
            reverse("line:simulator_send"), data=json.dumps(with_town), content_type="application/json"
        )


def talk(client, town, user_id):
    return client.get(reverse("line:simulator_talk"), {"municipality": town.pk, "userId": user_id}).json()


def open_page(client, town, user_id, next_path):
    return client.post(
        reverse("line:simulator_open"), {"municipality": town.pk, "userId": user_id, "next": next_path}
    )


def every_simulator_request(client, town, user_id):
    """One request to each simulator URL, for ``user_id`` in ``town``: {name: response}."""
    return {
        "page": client.get(reverse("line:simulator")),
        "residents": client.get(reverse("line:simulator_residents"), {"municipality": town.pk}),
        "send-text": send(client, town, userId=user_id, type="text", text="申請状況"),
        "send-unfollow": send(client, town, userId=user_id, type="unfollow"),
        "send-follow-new": send(client, town, type="follow", displayName="新規"),
        "talk": client.get(reverse("line:simulator_talk"), {"municipality": town.pk, "userId": user_id}),
        "open": open_page(client, town, user_id, reverse("line:receive_settings")),
    }


# --- who may use it --------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client):
    response = client.get(reverse("line:simulator"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_a_role_in_the_town_are_refused(client, town):
    loner = StaffUser.objects.create_user("loner", "l@example.jp", "x", municipality=town, is_staff=True)
    client.force_login(loner)
    response = client.get(reverse("line:simulator"))
    assert response.status_code == 403
    assert "みどり町" not in response.content.decode()
    assert send(client, town, type="follow").status_code == 404


def test_superusers_see_every_town(client, superuser, town, other_town):
    client.force_login(superuser)
    html = client.get(reverse("line:simulator")).content.decode()
    assert "みどり町" in html and "あおば市" in html


def test_a_department_head_may_use_it(client, town, kenko_head, simulated):
    # given
    client.force_login(kenko_head)
    # when
    page = client.get(reverse("line:simulator"))
    residents = client.get(reverse("line:simulator_residents"), {"municipality": town.pk}).json()
    # then
    assert page.status_code == 200 and "みどり町" in page.content.decode()
    assert [r["userId"] for r in residents["residents"]] == [simulated.line_user_id]


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_get_nothing_from_any_simulator_url(client, town, kenko, simulated, role):
    # given: a member of 健康福祉課 without the simulator permission
    client.force_login(make_staff("no_sim", town, role, kenko))
    # when
    responses = every_simulator_request(client, town, simulated.line_user_id)
    # then: the page is forbidden, the town's data is not found, nothing was sent
    assert {name: r.status_code for name, r in responses.items()} == {
        "page": 403,
        "residents": 404,
        "send-text": 404,
        "send-unfollow": 404,
        "send-follow-new": 404,
        "talk": 404,
        "open": 404,
    }
    assert WebhookEvent.objects.count() == 0
    assert Resident.objects.filter(municipality=town).count() == 1
    assert SESSION_KEY not in client.session


def test_the_admin_shows_the_simulator_link_only_to_those_who_may_use_it(
    client, town, kenko_head, kenko_editor
):
    client.force_login(kenko_head)
    assert "シミュレーターを開く" in client.get(reverse("admin:index")).content.decode()
    client.force_login(kenko_editor)
    assert "シミュレーターを開く" not in client.get(reverse("admin:index")).content.decode()


# --- only simulated residents ----------------------------------------------------------------


def test_a_new_resident_is_a_simulated_one_and_gets_the_greeting(client, town, kenko_head):
    # given
    client.force_login(kenko_head)
    # when
    response = send(client, town, type="follow", displayName="新規 住民")
    # then: a simulated resident (never a real LINE user id), whose signed follow went through the webhook
    assert response.status_code == 200
    user_id = response.json()["userId"]
    assert re.fullmatch(r"U[0-9a-f]{32}", user_id)
    assert WebhookEvent.objects.get(line_user_id=user_id).event_type == "follow"
    resident = Resident.objects.get(municipality=town, line_user_id=user_id)
    assert resident.display_name == "新規 住民"
    assert resident.is_simulated and resident.is_following
    data = talk(client, town, user_id)
    assert data["items"][0]["kind"] == "follow"
    assert [i["message"]["type"] for i in data["items"][1:]] == ["text", "template"]
    entry = AuditEntry.objects.get(action="municipalities.resident.created", object_id=str(resident.pk))
    assert entry.actor == kenko_head and entry.data["simulated"] is True


def test_following_again_and_blocking_keep_the_simulated_flag(client, town, town_admin, simulated, resident):
    # given
    client.force_login(town_admin)
    # when: the simulated resident blocks and adds the account again; a real one follows again
    assert send(client, town, userId=simulated.line_user_id, type="unfollow").status_code == 200
    assert send(client, town, userId=simulated.line_user_id, type="follow").status_code == 200
    resident_unfollow(municipality=town, line_user_id=resident.line_user_id)
    resident_follow(municipality=town, line_user_id=resident.line_user_id)
    # then
    simulated.refresh_from_db()
    resident.refresh_from_db()
    assert simulated.is_simulated and simulated.is_following
    assert not resident.is_simulated


def test_a_real_resident_cannot_be_listed_messaged_unfollowed_or_read(client, town, town_admin, resident):
    # given: a real LINE user of the town, and a 自治体管理者 in the simulator
    client.force_login(town_admin)
    # when
    responses = every_simulator_request(client, town, resident.line_user_id)
    # then
    assert responses["page"].status_code == 200
    assert resident.line_user_id not in responses["residents"].content.decode()
    assert "山田" not in responses["residents"].content.decode()
    for name in ["send-text", "send-unfollow", "talk", "open"]:
        assert responses[name].status_code == 404, name
        assert resident.line_user_id not in responses[name].content.decode(), name
    assert send(client, town, userId=resident.line_user_id, type="follow").status_code == 404
    assert not WebhookEvent.objects.filter(line_user_id=resident.line_user_id).exists()
    resident.refresh_from_db()
    assert resident.is_following
    assert SESSION_KEY not in client.session


def test_the_service_refuses_staff_without_the_permission(town, kenko_editor, town_admin):
    with pytest.raises(MunicipalityError):
        resident_simulated_create(municipality=town, display_name="x", actor=kenko_editor)
    assert not Resident.objects.exists()
    created = resident_simulated_create(municipality=town, display_name="", actor=town_admin)
    assert created.is_simulated and not created.is_following
    assert created.display_name == f"テスト住民{created.line_user_id[-4:]}"


def test_text_and_postbacks_are_sent_as_the_resident(client, town, town_admin, simulated):
    client.force_login(town_admin)
    assert (
        send(client, town, userId=simulated.line_user_id, type="text", text="こんにちは").status_code == 200
    )
    assert (
        send(
            client, town, userId=simulated.line_user_id, type="postback", data="x:1", displayText="はい"
        ).status_code
        == 200
    )
    kinds = list(WebhookEvent.objects.order_by("pk").values_list("event_type", flat=True))
    assert kinds == ["message", "postback"]
    items = talk(client, town, simulated.line_user_id)["items"]
    user_items = [i for i in items if i["side"] == "user"]
    assert [(i["kind"], i.get("displayText")) for i in user_items] == [("text", None), ("postback", "はい")]


def test_bad_input_is_a_clear_message(client, town, town_admin, simulated):
    client.force_login(town_admin)
    assert (
        send(client, town, userId=simulated.line_user_id, type="text", text="  ").json()["message"]
        == "メッセージを入力してください。"
    )
    assert send(client, town, userId=simulated.line_user_id, type="dance").status_code == 400
    assert send(client, town, userId="U" + "0" * 32, type="text", text="x").status_code == 404


def test_multicasts_from_broadcasts_show_in_the_talk(client, town, town_admin, simulated, other_simulated):
    # given: a multicast recorded by the simulator backend (as a broadcast fan-out does)
    client.force_login(town_admin)
    get_line_client(town).multicast(
        [simulated.line_user_id, other_simulated.line_user_id],
        [m.text("防災訓練のお知らせ")],
        retry_key=retry_key_for("t", 1),
    )
    # then
    items = talk(client, town, simulated.line_user_id)["items"]
    assert items[-1]["endpoint"] == "multicast" and items[-1]["message"]["text"] == "防災訓練のお知らせ"


def test_another_towns_resident_is_not_reachable(client, town, other_town, town_admin):
    aoba = simulated_resident(other_town, "あおば 練習")
    client.force_login(town_admin)
    for municipality in [other_town, town]:
        response = client.get(
            reverse("line:simulator_talk"), {"municipality": municipality.pk, "userId": aoba.line_user_id}
        )
        assert response.status_code == 404
        assert open_page(client, municipality, aoba.line_user_id, "/liff/settings/").status_code == 404


def test_a_datetime_picker_answer_arrives_as_postback_params(client, town, town_admin, simulated):
    client.force_login(town_admin)
    response = send(
        client,
        town,
        userId=simulated.line_user_id,
        type="postback",
        data="rsv:pick",
        params={"date": "2026-06-01"},
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["postback"] == {
        "data": "rsv:pick",
        "params": {"date": "2026-06-01"},
    }


# --- refused entirely with the real LINE backend ---------------------------------------------


def test_with_the_real_line_backend_every_simulator_url_is_not_found(client, town, town_admin, settings):
    # given: a simulated resident, and the real LINE backend
    simulated = simulated_resident(town, "練習 花子")
    settings.LINE_BACKEND = "api"
    settings.LINE_USES_SIMULATOR = False
    client.force_login(town_admin)
    # when
    responses = every_simulator_request(client, town, simulated.line_user_id)
    # then: 404 everywhere, no resident data, nothing sent, nobody signed in
    for name, response in responses.items():
        assert response.status_code == 404, name
        body = response.content.decode()
        assert simulated.line_user_id not in body and "練習" not in body, name
    assert WebhookEvent.objects.count() == 0
    assert SESSION_KEY not in client.session
    assert "シミュレーターを開く" not in client.get(reverse("admin:index")).content.decode()


def test_with_the_real_line_backend_even_anonymous_visitors_get_not_found(client, settings):
    settings.LINE_BACKEND = "api"
    settings.LINE_USES_SIMULATOR = False
    assert client.get(reverse("line:simulator")).status_code == 404


# --- emulated LIFF sign-in -------------------------------------------------------------------


def test_opening_a_page_signs_the_simulated_resident_in(client, town, kenko_head, simulated):
    # given
    client.force_login(kenko_head)
    # when
    response = open_page(client, town, simulated.line_user_id, "/liff/settings/?tab=1")
    # then: redirected to the page, signed in as the simulated resident
    assert response.status_code == 302
    assert response["Location"] == "/liff/settings/?tab=1"
    assert client.session[SESSION_KEY] == simulated.pk
    shown = client.get(response["Location"], follow=True)
    assert shown.status_code == 200 and "ログインが必要です" not in shown.content.decode()


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/liff/settings/",
        "//evil.example/liff/settings/",
        "/\\evil.example/",
        "liff/settings/",
        "",
        "javascript:alert(1)",
    ],
)
def test_opening_refuses_a_page_off_this_site(client, town, kenko_head, simulated, next_path):
    client.force_login(kenko_head)
    response = open_page(client, town, simulated.line_user_id, next_path)
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_opening_never_spends_a_sign_in_link(client, town, kenko_head, simulated, resident):
    # given: a signed link of a real resident
    client.force_login(kenko_head)
    link = reverse("line:resident_link", kwargs={"token": resident_token(resident, "/liff/settings/")})
    # when
    response = open_page(client, town, simulated.line_user_id, link)
    # then
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_opening_is_a_post(client, town, kenko_head, simulated):
    client.force_login(kenko_head)
    response = client.get(
        reverse("line:simulator_open"),
        {"municipality": town.pk, "userId": simulated.line_user_id, "next": "/liff/settings/"},
    )
    assert response.status_code == 405
    assert SESSION_KEY not in client.session
