"""The WSGI entry point: webhook posts skip the middleware, resident pages run the resident stack
(session, CSRF, messages and the security headers, without the staff sign-in), and everything
else keeps the whole stack."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from config.wsgi import application
from municipalities.line.liff import resident_session_start
from municipalities.services import resident_follow
from reservations.models import Reservation
from tests.fakeline import sign, webhook_event
from tests.reservations.factories import MenuFactory, SlotFactory, in_days


@pytest.fixture
def menu(kenko):
    return MenuFactory(department=kenko, name="乳幼児歯科健診")


CSRF = "wsgicsrftoken0123456789abcdefghi"  # an unmasked secret of 32 characters


def _call(path: str, *, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": "application/x-www-form-urlencoded"
        if method == "POST" and not path.startswith("/line/")
        else "application/json",
        "CONTENT_LENGTH": str(len(body)),
        **(headers or {}),
    }
    status: list[str] = []
    response_headers: list[list[tuple[str, str]]] = []

    def start_response(s: str, h: list[tuple[str, str]], exc_info=None):
        status.append(s)
        response_headers.append(h)

    result = application(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return int(status[0].split()[0]), dict(response_headers[0]), content


def test_a_signed_webhook_post_is_stored_without_the_middleware(transactional_db, town, resident):
    from municipalities.models import WebhookEvent

    # given a signed LINE post
    event = webhook_event(
        "message", resident.line_user_id, text="こんにちは", event_id="EVWSGI0000000000000000000001"
    )
    body = json.dumps({"destination": "U0", "events": [event]}).encode()
    # when it goes through the WSGI entry point
    code, headers, _ = _call(
        f"/line/webhook/{town.slug}/",
        method="POST",
        body=body,
        headers={"HTTP_X_LINE_SIGNATURE": sign(town.channel_secret, body)},
    )
    # then it is acknowledged and stored, and no middleware touched the answer
    assert code == 200
    assert WebhookEvent.objects.filter(webhook_event_id="EVWSGI0000000000000000000001").count() == 1
    assert "Content-Security-Policy" not in headers
    assert "Set-Cookie" not in headers


def test_a_bad_signature_is_still_refused_on_the_bare_path(transactional_db, town):
    body = json.dumps({"destination": "U0", "events": []}).encode()
    code, _, _ = _call(
        f"/line/webhook/{town.slug}/", method="POST", body=body, headers={"HTTP_X_LINE_SIGNATURE": "AAAA"}
    )
    assert code == 400


def test_other_paths_keep_the_full_middleware_stack(transactional_db):
    code, headers, _ = _call("/admin/login/")
    assert code == 200
    assert "Content-Security-Policy" in headers
    assert headers.get("X-Frame-Options") == "DENY"


def _signed_in(resident) -> str:
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    resident_session_start(store, resident)
    store.save()
    return f"sessionid={store.session_key}; csrftoken={CSRF}"


def test_a_resident_page_runs_the_resident_stack_with_its_security_headers(transactional_db, menu):
    # a signed-out browser: the sign-in page, with the headers every page has
    code, headers, content = _call(reverse("reservations:calendar", args=[menu.pk]))
    assert code == 403 and "LINE" in content.decode()
    assert "Content-Security-Policy" in headers
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    # the staff-only middleware is not on it; what guards residents is
    assert "django.contrib.auth.middleware.AuthenticationMiddleware" not in settings.RESIDENT_MIDDLEWARE
    assert "axes.middleware.AxesMiddleware" not in settings.RESIDENT_MIDDLEWARE
    for kept in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "csp.middleware.CSPMiddleware",
    ):
        assert kept in settings.RESIDENT_MIDDLEWARE


def test_a_booking_post_needs_the_csrf_token_and_the_resident_session(transactional_db, menu, resident):
    slot = SlotFactory(menu=menu, starts_at=in_days(3), capacity=2)
    path = reverse("reservations:confirm", args=[slot.pk])
    cookie = _signed_in(resident)
    # without the token: refused, nothing booked
    code, _, _ = _call(path, method="POST", body=b"", headers={"HTTP_COOKIE": cookie})
    assert code == 403 and not Reservation.objects.exists()
    # with the token but no session: the sign-in page, nothing booked
    body = f"csrfmiddlewaretoken={CSRF}".encode()
    code, _, _ = _call(path, method="POST", body=body, headers={"HTTP_COOKIE": f"csrftoken={CSRF}"})
    assert code == 403 and not Reservation.objects.exists()
    # both: booked
    code, headers, _ = _call(path, method="POST", body=body, headers={"HTTP_COOKIE": cookie})
    assert code == 302 and "/done/" in headers["Location"]
    assert Reservation.objects.get().resident == resident


def test_a_cached_calendar_is_served_from_the_session_only_to_the_menus_town(
    transactional_db, menu, resident, other_town
):
    other_town_resident, _ = resident_follow(municipality=other_town, line_user_id="U" + "c" * 32)
    SlotFactory(menu=menu, starts_at=in_days(3), capacity=2)
    path = reverse("reservations:calendar", args=[menu.pk])
    query = {"QUERY_STRING": f"ym={in_days(3):%Y-%m}"}
    code, _, first = _call(path, headers={"HTTP_COOKIE": _signed_in(resident), **query})
    assert code == 200 and "data-day" in first.decode()
    # the page is cached now; another town's resident still gets a 404, a stranger the sign-in
    code, _, _ = _call(path, headers={"HTTP_COOKIE": _signed_in(other_town_resident), **query})
    assert code == 404
    code, _, _ = _call(path, headers=query)
    assert code == 403
