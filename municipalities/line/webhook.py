"""Inbound: ``POST /line/webhook/<slug>/``.

The hot path is deliberately small, because LINE waits for the answer and a busy town sends
thousands of events a second during an emergency broadcast:

1. look the channel up (a short in-process cache of slug → id and secret);
2. refuse bodies over 1 MB (413), a bad or missing ``X-Line-Signature`` (400, nothing stored)
   and bodies that are not LINE's JSON (400);
3. store the events with one ``INSERT … ON CONFLICT DO NOTHING`` (the unique constraint on
   ``(municipality, webhook_event_id)`` makes a redelivery or two simultaneous identical
   posts one row);
4. after commit, wake the drain task of the town's lane the events are in (one Redis ``SET
   NX``, skipped for a second once the process has seen the flag set; eager mode processes the
   events at once) and answer 200.

A town's events are processed in ``settings.LINE_WEBHOOK_LANES`` lanes, each drained by one
task at a time: several workers answer a busy town at once, and the events of one resident,
always in the same lane, are answered in order.

Processing (follow, unfollow, messages, postbacks) happens in ``inbound.py``, through
``municipalities.tasks.webhook_events_drain_task`` (eager mode: ``webhook_events_process_task``);
it claims each row, so an event is processed once however often it arrives.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from linebot.v3.webhook import SignatureValidator

from municipalities.models import Municipality, WebhookEvent

logger = logging.getLogger(__name__)

# slug → (municipality id, channel secret, expires at). A changed secret applies within this.
CHANNEL_CACHE_SECONDS = 30.0
_channels: dict[str, tuple[int, str, float]] = {}
_channels_lock = threading.Lock()


def _channel(slug: str) -> tuple[int, str] | None:
    now = time.monotonic()
    cached = _channels.get(slug)
    if cached is not None and cached[2] > now:
        return cached[0], cached[1]
    municipality = Municipality.objects.filter(slug=slug).only("pk", "channel_secret").first()
    if municipality is None:
        return None
    with _channels_lock:
        _channels[slug] = (municipality.pk, municipality.channel_secret or "", now + CHANNEL_CACHE_SECONDS)
    return municipality.pk, municipality.channel_secret or ""


def forget_channel(slug: str | None = None) -> None:
    """Drop the cached channel secret(s) (after a change, and in tests)."""
    with _channels_lock:
        if slug is None:
            _channels.clear()
        else:
            _channels.pop(slug, None)


@receiver([post_save, post_delete], sender=Municipality, dispatch_uid="line.webhook.forget_channel")
def _forget_changed_channel(sender: type[Municipality], instance: Municipality, **kwargs: Any) -> None:
    # Cache invalidation only (no business logic): this process sees a new secret at once;
    # other processes within CHANNEL_CACHE_SECONDS.
    forget_channel(instance.slug)


def signature_valid(*, channel_secret: str, body: str, signature: str) -> bool:
    """LINE's check: base64(HMAC-SHA256(channel secret, raw body)) == X-Line-Signature."""
    if not channel_secret or not signature:
        return False
    return SignatureValidator(channel_secret).validate(body, signature)


class BadEvents(ValueError):
    pass


def lane_of(line_user_id: str) -> int:
    """The drain lane of a resident's events: stable for one user id (CRC-32, not ``hash()``,
    which differs between processes)."""
    return zlib.crc32(line_user_id.encode()) % settings.LINE_WEBHOOK_LANES


def _occurred_at(timestamp: Any) -> datetime:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise BadEvents("timestamp")
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)


