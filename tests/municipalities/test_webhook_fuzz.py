"""Webhook fuzz: correctly signed bodies of LINE-like events, some broken on purpose (numbers huge,
fractional, negative or not numbers at all, nesting thousands deep, text and postback data that
are not strings, NUL and half surrogate pairs, any unicode). Never a 500, and never a half-stored
post: the rule of ``webhook.py`` is that a post's good events are stored, each exactly once
(however often the post comes), its bad ones never, and a post whose events are all bad, or whose
body cannot be read safely, is a 400 with nothing stored."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from municipalities.line import webhook
from municipalities.models import WebhookEvent
from tests.fakeline import post_webhook, webhook_event

# Text a resident can send: any unicode LINE carries (no surrogates: they are not characters).
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)
USER = st.sampled_from(["U" + c * 32 for c in "0123456789abcdef"])


@dataclass
class Event:
    text: str  # the event's JSON text
    event_id: str
    good: bool
    breaks_body: bool = False  # the whole body cannot be read safely: a 400 for the post


@st.composite
def good_events(draw: st.DrawFn) -> Event:
    event_id = uuid.uuid4().hex.upper()[:26]
    kind = draw(
        st.sampled_from(["message", "follow", "unfollow", "postback", "sticker", "location", "unknown"])
    )
    user = draw(USER)
    if kind == "message":
        event = webhook_event("message", user, text=draw(TEXT), event_id=event_id)
    elif kind == "postback":
        event = webhook_event("postback", user, data=draw(TEXT), event_id=event_id)
    elif kind == "sticker":
        event = webhook_event("message", user, event_id=event_id)
        event["message"] = {
            "id": "1",
            "type": "sticker",
            "packageId": "1",
            "stickerId": "2",
            "stickerResourceType": "STATIC",
            "quoteToken": "q",
            "keywords": draw(st.lists(TEXT, max_size=15)),
        }
    elif kind == "location":
        event = webhook_event("message", user, event_id=event_id)
        coordinate = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**15), 10**15)
        event["message"] = {
            "id": "1",
            "type": "location",
            "latitude": draw(coordinate),
            "longitude": draw(coordinate),
        }
    elif kind == "unknown":  # a type LINE may add: stored, not answered
        event = {**webhook_event("unfollow", user, event_id=event_id), "type": "newKind"}
    else:
        event = webhook_event(kind, user, event_id=event_id)
    event["timestamp"] = draw(st.integers(webhook.MIN_TIMESTAMP_MS, webhook.MAX_TIMESTAMP_MS))
    if draw(st.booleans()):  # fields LINE adds later, nested within the limit, any JSON numbers
        depth = draw(st.integers(0, webhook.MAX_DEPTH - 4))
        leaf = draw(st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
        event["extra"] = json.loads("[" * depth + json.dumps(leaf) + "]" * depth)
    return Event(json.dumps(event, ensure_ascii=draw(st.booleans())), event_id, good=True)


@st.composite
def bad_events(draw: st.DrawFn) -> Event:
    base = draw(good_events())
    event = json.loads(base.text)
    how = draw(
        st.sampled_from(
            [
                "timestamp",
                "text",
                "data",
                "nan",
                "overflow",
                "nul",
                "surrogate",
                "missing",
                "mode",
                "deep",
                "digits",
            ]
        )
    )
    breaks_body = False
    if how == "timestamp":
        number = draw(
            st.sampled_from(
                ["1e22", "1.5e12", "-1", "0", "10000000000000000000000", "true", '"soon"', "null"]
            )
        )
        text = json.dumps({**event, "timestamp": 0}).replace('"timestamp": 0', f'"timestamp": {number}')
    elif how in ("text", "data"):
        odd = draw(
            st.integers()
            | st.floats(allow_nan=False)
            | st.none()
            | st.lists(TEXT, max_size=2)
            | st.booleans()
        )
        if how == "text":
            event.update(type="message", message={"id": "1", "type": "text", "text": odd, "quoteToken": "q"})
        else:
            event.update(type="postback", postback={"data": odd})
        text = json.dumps(event)
    elif how in ("nan", "overflow"):
        literal = "NaN" if how == "nan" else draw(st.sampled_from(["1e999", "-1e400", "Infinity"]))
        text = json.dumps({**event, "odd": 0}).replace('"odd": 0', f'"odd": [{literal}]')
    elif how in ("nul", "surrogate"):
        escape = "\\u0000" if how == "nul" else draw(st.sampled_from(["\\ud800", "\\udfff", "\\udbff!"]))
        event.update(type="message", message={"id": "1", "type": "text", "text": "TEXT", "quoteToken": "q"})
        text = json.dumps(event).replace("TEXT", json.dumps(draw(TEXT))[1:-1] + escape)
    elif how == "missing":
        del event[draw(st.sampled_from(["mode", "timestamp", "deliveryContext"]))]
        text = json.dumps(event)
    elif how == "mode":
        text = json.dumps({**event, "mode": draw(TEXT.filter(lambda t: t not in ("active", "standby")))})
    elif how == "deep":
        depth = draw(st.sampled_from([webhook.MAX_DEPTH, 1_000, 5_000]))
        text = json.dumps({**event, "odd": 0}).replace('"odd": 0', '"odd": ' + "[" * depth + "]" * depth)
        breaks_body = True
    else:  # an integer longer than Python decodes
        text = json.dumps({**event, "odd": 0}).replace('"odd": 0', '"odd": ' + "9" * 5_000)
        breaks_body = True
    return Event(text, base.event_id, good=False, breaks_body=breaks_body)


def _body(events: list[Event]) -> bytes:
    return (
        '{"destination": "U' + "f" * 32 + '", "events": [' + ",".join(e.text for e in events) + "]}"
    ).encode()


@pytest.fixture
def fresh_channels():
    webhook.forget_channel()
    yield
    webhook.forget_channel()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(events=st.lists(good_events() | bad_events(), max_size=6), twice=st.booleans())
def test_signed_bodies_never_get_a_500_and_are_never_half_stored(client, town, fresh_channels, events, twice):
    # given: the rule's expected outcome for this post
    body = _body(events)
    if any(e.breaks_body for e in events):
        expected_status, expected = 400, set()
    else:
        expected = {e.event_id for e in events if e.good}
        expected_status = 400 if events and not expected else 200
    ids = {e.event_id for e in events}
    # when: LINE posts it (and, sometimes, again: a redelivery)
    responses = [post_webhook(client, town, body=body) for _ in range(2 if twice else 1)]
    # then
    assert [r.status_code for r in responses] == [expected_status] * len(responses), body[:300]
    stored = list(
        WebhookEvent.objects.filter(municipality=town, webhook_event_id__in=ids).values_list(
            "webhook_event_id", flat=True
        )
    )
    assert sorted(stored) == sorted(expected), body[:300]
