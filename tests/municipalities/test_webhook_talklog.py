"""The talk log of a processed event: the resident's message is written with the reply's rows
after the reply (one INSERT, the message first), and on its own whenever no reply carried it."""

from __future__ import annotations

import pytest
import redis
from django.db import connection

from municipalities.line import dispatch, inbound, webhook
from municipalities.line import messages as m
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineClientError, LineReplyTokenExpired
from municipalities.line.simulator import SimulatorClient
from municipalities.models import TalkMessage, WebhookEvent
from tests.fakeline import webhook_event

pytestmark = pytest.mark.django_db

IN, OUT = TalkMessage.Direction.INBOUND, TalkMessage.Direction.OUTBOUND


@pytest.fixture
def handlers(monkeypatch):
    """Handler registries of this test only."""
    monkeypatch.setattr(dispatch, "_postback_handlers", {})
    monkeypatch.setattr(dispatch, "_text_handlers", [])
    monkeypatch.setattr(dispatch, "_text_fallback", [])
    monkeypatch.setattr(dispatch, "_fallback_notes", {})
    return dispatch


def _stored(town, resident, text: str = "質問") -> WebhookEvent:
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text=text)]}, municipality_id=town.pk
    )
    return WebhookEvent.objects.create(**fields)


def _answering_after(faults: list[Exception]):
    """A text handler that raises each of ``faults`` in turn, then answers 答えです."""

    def handler(ctx):
        if faults:
            raise faults.pop()
        return [m.text("答えです")]

    return handler


def _process(town, resident, text: str = "質問") -> WebhookEvent:
    event = _stored(town, resident, text)
    inbound.webhook_event_process(event=event, municipality=town, client=get_line_client(town))
    event.refresh_from_db()
    return event


def _log(resident) -> list[tuple[str, str]]:
    return list(
        TalkMessage.objects.filter(resident=resident)
        .order_by("created_at", "pk")
        .values_list("direction", "text")
    )


def test_the_message_and_the_answer_are_one_insert(town, resident, handlers, django_assert_num_queries):
    handlers.register_text(lambda ctx: [m.text("答えです")])
    event = _stored(town, resident)
    # claim, sender, savepoint, delivery, release, then the talk log (both rows) and done: one
    # statement on PostgreSQL (municipalities.line.pgwrites), elsewhere two in a transaction
    # (savepoint, insert, update, release)
    with django_assert_num_queries(6 if connection.vendor == "postgresql" else 9):
        inbound.webhook_event_process(event=event, municipality=town, client=get_line_client(town))
    assert _log(resident) == [(IN, "質問"), (OUT, "答えです")]


def test_a_message_answered_with_nothing_is_logged(town, resident, handlers):
    handlers.register_text(lambda ctx: [])  # handled, no answer (e.g. staff have taken over)
    assert _process(town, resident).status == WebhookEvent.Status.PROCESSED
    assert _log(resident) == [(IN, "質問")]


def test_a_handlers_bug_logs_the_message_before_the_apology(town, resident, handlers):
    def bug(ctx):
        raise RuntimeError("bug")

    handlers.register_text(bug)
    assert _process(town, resident).status == WebhookEvent.Status.FAILED
    [(first, text), (second, apology)] = _log(resident)
    assert (first, text) == (IN, "質問") and second == OUT and "ただいま処理できませんでした" in apology


def test_a_message_given_back_after_a_transient_fault_is_logged_as_before(town, resident, handlers):
    def redis_down(ctx):
        raise redis.exceptions.ConnectionError("down")

    handlers.register_text(redis_down)
    with pytest.raises(inbound.EventDeferred):
        _process(town, resident)
    assert _log(resident) == [(IN, "質問")]


def test_a_message_given_back_twice_is_logged_once_when_it_is_answered(town, resident, handlers):
    # given: Redis is away for the first two attempts; the first writes the message
    handlers.register_text(
        _answering_after([redis.exceptions.ConnectionError("down"), redis.exceptions.ConnectionError("down")])
    )
    event = _stored(town, resident)
    client = get_line_client(town)
    for _attempt in range(2):
        with pytest.raises(inbound.EventDeferred):
            inbound.webhook_event_process(event=event, municipality=town, client=client)
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.RECEIVED and event.inbound_logged
    # when: the fault has passed
    assert inbound.webhook_event_process(event=event, municipality=town, client=client)
    # then: the message is in the talk log once, before the answer
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED and event.attempts == 2
    assert _log(resident) == [(IN, "質問"), (OUT, "答えです")]


def test_a_message_the_database_kept_from_the_log_is_logged_by_the_next_attempt(
    town, resident, handlers, monkeypatch
):
    # given: the first attempt cannot write the message before the event is given back
    handlers.register_text(_answering_after([redis.exceptions.ConnectionError("down")]))
    monkeypatch.setattr(inbound, "_write_unlogged_if_possible", lambda unlogged: False)
    event = _stored(town, resident)
    client = get_line_client(town)
    with pytest.raises(inbound.EventDeferred):
        inbound.webhook_event_process(event=event, municipality=town, client=client)
    event.refresh_from_db()
    assert not event.inbound_logged and _log(resident) == []
    # when / then: the next attempt logs it with its answer
    assert inbound.webhook_event_process(event=event, municipality=town, client=client)
    assert _log(resident) == [(IN, "質問"), (OUT, "答えです")]


def test_a_refused_token_pushes_and_the_message_is_logged_once(town, resident, handlers, monkeypatch):
    handlers.register_text(lambda ctx: [m.text("答えです")])

    def refused(self, *args, **kwargs):
        raise LineReplyTokenExpired("Invalid reply token", status=400)

    monkeypatch.setattr(SimulatorClient, "reply", refused)
    assert _process(town, resident).status == WebhookEvent.Status.PROCESSED
    assert _log(resident) == [(IN, "質問"), (OUT, "答えです")]  # by time: the message first


def test_a_reply_line_refuses_leaves_the_message_logged(town, resident, handlers, monkeypatch):
    handlers.register_text(lambda ctx: [m.text("答えです")])

    def refused(self, *args, **kwargs):
        raise LineClientError("bad request", status=400)

    monkeypatch.setattr(SimulatorClient, "reply", refused)
    event = _process(town, resident)
    assert event.status == WebhookEvent.Status.FAILED and "bad request" in event.error
    assert _log(resident) == [(IN, "質問")]