def parse_events(payload: Any, *, municipality_id: int) -> list[dict[str, Any]]:
    """The rows to store for a webhook body (``WebhookEvent`` field values); BadEvents when it is
    not LINE's shape."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadEvents("events")
    rows = []
    seen = set()
    for event in payload["events"]:
        if not isinstance(event, dict):
            raise BadEvents("event")
        event_type = event.get("type")
        event_id = event.get("webhookEventId")
        mode = event.get("mode", "active")
        context = event.get("deliveryContext") or {}
        source = event.get("source") or {}
        if not isinstance(event_type, str) or not event_type or len(event_type) > 32:
            raise BadEvents("type")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
            raise BadEvents("webhookEventId")
        if mode not in {"active", "standby"} or not isinstance(context, dict) or not isinstance(source, dict):
            raise BadEvents("mode")
        user_id = source.get("userId", "")
        reply_token = event.get("replyToken", "")
        if not isinstance(user_id, str) or len(user_id) > 64 or not isinstance(reply_token, str):
            raise BadEvents("source")
        if event_id in seen:  # the same event twice in one body: store it once
            continue
        seen.add(event_id)
        rows.append(
            {
                "municipality_id": municipality_id,
                "webhook_event_id": event_id,
                "event_type": event_type,
                "mode": mode,
                "is_redelivery": bool(context.get("isRedelivery")),
                "line_user_id": user_id,
                "reply_token": reply_token[:255],
                "occurred_at": _occurred_at(event.get("timestamp")),
                "payload": event,
                "lane": lane_of(user_id),
                # standby: another channel (e.g. a chat module) answers; stored, never answered
                "status": WebhookEvent.Status.SKIPPED if mode == "standby" else WebhookEvent.Status.RECEIVED,
            }
        )
    return rows


# The PostgreSQL insert of a body's events. The rows go over as one JSON parameter that the
# server turns into records (``jsonb_to_recordset``): binding a dozen columns per row costs the
# web process more than the whole insert costs the server. Built once; only the model's table
# name is formatted in, every value is a parameter.
_INSERT_SQL = f"""
INSERT INTO "{WebhookEvent._meta.db_table}" (municipality_id, created_at, updated_at, processed_at, error, webhook_event_id,
                     event_type, mode, is_redelivery, line_user_id, reply_token, occurred_at, payload, status, lane)
SELECT %s, %s, %s, NULL, '', r.webhook_event_id, r.event_type, r.mode, r.is_redelivery, r.line_user_id,
       r.reply_token, r.occurred_at, r.payload, r.status, r.lane
FROM jsonb_to_recordset(%s::jsonb) AS r(webhook_event_id varchar, event_type varchar, mode varchar,
     is_redelivery boolean, line_user_id varchar, reply_token varchar, occurred_at timestamptz,
     payload jsonb, status varchar, lane smallint)
ON CONFLICT DO NOTHING
"""  # noqa: S608


def _store(rows: list[dict[str, Any]]) -> None:
    """Store the events of a body once: ``INSERT … ON CONFLICT DO NOTHING`` (the unique
    constraint on ``(municipality, webhook_event_id)`` decides, also between simultaneous posts).

    On PostgreSQL, outside a transaction (the request path), this is one prepared statement on
    Django's connection in autocommit mode: one round trip, no ``SELECT 1`` health check first.
    Instead, a statement that fails because the connection died (a database restart) is sent
    once more on a new connection, which the ``ON CONFLICT`` makes safe. With
    ``LINE_WEBHOOK_ASYNC_COMMIT`` (off by default) the commit does not wait for the WAL flush
    (``synchronous_commit = off`` for this transaction only): faster only where the flush is
    slow, and a *database server* crash can forget the events of its last fraction of a second,
    whose replies are then not sent; rows are never half-written. Elsewhere (SQLite, inside a
    transaction) it is ``bulk_create``.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        WebhookEvent.objects.bulk_create([WebhookEvent(**row) for row in rows], ignore_conflicts=True)
        return
    now = timezone.now()
    records = json.dumps(
        [{**row, "occurred_at": row["occurred_at"].isoformat()} for row in rows], ensure_ascii=False
    )
    params = [rows[0]["municipality_id"], now, now, records]
    for attempt in (1, 2):
        connection.ensure_connection()
        try:
            _insert(connection.connection, params)
            return
        except psycopg.OperationalError:
            if attempt == 2 or not (connection.connection.broken or connection.connection.closed):
                raise
            logger.warning("webhook: the database connection was gone; storing again on a new one")
            connection.close()


