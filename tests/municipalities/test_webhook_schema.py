"""The webhook's compact event schema (``municipalities/line/webhook_schema.py``) says what LINE's
OpenAPI document ``webhook.yml`` says: checked with jsonschema, as the LINE API contract tests
check what we send (``tests/fakeline.py``)."""

from __future__ import annotations

import threading
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from municipalities.line.webhook_schema import EVENTS, event_error

_SPEC_CANDIDATES = [
    Path(__file__).resolve().parents[3] / "shared" / "line-openapi" / "webhook.yml",
    Path(__file__).resolve().parents[2] / "shared" / "line-openapi" / "webhook.yml",
]


@cache
def _spec() -> dict[str, Any]:
    import yaml

    for candidate in _SPEC_CANDIDATES:
        if candidate.exists():
            return yaml.safe_load(candidate.read_text(encoding="utf-8"))
    raise FileNotFoundError("shared/line-openapi/webhook.yml not found")


@cache
def _event_validator() -> Any:
    """jsonschema for ``#/components/schemas/Event``, following LINE's discriminators (the same
    extension as ``tests/fakeline.py`` uses for the Messaging API document)."""
    from jsonschema import ValidationError, validators
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    uri = "urn:line:webhook"
    active = threading.local()

    def discriminator(validator: Any, disc: dict[str, Any], instance: Any, schema: dict[str, Any]) -> Any:
        if not validator.is_type(instance, "object"):
            return
        value = instance.get(disc["propertyName"])
        target = (disc.get("mapping") or {}).get(value) if isinstance(value, str) else None
        if target is None:
            yield ValidationError(f"{disc['propertyName']}={value!r} is not mapped")
            return
        stack = active.__dict__.setdefault("stack", set())
        key = (id(instance), target)
        if key in stack:
            return
        stack.add(key)
        try:
            yield from validator.descend(instance, {"$ref": uri + target})
        finally:
            stack.discard(key)

    validator_class = validators.extend(OAS30Validator, {"discriminator": discriminator})
    registry = Registry().with_resource(uri, Resource(contents=_spec(), specification=DRAFT4))
    return validator_class({"$ref": f"{uri}#/components/schemas/Event"}, registry=registry)


def _lines_verdict(event: Any) -> bool:
    return _event_validator().is_valid(event)


def _base(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": event_type,
        "mode": "active",
        "timestamp": 1_700_000_000_000,
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": "U" + "a" * 32},
        **fields,
    }


# One valid example of each event type LINE documents (from the Messaging API reference).
EXAMPLES = [
    _base(
        "message",
        replyToken="r",
        message={"id": "1", "type": "text", "text": "こんにちは", "quoteToken": "q"},
    ),
    _base(
        "message",
        replyToken="r",
        message={
            "id": "1",
            "type": "text",
            "text": "@all (hello)",
            "quoteToken": "q",
            "emojis": [{"index": 5, "length": 7, "productId": "p", "emojiId": "e"}],
            "mention": {"mentionees": [{"type": "all", "index": 0, "length": 4}]},
        },
    ),
    _base(
        "message",
        message={"id": "1", "type": "image", "quoteToken": "q", "contentProvider": {"type": "line"}},
    ),
    _base(
        "message",
        message={"id": "1", "type": "video", "quoteToken": "q", "contentProvider": {"type": "line"}},
    ),
    _base(
        "message", message={"id": "1", "type": "audio", "duration": 60, "contentProvider": {"type": "line"}}
    ),
    _base("message", message={"id": "1", "type": "file", "fileName": "a.pdf", "fileSize": 10}),
    _base("message", message={"id": "1", "type": "location", "latitude": 35.6, "longitude": 139.7}),
    _base(
        "message",
        message={
            "id": "1",
            "type": "sticker",
            "packageId": "1",
            "stickerId": "2",
            "stickerResourceType": "STATIC",
            "quoteToken": "q",
            "keywords": ["Hi"],
        },
    ),
    _base("unsend", unsend={"messageId": "1"}),
    _base("follow", replyToken="r", follow={"isUnblocked": False}),
    _base("unfollow"),
    _base("join", replyToken="r", source={"type": "group", "groupId": "C1"}),
    _base("leave", source={"type": "room", "roomId": "R1"}),
    _base("memberJoined", replyToken="r", joined={"members": [{"type": "user", "userId": "U1"}]}),
    _base("memberLeft", left={"members": [{"type": "user", "userId": "U1"}]}),
    _base("postback", replyToken="r", postback={"data": "rsv:1", "params": {"datetime": "2026-12-16T10:00"}}),
    _base("videoPlayComplete", replyToken="r", videoPlayComplete={"trackingId": "t"}),
    _base("beacon", replyToken="r", beacon={"hwid": "d41d8cd98f", "type": "enter"}),
    _base("accountLink", replyToken="r", link={"result": "ok", "nonce": "n"}),
    _base("membership", replyToken="r", membership={"type": "joined", "membershipId": 3}),
    _base("module", module={"type": "attached", "botId": "U1", "scopes": ["message:send"]}),
    _base("module", module={"type": "detached", "botId": "U1", "reason": "bot_deleted"}),
    _base("activated", chatControl={"expireAt": 1_700_000_000_000}),
    _base("deactivated"),
    _base("botSuspended"),
    _base("botResumed"),
    _base("delivery", delivery={"data": "hash"}),
]


def test_the_table_covers_every_event_type_lines_document_maps():
    mapping = _spec()["components"]["schemas"]["Event"]["discriminator"]["mapping"]
    assert set(EVENTS) == set(mapping)
    assert {example["type"] for example in EXAMPLES} == set(mapping)


def test_lines_examples_pass_both():
    for example in EXAMPLES:
        assert _lines_verdict(example), example
        assert event_error(example) is None, (example, event_error(example))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A documented example with one place changed: a value replaced by any JSON, or removed."""
    import copy

    event = copy.deepcopy(draw(st.sampled_from(EXAMPLES)))
    path = draw(st.sampled_from([p for p in _paths(event) if p]))
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(_JSON)
    return event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=mutated_events())
def test_the_table_and_lines_document_agree_on_changed_events(event):
    # An event type the document does not map is the table's one deliberate difference (see
    # webhook_schema.py): it is checked against the base Event there.
    if isinstance(event.get("type"), str) and event["type"] not in EVENTS:
        return
    assert (event_error(event) is None) == _lines_verdict(event), (event, event_error(event))
