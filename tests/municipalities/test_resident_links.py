"""Resident links carry no standing power (issue 18, finding 1).

A link the bot sends is either a LIFF URL (grants nothing: LINE signs the resident in) or, where
the town has no LIFF app, a signed link that is bound to the resident, short-lived and good once.
Copies staff can read (talk log, simulator record) hold the plain page URL only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import resolve, reverse

from municipalities.line import ratelimit
from municipalities.line.liff import LINK_SALT, SESSION_KEY, redact_resident_links, resident_link
from municipalities.models import AuditEntry, ResidentLinkUse, SimulatedDelivery, TalkMessage
from reservations.models import ReservationStatus
from reservations.services import reservation_book, reservation_cancel
from tests.fakeline import FakeLine
from tests.reservations.factories import SlotFactory

SITE = "https://cms.example.jp"


@pytest.fixture
def site(settings) -> str:
    settings.SITE_URL = SITE
    return SITE


@pytest.fixture
def fake_line_api(settings) -> Iterator[FakeLine]:
    """The ``api`` backend against the fake LINE server: what LINE itself is given."""
    ratelimit.reset_local()
    with FakeLine() as server:
        settings.LINE_BACKEND = "api"
        settings.LINE_USES_SIMULATOR = False
        settings.LINE_API_BASE_URL = server.base_url
        settings.HAS_REDIS = False
        settings.LINE_API_TIMEOUT_SECONDS = 5.0
        yield server


def book(kenko, resident, capture):
    with capture(execute=True):
        return reservation_book(slot=SlotFactory(menu__department=kenko), resident=resident)


def uris_in(node) -> list[str]:
    if isinstance(node, list):
        return [uri for item in node for uri in uris_in(item)]
    if isinstance(node, dict):
        own = [node["uri"]] if isinstance(node.get("uri"), str) else []
        return own + uris_in(list(node.values()))
    return []


def local(url: str) -> str:
    """The path (and query) of an absolute URL of this site, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def aged(link: str, seconds: int) -> str:
    """The same link, as if it had been sent ``seconds`` ago."""
    token = resolve(urlsplit(link).path).kwargs["token"]
    payload = signing.loads(token, salt=LINK_SALT)

    class Then(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - seconds)

    old = Then(salt=LINK_SALT).sign_object(payload, compress=True)
    return reverse("line:resident_link", kwargs={"token": old})


# --- staff-visible copies -----------------------------------------------------------------------


def test_a_link_copied_from_the_talk_log_or_the_simulator_signs_nobody_in(
    site, kenko, resident, django_capture_on_commit_callbacks
):
    # given: a booking confirmation went out (simulator backend)
    reservation = book(kenko, resident, django_capture_on_commit_callbacks)
    page = f"{SITE}/liff/reservations/my/{reservation.pk}/"
    talk = TalkMessage.objects.get(resident=resident, direction=TalkMessage.Direction.OUTBOUND)
    delivery = SimulatedDelivery.objects.get(line_user_id=resident.line_user_id)
    # then: both copies hold the plain page, and no sign-in token anywhere
    assert uris_in(talk.payload) == [page]
    assert uris_in(delivery.messages) == [page]
    assert "/r/" not in json.dumps([talk.payload, talk.text, delivery.messages])
    # when: a member of staff opens the copied link in their browser
    staff_browser = Client()
    response = staff_browser.get(local(uris_in(talk.payload)[0]))
    # then: the page asks for a resident sign-in; nobody is signed in
    assert response.status_code == 403
    assert "LINE から開いて" in response.content.decode()
    assert SESSION_KEY not in staff_browser.session


def test_line_gets_the_real_link_and_the_talk_log_does_not(
    site, fake_line_api, town, kenko, resident, django_capture_on_commit_callbacks
):
    # given: the api backend (LINE itself is the fake server)
    reservation = book(kenko, resident, django_capture_on_commit_callbacks)
    [push] = fake_line_api.requests_to("push")
    [sent_link] = uris_in(push.body["messages"])
    [logged_link] = uris_in(TalkMessage.objects.get(resident=resident).payload)
    # then
    assert resolve(urlsplit(sent_link).path).view_name == "line:resident_link"
    assert logged_link == f"{SITE}/liff/reservations/my/{reservation.pk}/"
    # when: the resident taps the button LINE showed
    response = Client().get(local(sent_link))
    # then
    assert response.status_code == 302
    assert response["Location"] == f"/liff/reservations/my/{reservation.pk}/"


def test_redaction_walks_text_alt_text_and_flex_contents(site, resident):
    # given
    link = resident_link(resident, "/liff/settings/")
    message = {
        "type": "flex",
        "altText": f"設定 {link}",
        "contents": {"body": {"contents": [{"type": "text", "text": f"こちら: {link} です"}]}},
        "quickReply": {"items": [{"action": {"type": "uri", "uri": link}}]},
    }
    unrelated = {"type": "text", "text": "https://example.org/r/abc/ は関係ないリンク"}
    # when
    clean = redact_resident_links([message, unrelated])
    # then
    assert clean[0]["altText"] == f"設定 {SITE}/liff/settings/"
    assert clean[0]["contents"]["body"]["contents"][0]["text"] == f"こちら: {SITE}/liff/settings/ です"
    assert clean[0]["quickReply"]["items"][0]["action"]["uri"] == f"{SITE}/liff/settings/"
    assert clean[1] == unrelated  # not a signed link: left alone
    assert message["altText"].startswith("設定 " + SITE + "/r/")  # the original is not changed


# --- one-time, short-lived links -----------------------------------------------------------------


