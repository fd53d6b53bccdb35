"""The outbound gateway: one client per municipality, two backends.

``get_line_client(municipality)`` returns the backend chosen by ``settings.LINE_BACKEND``:

- ``simulator``: records every outgoing message in ``SimulatedDelivery`` (shown on the
  simulator page); no network. A retry key is accepted once per recipient, like LINE.
- ``api``: line-bot-sdk v3 against ``settings.LINE_API_BASE_URL``.

Rich menus (create, image, default, aliases, links, batch control): ``richmenus_gateway.py``.
LINE's own statistics (followers, deliveries, demographics): ``insight.py``.

All methods take message dicts in LINE's JSON shape (see messages.py for builders). Reply and
push take ``department`` when a feature sends a notice on a department's behalf (booking,
application): the talk-log row belongs to that department (see talklog.talk_log_outbound); and
``talk_log_text`` when the answer lists a resident's own records of several departments (予約確認,
申請状況): the talk log keeps that sentence instead of the records. Reply takes ``resident`` (whom
the token answers, when the caller has them) and ``talk_log_into``: a list the reply's talk-log
rows are added to (unsaved) once the reply went through, instead of being written (returning
normally means they are in the list; raising, not): the caller writes them with its own rows (the
webhook's processing: the resident's message, the reply, the event's outcome). Push,
multicast and broadcast take ``retry_key``: a UUID derived deterministically from what is sent
(``retry_key_for(...)``), so a retry after a crash reuses it. A 409 from LINE means the key was
already accepted: the call returns normally (``SendResult.already_accepted``).

No method may be called inside a database transaction that can still roll back: callers
enqueue a task with ``transaction.on_commit`` (STYLE R3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from municipalities.line.insight import InsightGateway
from municipalities.line.richmenus_gateway import RichMenuGateway
from municipalities.models import Department, Municipality, Resident, TalkMessage

# Namespace for deterministic retry keys (uuid5 of a caller's stable description).
RETRY_KEY_NAMESPACE = uuid.UUID("6f0c3a52-8d7e-4b8f-9a55-2c1f4d0e7b10")

MULTICAST_MAX_RECIPIENTS = 500


def retry_key_for(*parts: object) -> uuid.UUID:
    """A stable X-Line-Retry-Key: ``retry_key_for("broadcast", 12, "batch", 3)``."""
    return uuid.uuid5(RETRY_KEY_NAMESPACE, "/".join(str(p) for p in parts))


@dataclass(frozen=True)
class SendResult:
    request_id: str = ""
    already_accepted: bool = False  # LINE answered 409: this retry key was accepted before


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    picture_url: str = ""
    status_message: str = ""


class LineClient(RichMenuGateway, InsightGateway, Protocol):
    municipality: Municipality

    def reply(
        self,
        reply_token: str,
        messages: list[dict[str, Any]],
        *,
        department: Department | None = None,
        talk_log_text: str = "",
        resident: Resident | None = None,
        talk_log_into: list[TalkMessage] | None = None,
    ) -> SendResult: ...

    def push(
        self,
        user_id: str,
        messages: list[dict[str, Any]],
        *,
        retry_key: uuid.UUID,
        department: Department | None = None,
        talk_log_text: str = "",
    ) -> SendResult: ...

    def multicast(
        self, user_ids: list[str], messages: list[dict[str, Any]], *, retry_key: uuid.UUID
    ) -> SendResult: ...

    def broadcast(self, messages: list[dict[str, Any]], *, retry_key: uuid.UUID) -> SendResult: ...

    def get_profile(self, user_id: str) -> Profile | None: ...


def get_line_client(municipality: Municipality) -> LineClient:
    if settings.LINE_USES_SIMULATOR:
        # Both clients import this module (cycle); the real one also loads the LINE SDK, which a
        # simulator-only process never needs.
        from municipalities.line.simulator import SimulatorClient

        return SimulatorClient(municipality)
    from municipalities.line.api import ApiClient  # see above: cycle, and the LINE SDK

    return ApiClient(municipality)
