"""A fake LINE API server for tests and benchmarks (127.0.0.1 only, in a thread).

    with FakeLine() as fake:
        settings.LINE_API_BASE_URL = fake.base_url
        ...
        assert fake.requests_to("push")[0].headers["X-Line-Retry-Key"] == str(key)

It speaks the parts of LINE's API the product uses:

- ``POST /v2/bot/message/reply|push|multicast|broadcast`` (bodies validated against
  ``shared/line-openapi/messaging-api.yml`` unless ``validate=False``), ``GET
  /v2/bot/profile/<userId>``, ``POST /oauth2/v2.1/verify`` (LIFF ID tokens: register them with
  ``fake.add_id_token(token, sub=..., aud=...)``).
- A reused ``X-Line-Retry-Key`` answers 409 with LINE's body (``sentMessages``) and
  ``x-line-accepted-request-id``, and delivers nothing.
- Injected failures: ``fake.fail("multicast", 500, 429)`` queues statuses answered by the next
  requests to that endpoint (before anything is accepted).
- Random faults: ``FakeLine(fail_rate=0.05, throttle_rate=0.03)`` answers that share of the
  message requests (reply/push/multicast/broadcast) with 500 and 429, drawn from a seeded random
  (``fault_seed``), before anything is accepted; ``fail_after_accept`` makes that share of the
  500s come after LINE accepted the request (the retry then meets 409). ``fake.faults_injected``
  counts them by status. ``python -m tests.fakeline --fail-rate 0.05 --throttle-rate 0.03``
  serves such a LINE on its own (for a benchmark's ``--line-api-base-url``).
- Rate limits: ``FakeLine(rate_limits={"multicast": 200})`` answers 429 beyond N requests in
  any one-second window per endpoint.
- A multicast with more than 500 ids answers 400; a reply token is usable once.
- LINE Insight (``tests/fakeline_insight.py``, ``fake.insight``): followers, message deliveries
  and demographics as a test sets them; an uncounted day is ``unready``.
- Rich menus (``tests/fakeline_richmenus.py``, ``fake.richmenus``): create/validate/delete,
  image upload, default, aliases, bulk link/unlink, batch control and its progress, with
  LINE's hourly limits; ``fake.richmenus.menu_of(user_id)`` is the menu a user sees.
- Counting: ``fake.recipients_by_key[retry_key]`` (set of user ids accepted under that key),
  ``fake.recipients_by_unit[unit]`` (``customAggregationUnits``, a tag the caller may use),
  ``fake.delivery_count`` (all accepted recipient deliveries) and ``fake.duplicate_deliveries()``.

For benchmarks use ``FakeLine(validate=False, record=False)``: no schema validation and only
counters are kept (no request list), so it answers a few thousand requests per second.
"""

from __future__ import annotations

import collections
import json
import random
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from tests import fakeline_insight, fakeline_richmenus

# The repository sits next to ``shared/`` (``../shared/line-openapi/``).
_SPEC_CANDIDATES = [
    Path(__file__).resolve().parents[2] / "shared" / "line-openapi" / "messaging-api.yml",
    Path(__file__).resolve().parents[1] / "shared" / "line-openapi" / "messaging-api.yml",
]

ENDPOINTS = {
    "/v2/bot/message/reply": ("reply", "ReplyMessageRequest"),
    "/v2/bot/message/push": ("push", "PushMessageRequest"),
    "/v2/bot/message/multicast": ("multicast", "MulticastRequest"),
    "/v2/bot/message/broadcast": ("broadcast", "BroadcastRequest"),
}
MULTICAST_MAX = 500


@dataclass
class RecordedRequest:
    method: str
    path: str
    endpoint: str
    headers: dict[str, str]
    body: Any
    status: int = 0

    @property
    def retry_key(self) -> str | None:
        return self.headers.get("X-Line-Retry-Key")


class SchemaError(AssertionError):
    """A request body does not match LINE's OpenAPI schema."""


