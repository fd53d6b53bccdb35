"""A fake Stripe API for tests (127.0.0.1 only, in a thread).

    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.base_url
        ...
        body, signature = fake.event("checkout.session.completed", session_id, secret=WHSEC)

It speaks what the Stripe provider uses, as Stripe does:

- ``POST /v1/checkout/sessions`` and ``POST /v1/refunds``: form-encoded bodies (the SDK's
  ``a[b][0][c]=…`` notation), a ``Bearer sk_…`` key, JSON answers.
- ``Idempotency-Key``: a key seen before answers the first answer again and creates nothing.
- Injected failures: ``fake.fail("refunds", 500)`` queues statuses for the next requests to that
  endpoint (answered before anything is created; the SDK retries with the same key).
- ``fake.event(type, session_id, secret=…, payment_status=…)`` builds a webhook body for a
  session and signs it as Stripe does (``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Recorded:
    endpoint: str
    params: dict[str, str]
    idempotency_key: str
    api_key: str


@dataclass
class FakeStripeState:
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers_by_key: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{time.monotonic_ns()}")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        params = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_"):
            self._answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            return
        endpoint = {"/v1/checkout/sessions": "sessions", "/v1/refunds": "refunds"}.get(self.path)
        if endpoint is None:
            self._answer(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized URL"}})
            return
        key = self.headers.get("Idempotency-Key", "")
        with state.lock:
            state.requests.append(Recorded(endpoint, params, key, auth.removeprefix("Bearer ")))
            if state.failures[endpoint]:
                status = state.failures[endpoint].popleft()
                self._answer(status, {"error": {"type": "api_error", "message": "injected"}})
                return
            if key and key in state.answers_by_key:
                status, body = state.answers_by_key[key]
            else:
                status, body = self._create(endpoint, params)
                if key:
                    state.answers_by_key[key] = (status, body)
        self._answer(status, body)

    def _create(self, endpoint: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        n = next(state.ids)
        if endpoint == "sessions":
            session = {
                "id": f"cs_test_{n:06d}",
                "object": "checkout.session",
                "url": f"{self.server.base_url}/pay/cs_test_{n:06d}",
                "mode": params.get("mode"),
                "amount_total": int(params.get("line_items[0][price_data][unit_amount]", "0")),
                "currency": params.get("line_items[0][price_data][currency]"),
                "client_reference_id": params.get("client_reference_id"),
                "payment_method_types": [
                    v for k, v in params.items() if k.startswith("payment_method_types[")
                ],
                "payment_intent": None,
                "payment_status": "unpaid",
                "status": "open",
                "success_url": params.get("success_url"),
            }
            state.sessions[session["id"]] = session
            return 200, session
        intent = params.get("payment_intent", "")
        if not any(s.get("payment_intent") == intent for s in state.sessions.values()):
            return 400, {
                "error": {"type": "invalid_request_error", "message": f"No such payment_intent: {intent}"}
            }
        refund = {
            "id": f"re_test_{n:06d}",
            "object": "refund",
            "payment_intent": intent,
            "amount": int(params.get("amount", "0")),
            "status": "succeeded",
        }
        state.refunds[refund["id"]] = refund
        return 200, refund


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeStripeState
    base_url: str


class FakeStripe:
    def __init__(self) -> None:
        self.state = FakeStripeState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._server.base_url = self.base_url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.endpoint == endpoint]

    def fail(self, endpoint: str, *statuses: int) -> None:
        self.state.failures[endpoint].extend(statuses)

    def complete(self, session_id: str, *, payment_status: str = "paid") -> dict[str, Any]:
        """The resident finished Stripe's checkout page: the session gets a PaymentIntent."""
        session = self.state.sessions[session_id]
        session.update(
            status="complete", payment_status=payment_status, payment_intent=f"pi_{session_id[3:]}"
        )
        return session

    def event(
        self, event_type: str, session_id: str, *, secret: str, payment_status: str | None = None
    ) -> tuple[bytes, str]:
        """A signed webhook body about a session, as Stripe posts it."""
        session = dict(self.state.sessions[session_id])
        if payment_status is not None:
            session["payment_status"] = payment_status
        body = json.dumps(
            {
                "id": f"evt_{time.monotonic_ns()}",
                "object": "event",
                "type": event_type,
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "data": {"object": session},
            }
        ).encode()
        return body, sign(body, secret)


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    t = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
