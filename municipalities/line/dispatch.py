"""The registry that routes inbound LINE events to the apps that answer them.

Apps register in ``AppConfig.ready()``::

    from municipalities.line import dispatch
    dispatch.register_postback("rsv", reservations.line_handlers.on_postback)
    dispatch.register_text(reservations.line_handlers.on_text, priority=50)
    dispatch.set_text_fallback(chatbot.line_handlers.answer)   # the chatbot answers the rest

A handler takes an ``InboundContext`` and returns the messages to reply with (a list of LINE
message dicts; ``[]`` means handled, reply nothing), or ``None`` when it does not handle the
event (text handlers only: the next one is tried). Handlers call services; the dispatcher sends the reply after the transaction
commits. Postback data is ``"<prefix>:<rest>"``; the prefix names the app (≤ 300 chars in all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from municipalities.models import Municipality, Resident

Messages = list[dict[str, Any]]


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``. The webhook stores only events that match
    LINE's schema, but rows stored before it checked them (or by hand) must not crash a drain:
    whatever reads a stored event reads it through these two."""
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str:
    """``value`` if it is a string, else ``""`` (see ``as_dict``)."""
    return value if isinstance(value, str) else ""


@dataclass
class InboundContext:
    municipality: Municipality
    resident: Resident | None
    event: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
    # Set by a handler whose answer lists the resident's own records of several departments
    # (「予約確認」「申請状況」): the talk log keeps this sentence instead of the answer.
    talk_log_text: str = ""

    @property
    def event_type(self) -> str:
        return as_str(as_dict(self.event).get("type"))

    @property
    def line_user_id(self) -> str:
        return as_str(as_dict(as_dict(self.event).get("source")).get("userId"))

    @property
    def reply_token(self) -> str:
        return as_str(as_dict(self.event).get("replyToken"))

    @property
    def text(self) -> str:
        message = as_dict(as_dict(self.event).get("message"))
        return as_str(message.get("text")) if message.get("type") == "text" else ""

    @property
    def postback_data(self) -> str:
        return as_str(as_dict(as_dict(self.event).get("postback")).get("data"))

    @property
    def postback_params(self) -> dict[str, Any]:
        params = as_dict(as_dict(as_dict(self.event).get("postback")).get("params"))
        return {key: value for key, value in params.items() if isinstance(value, str)}


Handler = Callable[[InboundContext], Messages | None]

_postback_handlers: dict[str, Handler] = {}
_text_handlers: list[tuple[int, str, Handler]] = []
_text_fallback: list[Handler] = []


def register_postback(prefix: str, handler: Handler) -> None:
    if ":" in prefix:
        raise ValueError("a postback prefix contains no ':'")
    existing = _postback_handlers.get(prefix)
    if existing is not None and existing is not handler:
        raise ValueError(f"postback prefix {prefix!r} is already registered")
    _postback_handlers[prefix] = handler


def register_text(handler: Handler, *, priority: int = 100) -> None:
    """Text handlers run in priority order (lower first) until one returns messages."""
    name = f"{handler.__module__}.{handler.__qualname__}"
    if any(n == name for _, n, _ in _text_handlers):
        return
    _text_handlers.append((priority, name, handler))
    _text_handlers.sort(key=lambda item: (item[0], item[1]))


def set_text_fallback(handler: Handler) -> None:
    _text_fallback[:] = [handler]


def postback_handler(data: str) -> Handler | None:
    prefix = data.split(":", 1)[0]
    return _postback_handlers.get(prefix)


def text_handlers() -> list[Handler]:
    return [handler for _, _, handler in _text_handlers] + list(_text_fallback)