def test_a_link_opened_twice_signs_in_only_the_first_time(town, resident):
    # given
    link = resident_link(resident, "/liff/settings/", base_url="")
    first, second = Client(), Client()
    # when
    opened = first.get(link)
    replayed = second.get(link)  # another browser, or a replay of the same request
    again = first.get(link)
    # then
    assert opened.status_code == 302 and first.session[SESSION_KEY] == resident.pk
    assert replayed.status_code == 403 and SESSION_KEY not in second.session
    assert again.status_code == 403
    assert "予約確認" in replayed.content.decode()
    assert ResidentLinkUse.objects.filter(resident=resident).count() == 1


def test_each_link_is_its_own_and_carries_a_nonce(town, resident):
    # given: two links to the same page
    a = resident_link(resident, "/liff/settings/", base_url="")
    b = resident_link(resident, "/liff/settings/", base_url="")
    # when: the first is spent
    Client().get(a)
    # then: the second still works once
    assert a != b
    assert Client().get(b).status_code == 302


def test_an_expired_link_explains_in_japanese_how_to_get_a_fresh_one(settings, town, resident):
    # given: a link sent 31 minutes ago (links live 30 minutes)
    settings.RESIDENT_LINK_MAX_AGE_SECONDS = 30 * 60
    link = aged(resident_link(resident, "/liff/settings/", base_url=""), 31 * 60)
    fresh = aged(resident_link(resident, "/liff/settings/", base_url=""), 29 * 60)
    browser = Client()
    # when
    response = browser.get(link)
    # then
    assert response.status_code == 403
    body = response.content.decode()
    assert "リンクの有効期限が切れました" in body
    assert "「予約確認」" in body and "「申請状況」" in body and "「受信設定」" in body
    assert SESSION_KEY not in browser.session
    assert not ResidentLinkUse.objects.exists()
    # and: within its lifetime it still works
    assert Client().get(fresh).status_code == 302


def test_a_link_without_a_nonce_is_refused(town, resident):
    # given: a link signed the old way (no nonce), as sent before single use existed
    token = signing.dumps(
        {"r": resident.pk, "m": resident.municipality_id, "n": "/liff/settings/"},
        salt=LINK_SALT,
        compress=True,
    )
    # when
    response = Client().get(reverse("line:resident_link", kwargs={"token": token}))
    # then
    assert response.status_code == 403


# --- LIFF -------------------------------------------------------------------------------------------


def test_with_a_liff_app_the_message_carries_the_liff_url_and_no_token(
    site, town, kenko, resident, django_capture_on_commit_callbacks
):
    # given
    town.liff_id = "2000000001-AbCdEfGh"
    town.save(update_fields=["liff_id"])
    resident.refresh_from_db()
    # when
    reservation = book(kenko, resident, django_capture_on_commit_callbacks)
    # then
    [uri] = uris_in(SimulatedDelivery.objects.get(line_user_id=resident.line_user_id).messages)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "liff.line.me", "/2000000001-AbCdEfGh")
    assert parse_qs(parts.query) == {"next": [f"/liff/reservations/my/{reservation.pk}/"]}
    assert uris_in(TalkMessage.objects.get(resident=resident).payload) == [uri]
    assert "/r/" not in uri


@pytest.mark.parametrize(
    "query",
    [
        "next=%2Fliff%2Freservations%2Fmy%2F",
        "liff.state=%3Fnext%3D%252Fliff%252Freservations%252Fmy%252F",
    ],
    ids=["next", "liff.state"],
)
def test_the_liff_signin_page_honours_next_also_inside_liff_state(client, town, query):
    # when: opened directly, or through LINE's first redirect (the query moved into liff.state)
    response = client.get(reverse("line:liff_entry", kwargs={"slug": town.slug}) + "?" + query)
    # then
    assert response.status_code == 200
    assert 'data-next="/liff/reservations/my/"' in response.content.decode()


def test_liff_state_cannot_send_the_resident_off_site(client, town):
    query = "liff.state=%3Fnext%3Dhttps%253A%252F%252Fevil.example%252F"
    response = client.get(reverse("line:liff_entry", kwargs={"slug": town.slug}) + "?" + query)
    assert f'data-next="{reverse("line:receive_settings")}"' in response.content.decode()


# --- the audit names who acted ----------------------------------------------------------------------


def test_a_residents_own_cancel_is_audited_as_the_resident(
    kenko, resident, kenko_editor, other_resident, django_capture_on_commit_callbacks
):
    # given
    own = book(kenko, resident, django_capture_on_commit_callbacks)
    for_them = book(kenko, other_resident, django_capture_on_commit_callbacks)
    # when: the resident cancels her own; staff cancel the other's on the phone
    reservation_cancel(reservation=own)
    reservation_cancel(reservation=for_them, actor=kenko_editor)
    # then
    mine = AuditEntry.objects.get(action="reservations.reservation.cancelled", object_id=str(own.pk))
    assert mine.actor_resident == resident and mine.actor is None
    assert mine.actor_label == "住民: 山田 花子"
    staffs = AuditEntry.objects.get(action="reservations.reservation.cancelled", object_id=str(for_them.pk))
    assert staffs.actor == kenko_editor and staffs.actor_resident is None
    own.refresh_from_db()
    assert own.status == ReservationStatus.CANCELLED


def test_a_residents_booking_through_the_page_is_audited_as_the_resident(
    town, kenko, resident, django_capture_on_commit_callbacks
):
    # when
    reservation = book(kenko, resident, django_capture_on_commit_callbacks)
    # then
    entry = AuditEntry.objects.get(action="reservations.reservation.booked", object_id=str(reservation.pk))
    assert (entry.actor, entry.actor_resident, entry.actor_label) == (None, resident, "住民: 山田 花子")
