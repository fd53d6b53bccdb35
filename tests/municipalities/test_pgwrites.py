"""What processing a webhook event writes after its reply (the talk log, the metric events its
handlers recorded, ``processed``): one statement on PostgreSQL and the ORM's statements give
the same rows, and a metric is written once whatever becomes of the event (answered, refused by
a service, a handler's bug, a reply LINE refuses, given back after a transient fault)."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from municipalities.errors import ServiceError
from municipalities.line import dispatch, inbound, pgwrites, webhook
from municipalities.line import messages as m
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineClientError
from municipalities.line.simulator import SimulatorClient
from municipalities.line.talklog import talk_log_inbound_row
from municipalities.metrics import metric_event_record
from municipalities.models import MetricEvent, TalkMessage, WebhookEvent
from tests.fakeline import webhook_event

pytestmark = pytest.mark.django_db

IN, OUT = TalkMessage.Direction.INBOUND, TalkMessage.Direction.OUTBOUND
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"
)

# Both ways of writing, to run each test with (the one statement on PostgreSQL only).
FINISHES = [
    pytest.param(pgwrites.webhook_event_finish_orm, id="orm"),
    pytest.param(pgwrites.webhook_event_finish_one_statement, id="one-statement", marks=on_postgresql),
]


def _event(town, resident, status=WebhookEvent.Status.PROCESSING) -> WebhookEvent:
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text="質問")]}, municipality_id=town.pk
    )
    return WebhookEvent.objects.create(**{**fields, "status": status})


def _rows(town, resident, at: dt.datetime) -> tuple[list[TalkMessage], list[MetricEvent]]:
    """The rows of an answered question: the message, two reply messages, two metric events."""
    talk = [
        talk_log_inbound_row(
            resident=resident, kind="text", text="質問", payload={"type": "text", "text": "質問"}
        ),
        TalkMessage(
            municipality=town, resident=resident, direction=OUT, kind="text", text="答え", payload={"a": [1]}
        ),
        TalkMessage(municipality=town, resident=resident, direction=OUT, kind="flex", text="", payload={}),
    ]
    metrics = [
        MetricEvent(municipality=town, source="chatbot", kind="answered", topic="faq:1", label="ごみ"),
        MetricEvent(municipality=town, source="chatbot", kind="suggested", topic="", label=""),
    ]
    for row in [*talk, *metrics]:
        row.created_at = at
    return talk, metrics


def _written(event: WebhookEvent, since_pk: tuple[int, int]) -> tuple[list, list, str]:
    """The talk-log and metric rows written after ``since_pk``, in pk order, without their pk
    and ``updated_at`` (the time of the write); and the event's status."""
    talk = list(
        TalkMessage.objects.filter(pk__gt=since_pk[0])
        .order_by("pk")
        .values_list(
            "created_at", "municipality", "resident", "department", "direction", "kind", "text", "payload"
        )
    )
    metrics = list(
        MetricEvent.objects.filter(pk__gt=since_pk[1])
        .order_by("pk")
        .values_list("created_at", "municipality", "source", "kind", "topic", "label")
    )
    event.refresh_from_db()
    return talk, metrics, event.status


def _statements(queries: CaptureQueriesContext) -> int:
    """How many statements, without the savepoints of the ORM's transaction (nested in the
    test's: a worker, in none, opens a transaction instead)."""
    return sum(not q["sql"].startswith(("SAVEPOINT", "RELEASE")) for q in queries.captured_queries)


def _last_pks() -> tuple[int, int]:
    last_talk = TalkMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last_metric = MetricEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return last_talk, last_metric