# --- OpenAPI validation -----------------------------------------------------------------------


def _spec_path() -> Path:
    for candidate in _SPEC_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError("shared/line-openapi/messaging-api.yml not found")


@cache
def _validator_for(schema_name: str) -> Any:
    """A jsonschema validator for ``#/components/schemas/<schema_name>``.

    LINE's spec puts a ``discriminator`` on base schemas (Message, Action, Template, FlexComponent
    …) whose subtypes are ``allOf: [base, {...}]``. Plain JSON Schema ignores discriminators, so
    the subtype fields would go unchecked; the extra keyword below dispatches to the mapped
    subtype (guarded against the recursion back into the base).
    """
    import yaml
    from jsonschema import ValidationError, validators
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    spec = yaml.safe_load(_spec_path().read_text(encoding="utf-8"))
    uri = "urn:line:messaging-api"
    active = threading.local()

    def discriminator(validator: Any, disc: dict[str, Any], instance: Any, schema: dict[str, Any]) -> Any:
        if not validator.is_type(instance, "object"):
            return
        prop = disc["propertyName"]
        value = instance.get(prop)
        target = (disc.get("mapping") or {}).get(value)
        if target is None:
            yield ValidationError(f"{prop}={value!r} is not one of {sorted(disc.get('mapping') or {})}")
            return
        stack = active.__dict__.setdefault("stack", set())
        key = (id(instance), target)
        if key in stack:  # already validating this object as that subtype (allOf → base)
            return
        stack.add(key)
        try:
            yield from validator.descend(instance, {"$ref": uri + target})
        finally:
            stack.discard(key)

    validator_class = validators.extend(OAS30Validator, {"discriminator": discriminator})
    registry = Registry().with_resource(uri, Resource(contents=spec, specification=DRAFT4))
    return validator_class({"$ref": f"{uri}#/components/schemas/{schema_name}"}, registry=registry)


def validate_body(schema_name: str, body: Any) -> None:
    """Raise SchemaError listing every way ``body`` breaks LINE's schema ``schema_name``."""
    errors = sorted(_validator_for(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message}" for e in errors[:10]]
        raise SchemaError(f"{schema_name} does not match LINE's OpenAPI schema:\n" + "\n".join(lines))


# --- The server -------------------------------------------------------------------------------


@dataclass
class _IdToken:
    sub: str
    aud: str
    name: str = ""
    exp: int = 0


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)
    request_counts: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: dict[str, collections.deque[int]] = field(default_factory=dict)
    windows: dict[str, collections.deque[float]] = field(default_factory=dict)
    accepted_keys: dict[str, str] = field(default_factory=dict)  # retry key → request id
    used_reply_tokens: set[str] = field(default_factory=set)
    recipients_by_key: dict[str, set[str]] = field(default_factory=lambda: collections.defaultdict(set))
    recipients_by_unit: dict[str, set[str]] = field(default_factory=lambda: collections.defaultdict(set))
    deliveries_per_user: collections.Counter[str] = field(default_factory=collections.Counter)
    delivery_count: int = 0
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    id_tokens: dict[str, _IdToken] = field(default_factory=dict)


