"""What processing a webhook event writes after its reply, in one statement on PostgreSQL.

Once the reply went out (or failed), an event leaves three writes: its talk-log rows (the
resident's message and the reply's, ``talk_log_outbound(into=…)``), the metric rows its handlers
recorded (the chatbot's outcome, kept by ``metrics.metric_events_deferred``), and its
``processing`` → ``processed``. On PostgreSQL they are one autocommitted statement, a
data-modifying CTE::

    WITH talk AS (INSERT INTO municipalities_talkmessage … VALUES (…), (…)),
         metric AS (INSERT INTO municipalities_metricevent … VALUES (…))
    UPDATE municipalities_webhookevent SET status = 'processed', processed_at = …
    WHERE id = … AND status = 'processing'

one round trip and one commit instead of three. The INSERTs are ``municipalities.insert_sql``'s:
the columns of ``bulk_create`` and the values each field prepares, so the rows are the ORM's;
the SQL text is built once per shape, not compiled per event. Every part runs whatever the
UPDATE matches: the rows of an event whose failure was recorded meanwhile (``failed``) are
written, as with separate statements.

Elsewhere (SQLite: development, the SQLite test run) the same writes go through the ORM, one
statement each in one transaction (``webhook_event_finish_orm``).
tests/municipalities/test_pgwrites.py runs both on PostgreSQL and compares the rows.
``connection.vendor`` chooses; nothing else in the worker's path has a statement of its own.

A connection cut after the commit but before its answer reaches the worker makes the retry write
the rows again (the event is then no longer ``processing``): as with the ORM's statements.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models, transaction
from django.utils import timezone

from municipalities.insert_sql import insert_values
from municipalities.models import MetricEvent, TalkMessage, WebhookEvent


def webhook_event_finish(
    *, event_id: int, talk_rows: list[TalkMessage], metric_rows: list[MetricEvent]
) -> None:
    """Write ``talk_rows`` and ``metric_rows`` (unsaved, written in their order) and make the
    event ``processed`` if it is still ``processing``; all or nothing. The lists are emptied
    once written, so that a retry (``inbound._write_fresh``) does not write them twice."""
    if connection.vendor == "postgresql":
        webhook_event_finish_one_statement(event_id=event_id, talk_rows=talk_rows, metric_rows=metric_rows)
    else:
        webhook_event_finish_orm(event_id=event_id, talk_rows=talk_rows, metric_rows=metric_rows)


def webhook_event_finish_one_statement(
    *, event_id: int, talk_rows: list[TalkMessage], metric_rows: list[MetricEvent]
) -> None:
    """PostgreSQL: all of it in one statement (see the module's docstring)."""
    ctes: list[str] = []
    params: list[object] = []
    for name, rows in (("talk", talk_rows), ("metric", metric_rows)):
        if rows:
            statement, values = insert_values(rows)
            ctes.append(f"{name} AS ({statement})")
            params += values
    params += [WebhookEvent.Status.PROCESSED, timezone.now(), event_id, WebhookEvent.Status.PROCESSING]
    with connection.cursor() as cursor:
        cursor.execute((f"WITH {', '.join(ctes)} " if ctes else "") + _done_statement(), params)
    talk_rows.clear()
    metric_rows.clear()


def webhook_event_finish_orm(
    *, event_id: int, talk_rows: list[TalkMessage], metric_rows: list[MetricEvent]
) -> None:
    """Any database: the same writes with the ORM, one statement each, in one transaction (all
    or nothing, as the one statement; on SQLite one commit instead of three)."""
    with transaction.atomic():
        rows_insert(talk_rows)
        rows_insert(metric_rows)
        _processing(event_id).update(status=WebhookEvent.Status.PROCESSED, processed_at=timezone.now())
    talk_rows.clear()
    metric_rows.clear()


def rows_insert(rows: list[models.Model]) -> None:
    """``rows`` (unsaved, of one model) in one INSERT, the ORM's. One row is saved plainly:
    ``bulk_create``'s own work costs more CPU than ``save()`` for a single row."""
    if len(rows) == 1:
        rows[0].save(force_insert=True)
    elif rows:
        type(rows[0])._default_manager.bulk_create(rows)


def _processing(event_id: int) -> models.QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.PROCESSING)


@cache
def _done_statement() -> str:
    """``_processing(id).update(status=…, processed_at=…)``: status, processed_at, id, status."""
    opts = WebhookEvent._meta
    status, processed_at = (opts.get_field(name).column for name in ("status", "processed_at"))
    quote = connection.ops.quote_name
    return (
        f"UPDATE {quote(opts.db_table)} SET {quote(status)} = %s, {quote(processed_at)} = %s "  # noqa: S608
        f"WHERE {quote(opts.pk.column)} = %s AND {quote(status)} = %s"
    )