@on_postgresql
@pytest.mark.parametrize("status", [WebhookEvent.Status.PROCESSING, WebhookEvent.Status.FAILED])
def test_the_one_statement_and_the_orm_write_the_same_rows(town, resident, status):
    at = timezone.now() - dt.timedelta(seconds=5)
    results = []
    for finish in (pgwrites.webhook_event_finish_orm, pgwrites.webhook_event_finish_one_statement):
        event = _event(town, resident, status=status)
        talk, metrics = _rows(town, resident, at)
        since = _last_pks()
        with CaptureQueriesContext(connection) as queries:
            finish(event_id=event.pk, talk_rows=talk, metric_rows=metrics)
        assert talk == [] and metrics == []  # written, so a retry writes nothing twice
        results.append((_written(event, since), _statements(queries), event.processed_at))
    (orm, orm_queries, orm_at), (one, one_queries, one_at) = results
    assert one == orm
    talk, metrics, event_status = one
    assert [(row[4], row[6]) for row in talk] == [(IN, "質問"), (OUT, "答え"), (OUT, "")]  # in order
    assert [row[3] for row in metrics] == ["answered", "suggested"]
    # done only from 処理中: an event whose failure was recorded keeps it, and its rows are written
    assert event_status == (WebhookEvent.Status.PROCESSED if status == "processing" else status)
    assert (orm_at is not None) == (one_at is not None) == (status == "processing")
    assert (orm_queries, one_queries) == (3, 1)


@pytest.mark.parametrize("finish", FINISHES)
def test_without_rows_only_the_event_is_done(town, resident, finish):
    event = _event(town, resident)
    since = _last_pks()
    with CaptureQueriesContext(connection) as queries:
        finish(event_id=event.pk, talk_rows=[], metric_rows=[])
    assert _written(event, since) == ([], [], WebhookEvent.Status.PROCESSED)
    assert _statements(queries) == 1


@pytest.mark.parametrize("finish", FINISHES)
def test_an_event_not_taken_is_not_made_processed(town, resident, finish):
    event = _event(town, resident, status=WebhookEvent.Status.RECEIVED)
    talk, metrics = _rows(town, resident, timezone.now())
    finish(event_id=event.pk, talk_rows=talk, metric_rows=metrics)
    event.refresh_from_db()
    assert (event.status, event.processed_at) == (WebhookEvent.Status.RECEIVED, None)


def test_postgresql_chooses_the_one_statement(town, resident):
    event = _event(town, resident)
    talk, metrics = _rows(town, resident, timezone.now())
    with CaptureQueriesContext(connection) as queries:
        pgwrites.webhook_event_finish(event_id=event.pk, talk_rows=talk, metric_rows=metrics)
    assert _statements(queries) == (1 if connection.vendor == "postgresql" else 3)


# --- through the worker: a metric is written once, whatever becomes of the event ---------------


@pytest.fixture(params=FINISHES)
def handlers(request, monkeypatch):
    """Handler registries of this test only; the worker writes its rows the param's way."""
    monkeypatch.setattr(dispatch, "_postback_handlers", {})
    monkeypatch.setattr(dispatch, "_text_handlers", [])
    monkeypatch.setattr(dispatch, "_text_fallback", [])
    monkeypatch.setattr(dispatch, "_fallback_notes", {})
    monkeypatch.setattr(pgwrites, "webhook_event_finish", request.param)
    return dispatch


def _process(town, resident) -> WebhookEvent:
    event = _event(town, resident, status=WebhookEvent.Status.RECEIVED)
    inbound.webhook_event_process(event=event, municipality=town, client=get_line_client(town))
    event.refresh_from_db()
    return event


def _record(ctx, kind: str = "answered") -> None:
    metric_event_record(municipality_id=ctx.municipality.pk, source="chatbot", kind=kind, topic="faq:1")


def _metrics(town) -> list[str]:
    return list(MetricEvent.objects.filter(municipality=town).order_by("pk").values_list("kind", flat=True))


def _log(resident) -> list[tuple[str, str]]:
    return list(
        TalkMessage.objects.filter(resident=resident)
        .order_by("created_at", "pk")
        .values_list("direction", "text")
    )


def test_an_answered_question_writes_its_metric_with_the_talk_log(town, resident, handlers):
    handlers.register_text(lambda ctx: _record(ctx) or [m.text("答えです")])
    assert _process(town, resident).status == WebhookEvent.Status.PROCESSED
    assert _metrics(town) == ["answered"]
    assert _log(resident) == [(IN, "質問"), (OUT, "答えです")]


