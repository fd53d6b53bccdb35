"""Resident sign-in: LIFF ID token (verified at LINE's verify endpoint) and the signed link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from municipalities.line.liff import SESSION_KEY, current_resident, resident_link, resident_token
from tests.fakeline import FakeLine


@pytest.fixture
def fake(settings) -> Iterator[FakeLine]:
    with FakeLine() as server:
        settings.LINE_API_BASE_URL = server.base_url
        settings.LINE_API_TIMEOUT_SECONDS = 5.0
        yield server


def verify(client: Client, town, token: str, next_path: str = "/liff/settings/"):
    return client.post(
        reverse("line:liff_signin", kwargs={"slug": town.slug}), {"id_token": token, "next": next_path}
    )


def test_a_valid_id_token_signs_the_resident_in(client, town, resident, fake):
    # given
    fake.add_id_token("tok-ok", sub=resident.line_user_id, aud=town.line_channel_id)
    # when
    response = verify(client, town, "tok-ok")
    # then
    assert response.status_code == 200
    assert response.json() == {"ok": True, "next": "/liff/settings/"}
    assert client.session[SESSION_KEY] == resident.pk
    [request] = fake.requests_to("verify")
    assert request.body == {"id_token": "tok-ok", "client_id": town.line_channel_id}


def test_the_liff_id_names_the_login_channel(client, town, resident, fake):
    town.liff_id = "2000000001-AbCdEfGh"
    town.save(update_fields=["liff_id"])
    fake.add_id_token("tok-liff", sub=resident.line_user_id, aud="2000000001")
    assert verify(client, town, "tok-liff").status_code == 200


@pytest.mark.parametrize("case", ["unknown", "other_channel", "expired", "not_a_friend", "line_down"])
def test_invalid_tokens_are_refused(client, town, resident, fake, case):
    # given
    if case == "other_channel":
        fake.add_id_token("tok", sub=resident.line_user_id, aud="9999999999")
    elif case == "expired":
        fake.add_id_token("tok", sub=resident.line_user_id, aud=town.line_channel_id, expires_in=-10)
    elif case == "not_a_friend":
        fake.add_id_token("tok", sub="U" + "7" * 32, aud=town.line_channel_id)
    elif case == "line_down":
        fake.add_id_token("tok", sub=resident.line_user_id, aud=town.line_channel_id)
        fake.fail("verify", 500)
    # when
    response = verify(client, town, "tok")
    # then
    assert response.status_code == 403
    assert "ログイン" in response.json()["message"]
    assert SESSION_KEY not in client.session


def test_next_cannot_leave_the_site(client, town, resident, fake):
    fake.add_id_token("tok-ok", sub=resident.line_user_id, aud=town.line_channel_id)
    assert (
        verify(client, town, "tok-ok", next_path="https://evil.example/").json()["next"] == "/liff/settings/"
    )


def test_the_liff_entry_page_loads_the_vendored_sdk(client, town):
    response = client.get(reverse("line:liff_entry", kwargs={"slug": town.slug}) + "?next=/liff/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "liff-sdk-2.31.0.min.js" in html and "line-scdn" not in html


def test_the_signed_link_signs_in_and_redirects(client, town, resident):
    response = client.get(resident_link(resident, "/liff/settings/", base_url=""))
    assert response.status_code == 302 and response["Location"] == "/liff/settings/"
    assert client.session[SESSION_KEY] == resident.pk


def test_a_tampered_or_foreign_link_is_refused(client, town, resident):
    token = resident_token(resident, "/liff/settings/")
    response = client.get(reverse("line:resident_link", kwargs={"token": token[:-2] + "xx"}))
    assert response.status_code == 403
    assert SESSION_KEY not in client.session


def test_a_link_of_a_resident_who_blocked_the_account_is_refused(client, town, resident):
    from municipalities.services import resident_unfollow

    link = resident_link(resident, "/liff/settings/", base_url="")
    resident_unfollow(municipality=town, line_user_id=resident.line_user_id)
    assert client.get(link).status_code == 403


def test_a_signed_link_never_leaves_the_site(client, town, resident):
    response = client.get(resident_link(resident, "//evil.example/x", base_url=""))
    assert response["Location"] == "/liff/settings/"


def test_a_resident_only_ever_sees_their_own_data(rf, town, resident, other_resident):
    # given: a page that shows "my" data through request.resident, as every resident page does
    from municipalities.line.liff import resident_required

    @resident_required
    def my_name(request):
        return HttpResponse(request.resident.display_name)

    a, b = Client(), Client()
    a.get(resident_link(resident, "/liff/settings/", base_url=""))
    b.get(resident_link(other_resident, "/liff/settings/", base_url=""))
    # when
    request_a = rf.get("/x")
    request_a.session = a.session
    request_b = rf.get("/x")
    request_b.session = b.session
    # then
    assert my_name(request_a).content.decode() == "山田 花子"
    assert my_name(request_b).content.decode() == "佐藤 一郎"
    assert current_resident(request_a) == resident


def test_resident_pages_need_a_sign_in(client, town):
    response = client.get(reverse("line:receive_settings"))
    assert response.status_code == 403
    assert "LINE から開いて" in response.content.decode()
