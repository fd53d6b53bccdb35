"""The rich-menu part of the fake LINE server (tests/fakeline.py hands these paths over).

It keeps what LINE keeps: menus (bodies validated against ``shared/line-openapi/messaging-api.yml``),
images (JPEG/PNG, ≤ 1 MB, once per menu), the default menu, aliases, the menu linked to each user,
and the latest batch control (processed in a thread: ``ongoing`` until every operation is done).
LINE's hourly limits answer 429: creating and deleting menus 100 an hour, the batch control 3 an
hour (``hourly_limits`` overrides them). Injected failures use ``fake.fail(endpoint, …)`` with
the endpoint names below. ``menu_of(user_id)`` is the menu a user sees (linked, else default).
"""

from __future__ import annotations

import collections
import functools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import tests.fakeline as fakeline  # a cycle: fakeline imports this module; names are read at call time

# LINE's hourly limits per channel (Messaging API reference, "Rate limits").
HOURLY_LIMITS = {"richmenu_create": 100, "richmenu_delete": 100, "richmenu_batch": 3}
MAX_IMAGE_BYTES = 1024 * 1024
BULK_MAX = 500


@dataclass
class RichMenuState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, tuple[str, int]] = field(default_factory=dict)
    default: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    link_calls: collections.Counter[str] = field(default_factory=collections.Counter)  # per user
    batch_phase: str = ""
    batch_keys: set[str] = field(default_factory=set)
    batch_operations: int = 0
    batch_seconds: float = 0.0  # how long the latest batch took at this LINE (its floor)
    hourly: dict[str, collections.deque[float]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)


@functools.cache
def retry_key_operations() -> frozenset[tuple[str, str]]:
    """(METHOD, path template) of every operation whose parameters in LINE's spec include the
    ``X-Line-Retry-Key`` header: the only calls where LINE takes one."""
    import yaml

    spec = yaml.safe_load(fakeline._spec_path().read_text(encoding="utf-8"))
    found = set()
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            parameters = operation.get("parameters") or [] if isinstance(operation, dict) else []
            if any(
                p.get("in") == "header" and p.get("name", "").lower() == "x-line-retry-key"
                for p in parameters
            ):
                found.add((method.upper(), template))
    return frozenset(found)


def _template_matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, path) is not None


def paths(path: str) -> bool:
    return path.startswith("/v2/bot/richmenu") or path.startswith("/v2/bot/user/")