def test_a_service_refusal_after_the_metric_keeps_it_once(town, resident, handlers):
    def refused(ctx):
        _record(ctx, "handed_off")
        raise ServiceError("満席です。")

    handlers.register_text(refused)
    assert _process(town, resident).status == WebhookEvent.Status.FAILED
    assert _metrics(town) == ["handed_off"]
    assert _log(resident) == [(IN, "質問"), (OUT, "満席です。")]


def test_a_handlers_bug_after_the_metric_keeps_it_once(town, resident, handlers):
    def bug(ctx):
        _record(ctx)
        raise RuntimeError("bug")

    handlers.register_text(bug)
    assert _process(town, resident).status == WebhookEvent.Status.FAILED
    assert _metrics(town) == ["answered"]


def test_a_reply_line_refuses_keeps_the_metric(town, resident, handlers, monkeypatch):
    handlers.register_text(lambda ctx: _record(ctx) or [m.text("答えです")])

    def refused(self, *args, **kwargs):
        raise LineClientError("bad request", status=400)

    monkeypatch.setattr(SimulatorClient, "reply", refused)
    assert _process(town, resident).status == WebhookEvent.Status.FAILED
    assert _metrics(town) == ["answered"]
    assert _log(resident) == [(IN, "質問")]


def test_an_event_given_back_records_its_metric_once_when_it_is_answered(town, resident, handlers):
    # given: the handler records its outcome, then meets Redis away (the event is given back)
    redis_down = [True]

    def flaky(ctx):
        _record(ctx)
        if redis_down.pop():
            raise redis.exceptions.ConnectionError("down")
        return [m.text("答えです")]

    handlers.register_text(flaky)
    event = _event(town, resident, status=WebhookEvent.Status.RECEIVED)
    client = get_line_client(town)
    with pytest.raises(inbound.EventDeferred):
        inbound.webhook_event_process(event=event, municipality=town, client=client)
    assert _metrics(town) == []  # the next attempt records it
    # when: it is answered
    event.refresh_from_db()
    redis_down.append(False)
    assert inbound.webhook_event_process(event=event, municipality=town, client=client)
    # then: counted once
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert _metrics(town) == ["answered"]


def test_a_metric_recorded_in_a_transaction_that_rolls_back_is_not_written(town, resident, handlers):
    def rolled_back(ctx):
        try:
            with transaction.atomic():
                _record(ctx, "not_understood")
                raise ValueError("the service gave up")
        except ValueError:
            pass
        _record(ctx)
        return [m.text("答えです")]

    handlers.register_text(rolled_back)
    assert _process(town, resident).status == WebhookEvent.Status.PROCESSED
    assert _metrics(town) == ["answered"]


def test_outside_the_worker_a_metric_is_written_at_once(town):
    with CaptureQueriesContext(connection) as queries:
        row = metric_event_record(municipality_id=town.pk, source="chatbot", kind="answered")
    assert row.pk is not None and len(queries) == 1


def test_rows_the_database_refuses_do_not_keep_the_event_from_being_done(
    town, resident, handlers, monkeypatch
):
    # given: the write together fails (a bug, a resident deleted meanwhile), and so do the
    # talk-log rows on their own
    handlers.register_text(lambda ctx: _record(ctx) or [m.text("答えです")])

    def refused(**kwargs):
        raise DataError("refused")

    real_insert = pgwrites.rows_insert

    def talk_refused(rows):
        if rows and isinstance(rows[0], TalkMessage):
            raise DataError("refused")
        real_insert(rows)

    monkeypatch.setattr(pgwrites, "webhook_event_finish", refused)
    monkeypatch.setattr(pgwrites, "rows_insert", talk_refused)
    # when / then: the answer went out, so the event is done; the metric is kept
    assert _process(town, resident).status == WebhookEvent.Status.PROCESSED
    assert _metrics(town) == ["answered"]
    assert _log(resident) == []
