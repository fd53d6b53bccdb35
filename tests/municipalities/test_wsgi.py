"""The WSGI entry point: webhook posts skip the middleware, everything else keeps it."""

from __future__ import annotations

import io
import json
import sys

from config.wsgi import application
from tests.fakeline import sign, webhook_event


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
        "CONTENT_TYPE": "application/json",
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