def _insert(raw: psycopg.Connection, params: list[Any]) -> None:
    cursor = psycopg.Cursor(raw)  # server-side binding (Django's own cursors bind client-side)
    if not settings.LINE_WEBHOOK_ASYNC_COMMIT:
        cursor.execute(_INSERT_SQL, params, prepare=True)
        return
    with raw.pipeline(), raw.transaction():  # BEGIN, SET LOCAL, INSERT, COMMIT in one round trip
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_INSERT_SQL, params, prepare=True)


WAKE_KEY = "line:webhook:wake:{municipality_id}:{lane}"
WAKE_SECONDS = 60  # a lost drain task delays processing by at most this (plus the sweep)
# A process that has just seen a lane's wake flag set does not ask Redis again for this long:
# under a rush, one Redis command per process a second instead of one per post. An event stored
# in that second may come after the woken run's last read; every woken run therefore drains
# once more this long after it ends (see ``webhook_events_drain_task``), and that follow-up
# reads it.
WAKE_SEEN_SECONDS = 1.0
_wake_seen_until: dict[tuple[int, int], float] = {}  # (municipality id, lane) → time.monotonic() deadline


def _enqueue(municipality_id: int, rows: list[dict[str, Any]]) -> None:
    """Have the stored events (``rows``, as ``parse_events`` made them) processed.

    Eager (demo, tests): process these events now. With a broker: wake the drain task of each
    lane they are in, at most once until it starts (``cache.add`` is Redis ``SET NX``). At most
    one cheap Redis command per lane and process a second instead of one Celery message per
    request: under a rush, one drain task picks up hundreds of events. The drain task deletes
    the flag *before* it reads the pending events, so an event stored after that read sets the
    flag again and wakes another run, or, within ``WAKE_SEEN_SECONDS`` of a process seeing the
    flag, is read by the woken run's follow-up: none is left behind.
    If the broker is down, answer 200 anyway (the events are stored); the sweep processes them.
    """
    from municipalities.tasks import webhook_events_drain_task, webhook_events_process_task

    if settings.CELERY_TASK_ALWAYS_EAGER:
        webhook_events_process_task.delay(municipality_id, [row["webhook_event_id"] for row in rows])
        return
    now = time.monotonic()
    for lane in sorted({row["lane"] for row in rows}):
        if _wake_seen_until.get((municipality_id, lane), 0.0) > now:
            continue
        key = WAKE_KEY.format(municipality_id=municipality_id, lane=lane)
        try:
            if cache.add(key, 1, WAKE_SECONDS):
                webhook_events_drain_task.delay(municipality_id, lane)
        except Exception:
            cache.delete(key)
            logger.exception(
                "could not wake the webhook drain for %s (lane %s); the sweep will process the events",
                municipality_id,
                lane,
            )
            return
        # set or already set at ``now`` or later: its run reads after this, its follow-up after
        # this plus WAKE_SEEN_SECONDS
        _wake_seen_until[(municipality_id, lane)] = now + WAKE_SEEN_SECONDS


@csrf_exempt
@require_POST
def webhook_view(request: HttpRequest, slug: str) -> HttpResponse:
    channel = _channel(slug)
    if channel is None:
        return JsonResponse({"message": "unknown channel"}, status=404)
    municipality_id, channel_secret = channel
    limit = settings.LINE_WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse({"message": "body too large"}, status=413)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return JsonResponse({"message": "body too large"}, status=413)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return JsonResponse({"message": "body is not UTF-8"}, status=400)
    if not signature_valid(
        channel_secret=channel_secret, body=body, signature=request.headers.get("X-Line-Signature", "")
    ):
        return JsonResponse({"message": "invalid signature"}, status=400)
    try:
        rows = parse_events(json.loads(body), municipality_id=municipality_id)
    except (ValueError, BadEvents) as exc:  # json.JSONDecodeError is a ValueError
        logger.info("webhook %s: unparsable body (%s)", slug, exc)
        return JsonResponse({"message": "invalid body"}, status=400)
    if rows:
        _store(rows)
        to_process = [row for row in rows if row["status"] == WebhookEvent.Status.RECEIVED]
        if to_process:
            transaction.on_commit(lambda: _enqueue(municipality_id, to_process))
    return HttpResponse(status=200)