class RichMenuFake:
    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.state = RichMenuState()
        self.hourly_limits = dict(HOURLY_LIMITS)
        self.batch_seconds_per_million = 0.0  # extra time LINE takes per million links moved

    # -- reading it

    def menu_of(self, user_id: str) -> str | None:
        return self.state.links.get(user_id, self.state.default)

    # -- the protocol

    def _hourly_limited(self, endpoint: str) -> bool:
        limit = self.hourly_limits.get(endpoint)
        if not limit:
            return False
        now = time.monotonic()
        with self.state.lock:
            window = self.state.hourly.setdefault(endpoint, collections.deque())
            while window and window[0] <= now - 3600:
                window.popleft()
            if len(window) >= limit:
                return True
            window.append(now)
        return False

    def _validate(self, schema: str, body: Any) -> tuple[int, dict[str, Any]] | None:
        if not self.fake.validate:
            return None
        try:
            fakeline.validate_body(schema, body)
        except fakeline.SchemaError as exc:
            with self.fake.state.lock:
                self.fake.state.schema_errors.append(str(exc))
            return 400, {"message": "The request body has 1 error(s)", "details": [{"message": str(exc)}]}
        return None

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[str, int, dict[str, Any]]:
        """(endpoint name, status, JSON body) for one request."""
        endpoint, handler, schema = self._route(method, path)
        if handler is None:
            return "unknown", 404, {"message": "Not found"}
        if any(name.lower() == "x-line-retry-key" for name in headers) and not any(
            m == method and _template_matches(t, path) for m, t in retry_key_operations()
        ):  # LINE's spec has no such parameter here: a contract error, not a deduplication
            with self.fake.state.lock:
                self.fake.state.schema_errors.append(
                    f"{method} {path}: X-Line-Retry-Key is not in LINE's spec"
                )
        body: Any = None
        if schema is not None or (method == "POST" and endpoint != "richmenu_image"):
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                return endpoint, 400, {"message": "The request body could not be parsed as JSON"}
        if schema is not None:
            invalid = self._validate(schema, body)
            if invalid is not None:
                return (endpoint, *invalid)
        failure = self.fake._take_failure(endpoint)
        if failure is not None:
            return endpoint, failure, fakeline._error_body(failure)
        if self.fake._rate_limited(endpoint) or self._hourly_limited(endpoint):
            return endpoint, 429, {"message": "Too Many Requests"}
        status, answer = handler(path, headers, body if endpoint != "richmenu_image" else raw)
        return endpoint, status, answer

    def _route(self, method: str, path: str) -> tuple[str, Any, str | None]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        # parts: v2 bot richmenu ... | v2 bot user <id|all> richmenu [<id>]
        if parts[:3] == ["v2", "bot", "richmenu"]:
            rest = parts[3:]
            if method == "POST" and rest == []:
                return "richmenu_create", self._create, "RichMenuRequest"
            if method == "POST" and rest == ["validate"]:
                return "richmenu_validate", lambda *_: (200, {}), "RichMenuRequest"
            if method == "POST" and rest == ["bulk", "link"]:
                return "richmenu_bulk_link", self._bulk_link, "RichMenuBulkLinkRequest"
            if method == "POST" and rest == ["bulk", "unlink"]:
                return "richmenu_bulk_unlink", self._bulk_unlink, "RichMenuBulkUnlinkRequest"
            if method == "POST" and rest == ["batch"]:
                return "richmenu_batch", self._batch, "RichMenuBatchRequest"
            if method == "GET" and rest == ["progress", "batch"]:
                return "richmenu_progress", self._progress, None
            if method == "POST" and rest == ["alias"]:
                return "richmenu_alias", self._alias_create, "CreateRichMenuAliasRequest"
            if method == "POST" and len(rest) == 2 and rest[0] == "alias":
                return "richmenu_alias", self._alias_update, "UpdateRichMenuAliasRequest"
            if method == "POST" and len(rest) == 2 and rest[1] == "content":
                return "richmenu_image", self._image, None
            if method == "DELETE" and len(rest) == 1:
                return "richmenu_delete", self._delete, None
        if parts[:3] == ["v2", "bot", "user"] and len(parts) >= 5 and parts[4] == "richmenu":
            if parts[3] == "all" and method == "POST" and len(parts) == 6:
                return "richmenu_default", self._set_default, None
            if parts[3] != "all" and method == "POST" and len(parts) == 6:
                return "richmenu_user", self._link_one, None
        return "unknown", None, None

    @staticmethod
    def _menu_id(path: str, index: int) -> str:
        return unquote(path.strip("/").split("/")[index])

    def _create(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        areas = body.get("areas") or []
        width, height = body["size"]["width"], body["size"]["height"]
        for area in areas:
            b = area["bounds"]
            if b["x"] + b["width"] > width or b["y"] + b["height"] > height:
                return 400, {"message": "An area is outside the rich menu"}
        if len(areas) > 20 or len(body.get("chatBarText", "")) > 14:
            return 400, {"message": "Invalid rich menu object"}
        rich_menu_id = "richmenu-" + uuid.uuid4().hex
        with self.state.lock:
            self.state.menus[rich_menu_id] = body
        return 200, {"richMenuId": rich_menu_id}

    def _image(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        rich_menu_id = self._menu_id(path, 3)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if rich_menu_id not in self.state.menus:
            return 404, {"message": "Not found"}
        if content_type not in ("image/jpeg", "image/png"):
            return 415, {"message": "Unsupported Media Type"}
        if len(raw) > MAX_IMAGE_BYTES:
            return 413, {"message": "Request Entity Too Large"}
        if rich_menu_id in self.state.images:
            return 400, {"message": "An image has already been uploaded to the richmenu"}
        self.state.images[rich_menu_id] = (content_type, len(raw))
        return 200, {}

    def _usable(self, rich_menu_id: str) -> bool:
        return rich_menu_id in self.state.menus and rich_menu_id in self.state.images

    def _delete(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        rich_menu_id = self._menu_id(path, 3)
        with self.state.lock:
            if self.state.menus.pop(rich_menu_id, None) is None:
                return 404, {"message": "Not found"}
            self.state.images.pop(rich_menu_id, None)
            self.state.deleted.append(rich_menu_id)
            if self.state.default == rich_menu_id:
                self.state.default = None
        return 200, {}

    def _set_default(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        rich_menu_id = self._menu_id(path, 5)
        if not self._usable(rich_menu_id):
            return 400, {"message": "must upload richmenu image before applying it to user"}
        self.state.default = rich_menu_id
        return 200, {}

    def _link_one(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        user_id, rich_menu_id = self._menu_id(path, 3), self._menu_id(path, 5)
        if not self._usable(rich_menu_id):
            return 400, {"message": "must upload richmenu image before applying it to user"}
        with self.state.lock:
            self.state.links[user_id] = rich_menu_id
            self.state.link_calls[user_id] += 1
        return 200, {}

    def _alias_create(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if body["richMenuAliasId"] in self.state.aliases:
            return 400, {"message": "conflict richmenu alias id"}
        if not self._usable(body["richMenuId"]):
            return 400, {"message": "richmenu not found"}
        self.state.aliases[body["richMenuAliasId"]] = body["richMenuId"]
        return 200, {}

    def _alias_update(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        alias = self._menu_id(path, 4)
        if alias not in self.state.aliases:
            return 400, {"message": "richmenu alias not found"}
        if not self._usable(body["richMenuId"]):
            return 400, {"message": "richmenu not found"}
        self.state.aliases[alias] = body["richMenuId"]
        return 200, {}

    def _bulk_link(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if not self._usable(body["richMenuId"]):
            return 400, {"message": "must upload richmenu image before applying it to user"}
        with self.state.lock:
            for user_id in body["userIds"]:
                self.state.links[user_id] = body["richMenuId"]
                self.state.link_calls[user_id] += 1
        return 202, {}

    def _bulk_unlink(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            for user_id in body["userIds"]:
                self.state.links.pop(user_id, None)
        return 202, {}

    def _batch(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        key = body.get("resumeRequestKey") or ""
        with self.state.lock:
            if self.state.batch_phase == "ongoing":
                return 409, {"message": "The previous batch is ongoing"}
            if key and key in self.state.batch_keys and self.state.batch_phase == "succeeded":
                return 202, {}  # resuming a finished batch: nothing left to do
            for operation in body["operations"]:
                for target in (operation.get("from"), operation.get("to")):
                    if target is not None and not self._usable(target):
                        return 400, {"message": f"richmenu {target} not found"}
            self.state.batch_keys.add(key)
            self.state.batch_phase = "ongoing"
        threading.Thread(target=self._run_batch, args=(body["operations"],), daemon=True).start()
        return 202, {}

    def _run_batch(self, operations: list[dict[str, Any]]) -> None:
        """Apply the operations as one change (every "from" read before anything moves), taking
        ``batch_seconds_per_million`` per million links moved in all (this work included)."""
        started = time.monotonic()
        moved = 0
        with self.state.lock:
            by_menu: dict[str, list[str]] = collections.defaultdict(list)
            for user_id, menu_id in self.state.links.items():
                by_menu[menu_id].append(user_id)
            for operation in operations:
                kind = operation["type"]
                if kind == "unlinkAll":
                    moved += len(self.state.links)
                    self.state.links.clear()
                    continue
                users = by_menu.get(operation.get("from"), [])
                if kind == "link":
                    self.state.links.update(dict.fromkeys(users, operation["to"]))
                else:
                    for user_id in users:
                        self.state.links.pop(user_id, None)
                moved += len(users)
            self.state.batch_operations += len(operations)
        remaining = self.batch_seconds_per_million * moved / 1_000_000 - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        self.state.batch_seconds = time.monotonic() - started
        self.state.batch_phase = "succeeded"

    def _progress(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if not self.state.batch_phase:
            return 404, {"message": "Not found"}
        answer = {"phase": self.state.batch_phase, "acceptedTime": "2026-01-01T00:00:00.000Z"}
        if self.state.batch_phase != "ongoing":
            answer["completedTime"] = "2026-01-01T00:00:01.000Z"
        return 200, answer
