"""The registry that routes inbound LINE events to the apps that answer them.

Apps register in ``AppConfig.ready()``::

    from municipalities.line import dispatch
    dispatch.register_postback("rsv", reservations.line_handlers.on_postback)
    dispatch.register_text(reservations.line_handlers.on_text, priority=50)
    dispatch.set_text_fallback(chatbot.line_handlers.answer)   # the chatbot answers the rest
    dispatch.register_message("location", richmenus.line_handlers.on_location)
    dispatch.register_follow(richmenus.line_handlers.on_follow)   # messages after the greeting
    dispatch.register_resident_preload("chat_state")   # read with the sender (see below)

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
    def location(self) -> tuple[float, float] | None:
        """(latitude, longitude) of a location message, else None."""
        message = as_dict(as_dict(self.event).get("message"))
        lat, lon = message.get("latitude"), message.get("longitude")
        if (
            message.get("type") != "location"
            or not isinstance(lat, int | float)
            or not isinstance(lon, int | float)
        ):
            return None
        return float(lat), float(lon)

    @property
    def postback_params(self) -> dict[str, Any]:
        params = as_dict(as_dict(as_dict(self.event).get("postback")).get("params"))
        return {key: value for key, value in params.items() if isinstance(value, str)}


Handler = Callable[[InboundContext], Messages | None]

_postback_handlers: dict[str, Handler] = {}
_text_handlers: list[tuple[int, str, Handler]] = []
_text_fallback: list[Handler] = []
_message_handlers: dict[str, Handler] = {}
_follow_handlers: dict[str, Handler] = {}
_fallback_notes: dict[str, Handler] = {}
_resident_preloads: list[str] = []


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
    return [handler for _, _, handler in _text_handlers] + [_fallback_with_notes for _ in _text_fallback[:1]]


def register_fallback_note(handler: Handler) -> None:
    """Messages put before the fallback's answer (when it answers), e.g. 「ただいま災害モードです」."""
    _fallback_notes[f"{handler.__module__}.{handler.__qualname__}"] = handler


def _fallback_with_notes(context: InboundContext) -> Messages | None:
    answer = _text_fallback[0](context)
    if not answer:
        return answer
    notes = [message for note in _fallback_notes.values() for message in (note(context) or [])]
    return (notes + answer)[:5] if notes else answer


def register_message(kind: str, handler: Handler) -> None:
    """The handler of messages of type ``kind`` other than text ("location", "image" …): one per kind."""
    existing = _message_handlers.get(kind)
    if existing is not None and existing is not handler:
        raise ValueError(f"a handler for {kind!r} messages is already registered")
    _message_handlers[kind] = handler


def message_handler(kind: str) -> Handler | None:
    return _message_handlers.get(kind)


def register_follow(handler: Handler) -> None:
    """Called after a follow is recorded (``context.resident`` is the follower); the messages it
    returns follow the greeting (None or [] adds nothing)."""
    _follow_handlers[f"{handler.__module__}.{handler.__qualname__}"] = handler


def follow_handlers() -> list[Handler]:
    return list(_follow_handlers.values())


def register_resident_preload(relation: str) -> None:
    """A one-to-one relation of Resident (its reverse name, e.g. ``"chat_state"``) that the
    processing of an event reads in the same query as the sender (``select_related``). The
    handlers find it in ``context.extras["preloaded:<relation>"]``: the related row, or None when
    the resident has none; the key is missing when the sender was not read that way (a new
    friend, a handler called directly). Read it once per event, as the sender's row is."""
    if relation not in _resident_preloads:
        _resident_preloads.append(relation)


def resident_preloads() -> list[str]:
    return list(_resident_preloads)


def preloaded_key(relation: str) -> str:
    return f"preloaded:{relation}"
