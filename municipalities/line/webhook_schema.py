"""LINE's webhook event schema, compact: what ``webhook.py`` checks each event against before
storing it.

Derived by hand from LINE's OpenAPI document ``webhook.yml`` (github.com/line/line-openapi,
commit 6e4c2a2a, ``#/components/schemas/Event`` and the subtypes its discriminator maps to).
Keep in sync with it: ``tests/municipalities/test_webhook_schema.py`` checks this table
against the document with jsonschema (the same validator the LINE API contract tests use),
on LINE's own examples and on generated events, so a difference fails a test rather than a
resident's message.

Why not jsonschema at run time: the webhook is a hot path (``tests/bench/webhook.py``), the
OpenAPI validator costs about a millisecond per event against microseconds here, and
jsonschema is a test dependency. The table is checked once per event, recursing only as deep
as the schema (never as deep as the input).

Where it differs from the document, on purpose:

- an event ``type`` LINE has not documented yet is checked against the base ``Event`` only
  (LINE adds event types; an unknown one is stored and not answered, instead of refusing a
  post that may carry residents' messages too);
- ``additionalProperties`` are allowed everywhere, as in the document (LINE adds fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Str:
    max_length: int | None = None


@dataclass(frozen=True)
class Int:
    pass


@dataclass(frozen=True)
class Num:
    pass


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class Enum:
    values: frozenset[str]


@dataclass(frozen=True)
class Arr:
    items: Any
    max_items: int | None = None


@dataclass(frozen=True)
class Map:
    """An object whose every value matches ``values`` (``additionalProperties: <schema>``)."""

    values: Any


@dataclass(frozen=True)
class Obj:
    required: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Union:
    """An object discriminated by its ``type`` (``discriminator: {propertyName: type}``)."""

    mapping: dict[str, Obj]


def _extend(base: Obj, required: dict[str, Any] | None = None, optional: dict[str, Any] | None = None) -> Obj:
    """``allOf: [base, {...}]``: the subtype's fields added to the base's."""
    required = {**base.required, **(required or {})}
    optional = {k: v for k, v in {**base.optional, **(optional or {})}.items() if k not in required}
    return Obj(required=required, optional=optional)


S, INT, N, B = Str(), Int(), Num(), Bool()

# Source (UserSource / GroupSource / RoomSource)
_SOURCE_BASE = Obj(required={"type": S})
USER_SOURCE = _extend(_SOURCE_BASE, optional={"userId": S})
SOURCE = Union(
    {
        "user": USER_SOURCE,
        "group": _extend(_SOURCE_BASE, {"groupId": S}, {"userId": S}),
        "room": _extend(_SOURCE_BASE, {"roomId": S}, {"userId": S}),
    }
)

# MessageContent and its subtypes
_CONTENT_PROVIDER = Obj(
    required={"type": Enum(frozenset({"line", "external"}))},
    optional={"originalContentUrl": S, "previewImageUrl": S},
)
_MENTIONEE_BASE = Obj(required={"type": S, "index": INT, "length": INT})
_MENTIONEE = Union(
    {
        "user": _extend(_MENTIONEE_BASE, optional={"userId": S, "isSelf": B}),
        "all": _MENTIONEE_BASE,
    }
)
_EMOJI = Obj(required={"index": INT, "length": INT, "productId": S, "emojiId": S})
_MESSAGE_BASE = Obj(required={"type": S, "id": S})
_STICKER_TYPES = frozenset(
    {
        "STATIC",
        "ANIMATION",
        "SOUND",
        "ANIMATION_SOUND",
        "POPUP",
        "POPUP_SOUND",
        "CUSTOM",
        "MESSAGE",
        "NAME_TEXT",
        "PER_STICKER_TEXT",
    }
)
MESSAGE_CONTENT = Union(
    {
        "text": _extend(
            _MESSAGE_BASE,
            {"text": S, "quoteToken": S},
            {
                "emojis": Arr(_EMOJI),
                "mention": Obj(required={"mentionees": Arr(_MENTIONEE)}),
                "quotedMessageId": S,
                "markAsReadToken": S,
            },
        ),
        "image": _extend(
            _MESSAGE_BASE,
            {"contentProvider": _CONTENT_PROVIDER, "quoteToken": S},
            {
                "imageSet": Obj(required={"id": S}, optional={"index": INT, "total": INT}),
                "markAsReadToken": S,
            },
        ),
        "video": _extend(
            _MESSAGE_BASE,
            {"contentProvider": _CONTENT_PROVIDER, "quoteToken": S},
            {"duration": INT, "markAsReadToken": S},
        ),
        "audio": _extend(
            _MESSAGE_BASE, {"contentProvider": _CONTENT_PROVIDER}, {"duration": INT, "markAsReadToken": S}
        ),
        "file": _extend(_MESSAGE_BASE, {"fileName": S, "fileSize": INT}, {"markAsReadToken": S}),
        "location": _extend(
            _MESSAGE_BASE,
            {"latitude": N, "longitude": N},
            {"title": S, "address": S, "markAsReadToken": S},
        ),
        "sticker": _extend(
            _MESSAGE_BASE,
            {"packageId": S, "stickerId": S, "stickerResourceType": Enum(_STICKER_TYPES), "quoteToken": S},
            {
                "keywords": Arr(S, max_items=15),
                "text": Str(max_length=100),
                "quotedMessageId": S,
                "markAsReadToken": S,
            },
        ),
    }
)

_MEMBERSHIP_BASE = Obj(required={"type": S, "membershipId": INT})
_MODULE_BASE = Obj(required={"type": S})

# Event: the base and, per ``type``, what the subtype adds.
EVENT = Obj(
    required={
        "type": S,
        "timestamp": INT,
        "mode": Enum(frozenset({"active", "standby"})),
        "webhookEventId": S,
        "deliveryContext": Obj(required={"isRedelivery": B}),
    },
    optional={"source": SOURCE},
)
_RT = {"replyToken": S}
_MEMBERS = Obj(required={"members": Arr(USER_SOURCE)})
EVENTS: dict[str, Obj] = {
    "message": _extend(EVENT, {"message": MESSAGE_CONTENT}, _RT),
    "unsend": _extend(EVENT, {"unsend": Obj(required={"messageId": S})}),
    "follow": _extend(EVENT, {**_RT, "follow": Obj(required={"isUnblocked": B})}),
    "unfollow": EVENT,
    "join": _extend(EVENT, _RT),
    "leave": EVENT,
    "memberJoined": _extend(EVENT, {**_RT, "joined": _MEMBERS}),
    "memberLeft": _extend(EVENT, {"left": _MEMBERS}),
    "postback": _extend(EVENT, {"postback": Obj(required={"data": S}, optional={"params": Map(S)})}, _RT),
    "videoPlayComplete": _extend(EVENT, {**_RT, "videoPlayComplete": Obj(required={"trackingId": S})}),
    "beacon": _extend(
        EVENT,
        {
            **_RT,
            "beacon": Obj(
                required={"hwid": S, "type": Enum(frozenset({"enter", "banner", "stay"}))}, optional={"dm": S}
            ),
        },
    ),
    "accountLink": _extend(
        EVENT, {"link": Obj(required={"result": Enum(frozenset({"ok", "failed"})), "nonce": S})}, _RT
    ),
    "membership": _extend(
        EVENT,
        {
            **_RT,
            "membership": Union(
                {"joined": _MEMBERSHIP_BASE, "left": _MEMBERSHIP_BASE, "renewed": _MEMBERSHIP_BASE}
            ),
        },
    ),
    "module": _extend(
        EVENT,
        {
            "module": Union(
                {
                    "attached": _extend(_MODULE_BASE, {"botId": S, "scopes": Arr(S)}),
                    "detached": _extend(
                        _MODULE_BASE, {"botId": S, "reason": Enum(frozenset({"bot_deleted"}))}
                    ),
                }
            )
        },
    ),
    "activated": _extend(EVENT, {"chatControl": Obj(required={"expireAt": INT})}),
    "deactivated": EVENT,
    "botSuspended": EVENT,
    "botResumed": EVENT,
    "delivery": _extend(EVENT, {"delivery": Obj(required={"data": S})}),
}


def event_error(event: Any) -> str | None:
    """Why ``event`` (a decoded JSON value) is not one of LINE's webhook events, as a short
    path (``message.text: not a string``), or None when it is."""
    if type(event) is not dict:
        return "event: not an object"
    event_type = event.get("type")
    check = _EVENT_CHECKS.get(event_type, _BASE_CHECK) if type(event_type) is str else _BASE_CHECK
    error = check(event)
    if error is None:
        return None
    path, message = error  # the path comes back innermost first: nothing is built on success
    return f"{'.'.join(str(key) for key in reversed(path)) or 'event'}: {message}"


# --- the table compiled into closures (one call per node, no dispatch on the node's kind) ---

_Error = tuple[list[str | int], str]
_Check = Callable[[Any], _Error | None]


def _compile(schema: Any) -> _Check:  # noqa: C901 - one case per kind
    kind = type(schema)
    if kind is Str:
        limit = schema.max_length

        def check_str(value: Any) -> _Error | None:
            if type(value) is not str:
                return [], "not a string"
            if limit is not None and len(value) > limit:
                return [], f"longer than {limit}"
            return None

        return check_str
    if kind is Int:  # bool is an int in Python, not in JSON
        return lambda value: None if type(value) is int else ([], "not an integer")
    if kind is Num:
        return lambda value: None if type(value) is int or type(value) is float else ([], "not a number")
    if kind is Bool:
        return lambda value: None if type(value) is bool else ([], "not a boolean")
    if kind is Enum:
        values = schema.values
        return lambda value: None if type(value) is str and value in values else ([], "not one of the values")
    if kind is Arr:
        return _compile_array(_compile(schema.items), schema.max_items)
    if kind is Map:
        return _compile_map(_compile(schema.values))
    if kind is Union:
        return _compile_union({key: _compile(sub) for key, sub in schema.mapping.items()})
    return _compile_object(schema)


def _compile_array(check_item: _Check, max_items: int | None) -> _Check:
    def check_array(value: Any) -> _Error | None:
        if type(value) is not list:
            return [], "not an array"
        if max_items is not None and len(value) > max_items:
            return [], f"more than {max_items} items"
        for index, item in enumerate(value):
            if (error := check_item(item)) is not None:
                error[0].append(index)
                return error
        return None

    return check_array


def _compile_map(check_value: _Check) -> _Check:
    def check_map(value: Any) -> _Error | None:
        if type(value) is not dict:
            return [], "not an object"
        for key, item in value.items():
            if (error := check_value(item)) is not None:
                error[0].append(key)
                return error
        return None

    return check_map


def _compile_union(checks: dict[str, _Check]) -> _Check:
    names = sorted(checks)

    def check_union(value: Any) -> _Error | None:
        if type(value) is not dict:
            return [], "not an object"
        discriminator = value.get("type")
        check = checks.get(discriminator) if type(discriminator) is str else None
        if check is None:
            return ["type"], f"not one of {names}"
        return check(value)

    return check_union


def _compile_object(schema: Obj) -> _Check:
    required = tuple((key, _compile(sub)) for key, sub in schema.required.items())
    optional = tuple((key, _compile(sub)) for key, sub in schema.optional.items())

    def check_object(value: Any) -> _Error | None:
        if type(value) is not dict:
            return [], "not an object"
        for key, check in required:
            if key not in value:
                return [key], "missing"
            if (error := check(value[key])) is not None:
                error[0].append(key)
                return error
        for key, check in optional:
            if key in value and (error := check(value[key])) is not None:
                error[0].append(key)
                return error
        return None

    return check_object


_BASE_CHECK = _compile(EVENT)
_EVENT_CHECKS = {event_type: _compile(schema) for event_type, schema in EVENTS.items()}