class FakeLine:
    """The fake LINE server. Use as a context manager; ``base_url`` has no trailing slash."""

    def __init__(
        self,
        *,
        validate: bool = True,
        record: bool = True,
        rate_limits: dict[str, int] | None = None,
        access_tokens: set[str] | None = None,
        latency_seconds: float = 0.0,
        count_recipients: bool = True,
        fail_rate: float = 0.0,
        throttle_rate: float = 0.0,
        fail_after_accept: float = 0.0,
        fault_seed: int = 0,
    ) -> None:
        if fail_rate < 0 or throttle_rate < 0 or fail_rate + throttle_rate > 1:
            raise ValueError("fail_rate and throttle_rate are shares between 0 and 1 (together at most 1)")
        self.fail_rate = fail_rate
        self.throttle_rate = throttle_rate
        self.fail_after_accept = fail_after_accept
        self._fault_rng = random.Random(fault_seed)
        self.faults_injected: collections.Counter[int] = collections.Counter()
        self.validate = validate
        self.record = record
        self.rate_limits = dict(rate_limits or {})
        self.access_tokens = access_tokens  # None: any bearer token is accepted
        self.latency_seconds = latency_seconds
        self.count_recipients = count_recipients
        self.state = _State()
        self.richmenus = fakeline_richmenus.RichMenuFake(self)  # rich menus: tests/fakeline_richmenus.py
        self.insight = fakeline_insight.InsightFake()  # LINE Insight: tests/fakeline_insight.py
        self.port = 0  # 0: any free port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def __enter__(self) -> FakeLine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.validate:  # load and compile the spec now, not inside the first request
            for _, schema in ENDPOINTS.values():
                _validator_for(schema)
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakeline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeLine is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- programming it

    def fail(self, endpoint: str, *statuses: int) -> None:
        """Answer the next requests to ``endpoint`` (reply/push/multicast/broadcast/profile/verify)
        with these statuses, in order, before anything is accepted."""
        with self.state.lock:
            self.state.failures.setdefault(endpoint, collections.deque()).extend(statuses)

    def add_profile(self, user_id: str, display_name: str, picture_url: str = "") -> None:
        self.state.profiles[user_id] = {
            "userId": user_id,
            "displayName": display_name,
            "pictureUrl": picture_url,
        }

    def add_id_token(self, token: str, *, sub: str, aud: str, name: str = "", expires_in: int = 3600) -> None:
        """A LIFF ID token that ``POST /oauth2/v2.1/verify`` accepts for client id ``aud``."""
        self.state.id_tokens[token] = _IdToken(sub=sub, aud=aud, name=name, exp=int(time.time()) + expires_in)

    # -- reading what happened

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def recipients_by_key(self) -> dict[str, set[str]]:
        return self.state.recipients_by_key

    @property
    def recipients_by_unit(self) -> dict[str, set[str]]:
        return self.state.recipients_by_unit

    @property
    def delivery_count(self) -> int:
        return self.state.delivery_count

    def request_count(self, endpoint: str | None = None) -> int:
        with self.state.lock:
            if endpoint is None:
                return sum(self.state.request_counts.values())
            return self.state.request_counts[endpoint]

    def unique_recipients(self) -> int:
        return len(self.state.deliveries_per_user)

    def duplicate_deliveries(self) -> dict[str, int]:
        """User ids that were delivered to more than once (across all keys), with the count."""
        return {uid: n for uid, n in self.state.deliveries_per_user.items() if n > 1}

    @property
    def schema_errors(self) -> list[str]:
        return list(self.state.schema_errors)

    def reset(self) -> None:
        self.state = _State(profiles=self.state.profiles, id_tokens=self.state.id_tokens)

    # -- the protocol (called from the handler threads)

    def _take_failure(self, endpoint: str) -> int | None:
        with self.state.lock:
            queue = self.state.failures.get(endpoint)
            if queue:
                return queue.popleft()
        return None

    def _random_fault(self) -> tuple[int | None, bool]:
        """(status to answer, whether to accept the request first) for one message request, by
        ``fail_rate`` / ``throttle_rate``; (None, False) for most."""
        if not (self.fail_rate or self.throttle_rate):
            return None, False
        with self.state.lock:
            draw = self._fault_rng.random()
            if draw < self.fail_rate:
                after = self._fault_rng.random() < self.fail_after_accept
                self.faults_injected[500] += 1
                return 500, after
            if draw < self.fail_rate + self.throttle_rate:
                self.faults_injected[429] += 1
                return 429, False
        return None, False

    def _rate_limited(self, endpoint: str) -> bool:
        limit = self.rate_limits.get(endpoint)
        if not limit:
            return False
        now = time.monotonic()
        with self.state.lock:
            window = self.state.windows.setdefault(endpoint, collections.deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                return True
            window.append(now)
        return False

    def handle_message(
        self, endpoint: str, schema: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.validate:
            try:
                validate_body(schema, body)
            except SchemaError as exc:
                with self.state.lock:
                    self.state.schema_errors.append(str(exc))
                return (
                    400,
                    {"message": "The request body has 1 error(s)", "details": [{"message": str(exc)}]},
                    {},
                )
        failure = self._take_failure(endpoint)
        if failure is not None:
            return failure, _error_body(failure), {}
        if self._rate_limited(endpoint):
            return 429, {"message": "Too Many Requests"}, {}
        fault, after_accept = self._random_fault()
        if fault is not None and not after_accept:
            return fault, _error_body(fault), {}
        if endpoint == "multicast" and not 1 <= len(body.get("to") or []) <= MULTICAST_MAX:
            return (
                400,
                {
                    "message": "The request body has 1 error(s)",
                    "details": [{"message": f"Size must be between 1 and {MULTICAST_MAX}", "property": "to"}],
                },
                {},
            )
        request_id = uuid.uuid4().hex
        retry_key = headers.get("X-Line-Retry-Key")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return 400, {"message": "The value for the 'X-Line-Retry-Key' header is invalid"}, {}
        with self.state.lock:
            if endpoint == "reply":
                token = body.get("replyToken", "")
                if token in self.state.used_reply_tokens:
                    return 400, {"message": "Invalid reply token"}, {}
                self.state.used_reply_tokens.add(token)
            if retry_key is not None:
                accepted = self.state.accepted_keys.get(retry_key)
                if accepted is not None:
                    sent = [
                        {"id": str(i), "quoteToken": "q"} for i, _ in enumerate(body.get("messages") or [], 1)
                    ]
                    return (
                        409,
                        {"message": "The retry key is already accepted", "sentMessages": sent},
                        {"x-line-accepted-request-id": accepted},
                    )
                self.state.accepted_keys[retry_key] = request_id
            if endpoint == "broadcast":
                recipients = list(self.state.profiles)  # "all friends" the fake knows of
            elif endpoint == "multicast":
                recipients = list(body.get("to") or [])
            else:
                recipients = [body.get("to", "")] if endpoint == "push" else []
            self.state.delivery_count += len(recipients) if endpoint != "reply" else 1
            if self.count_recipients and recipients:
                self.state.deliveries_per_user.update(recipients)
                if retry_key is not None:
                    self.state.recipients_by_key[retry_key].update(recipients)
                for unit in body.get("customAggregationUnits") or []:
                    self.state.recipients_by_unit[unit].update(recipients)
        if fault is not None:  # accepted, but the answer is lost in a 500 (the retry meets 409)
            return fault, _error_body(fault), {}
        sent = [
            {"id": f"{request_id[:8]}{i}", "quoteToken": f"qt{i}"}
            for i, _ in enumerate(body.get("messages") or [], 1)
        ]
        return 200, ({"sentMessages": sent} if endpoint in {"reply", "push"} else {}), {}

    def handle_profile(self, user_id: str) -> tuple[int, dict[str, Any]]:
        failure = self._take_failure("profile")
        if failure is not None:
            return failure, _error_body(failure)
        profile = self.state.profiles.get(user_id)
        if profile is None:
            return 404, {"message": "Not found"}
        return 200, {"language": "ja", **profile}

    def handle_verify(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        failure = self._take_failure("verify")
        if failure is not None:
            return failure, {"error": "server_error", "error_description": "injected"}
        token = self.state.id_tokens.get(form.get("id_token", ""))
        if token is None:
            return 400, {"error": "invalid_request", "error_description": "Invalid IdToken."}
        if token.exp < time.time():
            return 400, {"error": "invalid_request", "error_description": "IdToken expired."}
        if form.get("client_id") != token.aud:
            return 400, {"error": "invalid_request", "error_description": "Invalid IdToken Audience."}
        now = int(time.time())
        return 200, {
            "iss": "https://access.line.me",
            "sub": token.sub,
            "aud": token.aud,
            "exp": token.exp,
            "iat": now,
            "amr": ["linesso"],
            "name": token.name,
        }


def _error_body(status: int) -> dict[str, Any]:
    if status == 429:
        return {"message": "Too Many Requests"}
    if status >= 500:
        return {"message": "Internal Server Error"}
    if status == 401:
        return {"message": "Authentication failed due to the following reason: invalid token."}
    return {"message": "The request body has 1 error(s)", "details": [{"message": "injected failure"}]}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLine
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's urllib3 pool expects
    server_version = "FakeLINE/1.0"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-line-request-id", uuid.uuid4().hex)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # Headers and body in one write: two small writes meet Nagle and delayed ACK (≈40 ms).
        self._headers_buffer.append(b"\r\n" + data)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, endpoint: str, body: Any, status: int) -> None:
        fake = self.fake
        with fake.state.lock:
            fake.state.request_counts[endpoint] += 1
            if fake.record:
                fake.state.requests.append(
                    RecordedRequest(
                        self.command, self.path, endpoint, dict(self.headers.items()), body, status
                    )
                )

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return False
        tokens = self.fake.access_tokens
        return tokens is None or auth[len("Bearer ") :] in tokens

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        raw = self._read_body()
        path = self.path.split("?", 1)[0]
        if fakeline_richmenus.paths(path):
            self._richmenu("POST", path, raw)
            return
        if path == "/oauth2/v2.1/verify":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            status, body = self.fake.handle_verify(form)
            self._record("verify", form, status)
            self._send(status, body)
            return
        route = ENDPOINTS.get(path)
        if route is None:
            self._record("unknown", None, 404)
            self._send(404, {"message": "Not found"})
            return
        endpoint, schema = route
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._record(endpoint, raw.decode(errors="replace"), 400)
            self._send(400, {"message": "The request body could not be parsed as JSON"})
            return
        if not self._authorised():
            self._record(endpoint, body, 401)
            self._send(401, _error_body(401))
            return
        if self.fake.latency_seconds:
            time.sleep(self.fake.latency_seconds)
        headers = {k: v for k, v in self.headers.items()}
        # http.server keeps header names as sent; normalise the one we look up.
        for name in list(headers):
            if name.lower() == "x-line-retry-key":
                headers["X-Line-Retry-Key"] = headers.pop(name)
        status, response, extra = self.fake.handle_message(endpoint, schema, headers, body)
        self._record(endpoint, body, status)
        self._send(status, response, extra)

    def _richmenu(self, method: str, path: str, raw: bytes) -> None:
        if not self._authorised():
            self._record("richmenu", None, 401)
            self._send(401, _error_body(401))
            return
        headers = {k: v for k, v in self.headers.items()}
        endpoint, status, answer = self.fake.richmenus.handle(method, path, headers, raw)
        self._record(
            endpoint,
            {"path": path, "bytes": len(raw)} if endpoint == "richmenu_image" else _json_or_none(raw),
            status,
        )
        self._send(status, answer)

    def do_DELETE(self) -> None:  # noqa: N802 - http.server API
        path = self.path.split("?", 1)[0]
        self._read_body()
        if fakeline_richmenus.paths(path):
            self._richmenu("DELETE", path, b"")
            return
        self._record("unknown", None, 404)
        self._send(404, {"message": "Not found"})

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path, _sep, query = self.path.partition("?")
        if fakeline_insight.paths(path):
            if not self._authorised():
                self._record("insight", None, 401)
                self._send(401, _error_body(401))
                return
            failure = self.fake._take_failure(fakeline_insight.PATHS[path])
            if failure is not None:
                self._record(fakeline_insight.PATHS[path], {"query": query}, failure)
                self._send(failure, _error_body(failure))
                return
            endpoint, status, answer = self.fake.insight.handle(path, query)
            self._record(endpoint, {"query": query}, status)
            self._send(status, answer)
            return
        if fakeline_richmenus.paths(path) and not path.startswith("/v2/bot/profile/"):
            self._richmenu("GET", path, b"")
            return
        if path.startswith("/v2/bot/profile/"):
            if not self._authorised():
                self._record("profile", None, 401)
                self._send(401, _error_body(401))
                return
            user_id = unquote(path[len("/v2/bot/profile/") :])
            status, body = self.fake.handle_profile(user_id)
            self._record("profile", {"userId": user_id}, status)
            self._send(status, body)
            return
        self._record("unknown", None, 404)
        self._send(404, {"message": "Not found"})


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


# --- Webhook side: what LINE sends us -----------------------------------------------------------


def sign(channel_secret: str, body: bytes) -> str:
    """X-Line-Signature for ``body``: base64(HMAC-SHA256(channel secret, body))."""
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_event(
    event_type: str,
    user_id: str,
    *,
    text: str | None = None,
    data: str | None = None,
    event_id: str | None = None,
    redelivery: bool = False,
    mode: str = "active",
    reply_token: str | None = None,
) -> dict[str, Any]:
    """A webhook event object as LINE sends it (Messaging API reference, "Webhook event objects")."""
    event: dict[str, Any] = {
        "type": event_type,
        "mode": mode,
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if event_type != "unfollow":
        event["replyToken"] = reply_token or uuid.uuid4().hex
    if event_type == "follow":
        event["follow"] = {"isUnblocked": False}
    if event_type == "message":
        event["message"] = {"id": str(time.time_ns()), "type": "text", "text": text or "", "quoteToken": "q"}
    if event_type == "postback":
        event["postback"] = {"data": data or ""}
    return event


def webhook_body(*events: dict[str, Any], destination: str = "U" + "0" * 32) -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode()


def post_webhook(
    client: Any,
    municipality: Any,
    *events: dict[str, Any],
    body: bytes | None = None,
    signature: str | None = None,
    slug: str | None = None,
) -> Any:
    """POST a webhook to ``municipality``'s URL with the Django test ``client``, as LINE does.

    The body is ``webhook_body(*events)`` unless ``body`` is given. It is signed with the
    municipality's channel secret unless ``signature`` is given (``""`` sends no signature
    header); ``slug`` posts to another town's URL. Returns the response.
    """
    from django.urls import reverse

    if body is None:
        body = webhook_body(*events)
    if signature is None:
        signature = sign(municipality.channel_secret, body)
    headers = {"HTTP_X_LINE_SIGNATURE": signature} if signature != "" else {}
    url = reverse("line:webhook", kwargs={"slug": slug or municipality.slug})
    return client.post(url, data=body, content_type="application/json", **headers)


# --- Standalone: a fake LINE for a benchmark's --line-api-base-url --------------------------------


def main(argv: list[str] | None = None) -> int:
    """Serve a fake LINE on 127.0.0.1 until interrupted; print its URL, then its counters."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="A fake LINE API server (127.0.0.1) for benchmarks.")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of message requests answered 500")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share answered 429")
    parser.add_argument(
        "--fail-after-accept", type=float, default=0.0, help="share of the 500s sent after accepting"
    )
    parser.add_argument("--multicast-rate", type=int, default=200, help="multicast requests/s before 429")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeLine(
        validate=False,
        record=False,
        rate_limits={"multicast": args.multicast_rate},
        fail_rate=args.fail_rate,
        throttle_rate=args.throttle_rate,
        fail_after_accept=args.fail_after_accept,
        fault_seed=args.seed,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fake.port = args.port
    fake.start()
    sys.stdout.write(f"{fake.base_url}\n")
    sys.stdout.flush()
    stop.wait()
    fake.stop()
    sys.stdout.write(
        f"requests {dict(fake.state.request_counts)}; deliveries {fake.delivery_count}; "
        f"unique {fake.unique_recipients()}; duplicates {len(fake.duplicate_deliveries())}; "
        f"faults injected {dict(fake.faults_injected)}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
