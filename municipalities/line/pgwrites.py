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

one round trip and one commit instead of three. Its parts are the SQL Django builds for
``bulk_create`` and ``update()`` (the same columns, defaults and field conversions), so the rows
are the ORM's. Every part runs whatever the UPDATE matches: the rows of an event whose failure
was recorded meanwhile (``failed``) are written, as with separate statements.

Elsewhere (SQLite: development, the SQLite test run) the same writes go through the ORM, one
statement each in one transaction (``webhook_event_finish_orm``).
tests/municipalities/test_pgwrites.py runs both on PostgreSQL and compares the rows.
``connection.vendor`` chooses; nothing else in the worker's path has a statement of its own.

A connection cut after the commit but before its answer reaches the worker makes the retry write
the rows again (the event is then no longer ``processing``): as with the ORM's statements.
"""

from __future__ import annotations

from django.db import connection, models, transaction
from django.db.models import sql
from django.utils import timezone

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
    for name, model, rows in (("talk", TalkMessage, talk_rows), ("metric", MetricEvent, metric_rows)):
        if rows:
            statement, values = _insert_sql(model, rows)
            ctes.append(f"{name} AS ({statement})")
            params += values
    query = _processing(event_id).query.chain(sql.UpdateQuery)
    query.add_update_values({"status": WebhookEvent.Status.PROCESSED, "processed_at": timezone.now()})
    update, values = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute((f"WITH {', '.join(ctes)} " if ctes else "") + update, [*params, *values])
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


def _insert_sql(model: type[models.Model], rows: list) -> tuple[str, list[object]]:
    """The INSERT ``bulk_create(rows)`` runs (rows without a primary key, nothing returned)."""
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated and f is not opts.auto_field]
    query = sql.InsertQuery(model)
    query.insert_values(fields, rows)
    [(statement, params)] = query.get_compiler(connection=connection).as_sql()
    return statement, list(params)
