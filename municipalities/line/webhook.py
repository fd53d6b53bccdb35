"""Inbound: ``POST /line/webhook/<slug>/``.

The hot path is deliberately small, because LINE waits for the answer and a busy town sends
thousands of events a second during an emergency broadcast:

1. look the channel up (a short in-process cache of slug → id and secret, and of slugs that
   are no channel);
2. refuse bodies over ``LINE_WEBHOOK_MAX_BODY_BYTES`` (413; 1 MB: LINE batches a handful of
   events of a few hundred bytes each, and a text message is at most 5,000 characters, so a
   real post is a few kB; the limit is only there to bound memory and parse time), then check
   ``X-Line-Signature`` (400, nothing stored). An unknown slug gets **the same 400** after an
   HMAC against a dummy secret: a slug's existence is never told to someone who cannot sign;
3. parse with bounded depth (``MAX_DEPTH``, counted on the raw text before ``json.loads``
   can recurse) and bounded numbers (no ``NaN``/``Infinity``, no float that overflows, no
   integer of more than ``MAX_INT_DIGITS`` digits); a body that is not LINE's envelope is a
   400 and nothing is stored;
4. check **each event** against LINE's schema (``webhook_schema.py``, derived from LINE's
   ``webhook.yml``) and what the database takes (``timestamp`` an integer millisecond epoch
   between 2000 and 2100, ids within their columns, no NUL or unpaired surrogate in any
   string, so nothing can fail half-way at the insert);
5. store the good events with one ``INSERT … ON CONFLICT DO NOTHING`` (the unique constraint
   on ``(municipality, webhook_event_id)`` makes a redelivery or two simultaneous identical
   posts one row);
6. after commit, wake the drain task of the town's lane the events are in (one Redis ``SET
   NX``, skipped for a second once the process has seen the flag set; eager mode processes the
   events at once) and answer 200.

**A post with bad events** (the rule): the good events are stored, the bad ones are dropped
(logged, never stored), and the answer is 200; if *every* event is bad the answer is 400 and
nothing is stored. Why this is allowed: LINE's events are independent (each has its own
``webhookEventId``, a post may batch several residents' events), and LINE sends a post again
only on a non-2xx answer and only when redelivery is on, so refusing the whole post would lose
the residents' good messages (redelivery off) or have them refused again on every redelivery
(a bad event stays bad). The insert is one statement, so a post is never half-stored: its
good events are all stored, once, or (on an error) none are.

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
import math
import re
import secrets
import threading
import time
import zlib
from datetime import UTC, datetime
from itertools import accumulate
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

from municipalities.line.webhook_schema import event_error
from municipalities.models import Municipality, WebhookEvent
from municipalities.tasks_queue import enqueue

logger = logging.getLogger(__name__)

# slug → (municipality id or None for "no such channel", channel secret, expires at). A
# changed secret applies within this. Unknown slugs are remembered too (at most
# UNKNOWN_SLUGS_KEPT of them), so probing one costs what posting to a town costs.
CHANNEL_CACHE_SECONDS = 30.0
UNKNOWN_SLUGS_KEPT = 1024
_channels: dict[str, tuple[int | None, str, float]] = {}
_unknown_slugs = 0
_channels_lock = threading.Lock()
# What an unknown slug's body is checked against: its HMAC is computed like any other (same
# work, same answer), and no signature can match a secret nobody knows.
_DUMMY_SECRET = secrets.token_hex(16)


def _channel(slug: str) -> tuple[int | None, str]:
    """(municipality id, channel secret); (None, a dummy secret) when no town has this slug."""
    global _unknown_slugs
    now = time.monotonic()
    cached = _channels.get(slug)
    if cached is not None and cached[2] > now:
        return cached[0], cached[1]
    municipality = Municipality.objects.filter(slug=slug).only("pk", "channel_secret").first()
    with _channels_lock:
        if municipality is None:
            if _unknown_slugs >= UNKNOWN_SLUGS_KEPT:  # bounded: random slugs cannot fill memory
                for key in [k for k, v in _channels.items() if v[0] is None]:
                    del _channels[key]
                _unknown_slugs = 0
            _unknown_slugs += slug not in _channels
            _channels[slug] = (None, _DUMMY_SECRET, now + CHANNEL_CACHE_SECONDS)
            return None, _DUMMY_SECRET
        _channels[slug] = (municipality.pk, municipality.channel_secret or "", now + CHANNEL_CACHE_SECONDS)
    return municipality.pk, municipality.channel_secret or ""


def forget_channel(slug: str | None = None) -> None:
    """Drop the cached channel secret(s) (after a change, and in tests)."""
    global _unknown_slugs
    with _channels_lock:
        if slug is None:
            _channels.clear()
            _unknown_slugs = 0
        elif (dropped := _channels.pop(slug, None)) is not None and dropped[0] is None:
            _unknown_slugs -= 1


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


# Nesting a body may have. LINE's deepest event is 7 levels down (body → events → event →
# message → mention → mentionees → mentionee); json.loads recurses once per level and hits the
# interpreter's recursion limit near 1,000 (jsonb's own limit is higher). 64 is far from both,
# and lets every post with fewer than 64 ``[``/``{`` in all (a dozen events) skip the count.
MAX_DEPTH = 64
# ``timestamp`` is a millisecond epoch; outside 2000-01-01 … 2100-01-01 it is not LINE's.
MIN_TIMESTAMP_MS = 946_684_800_000
MAX_TIMESTAMP_MS = 4_102_444_800_000
# Column widths of WebhookEvent (a longer value could not be stored).
_MAX_TYPE, _MAX_ID, _MAX_USER_ID, _MAX_REPLY_TOKEN = 32, 64, 64, 255

_BRACKETS = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# In ``json.dumps`` output a backslash is either ``\\`` or starts an escape, so an escaped NUL
# is ``\u0000`` after an even number of backslashes (PostgreSQL's jsonb and text refuse NUL).
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class _BadNumber:
    """Stands for a number LINE never sends (NaN, ±Infinity, a float that overflows): the event
    holding it is bad (it cannot be serialised), the others are not. An integer of more than
    4,300 digits is beyond what Python decodes: that body is refused whole."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<bad number>"


_BAD_NUMBER = _BadNumber()


def _too_deep(body: str) -> bool:
    """Whether the body nests deeper than MAX_DEPTH, counted on the text before anything
    recurses into it. Strings are taken out by splitting at the quotes once the escaped
    backslashes and quotes are gone (C-speed string operations, no regex over the text). Up to
    the first syntax error this reads the text as json.loads does, and json.loads never goes
    past that error, so no body that json.loads would nest deeper passes."""
    if body.count("[") + body.count("{") <= MAX_DEPTH:  # a post of one or two events
        return False
    if "\\" in body:
        body = body.replace("\\\\", "").replace('\\"', "")
    structure = "".join(body.split('"')[::2])
    if structure.count("[") + structure.count("{") <= MAX_DEPTH:
        return False
    return max(accumulate(map(_DEPTH_STEP.__getitem__, _BRACKETS.sub("", structure)))) > MAX_DEPTH


_decoding = threading.local()  # .bad_number: the body being decoded in this thread had one


def _bad_number(text: str) -> _BadNumber:
    _decoding.bad_number = True
    return _BAD_NUMBER


def _parse_float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _bad_number(text)


# Built once: ``json.loads(..., parse_float=…)`` would build a decoder per call.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_constant=_bad_number)


def parse_body(body: str) -> tuple[Any, bool]:
    """The decoded JSON of a webhook body, and whether its events need the thorough check (it
    has ``\\u`` escapes, which may decode to a NUL or an unpaired surrogate, or a number LINE
    never sends, decoded as a marker). BadEvents when it nests too deep or is not JSON."""
    if _too_deep(body):
        raise BadEvents(f"nested deeper than {MAX_DEPTH}")
    _decoding.bad_number = False
    try:
        payload = _DECODER.decode(body)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError; so is an int too long
        raise BadEvents(f"not JSON: {exc}") from None
    return payload, _decoding.bad_number or "\\u" in body


def _event_problem(event: Any, *, thorough: bool) -> str | None:
    """Why this event cannot be stored, or None. LINE's schema first, then what the table's
    columns and PostgreSQL take, so that the insert cannot fail on any stored event. The
    serialisation check (about as costly as the rest) runs when ``thorough``."""
    if (error := event_error(event)) is not None:
        return error
    timestamp = event["timestamp"]
    if not MIN_TIMESTAMP_MS <= timestamp <= MAX_TIMESTAMP_MS:
        return "timestamp: out of range"
    source = event.get("source") or {}
    if not 0 < len(event["type"]) <= _MAX_TYPE or not 0 < len(event["webhookEventId"]) <= _MAX_ID:
        return "type or webhookEventId: empty or too long"
    if len(source.get("userId", "")) > _MAX_USER_ID:
        return "source.userId: too long"
    if not thorough:
        return None
    try:
        dumped = json.dumps(event, ensure_ascii=False)
        dumped.encode("utf-8")  # an unpaired surrogate (``"\\ud800"``) has no UTF-8
    except (TypeError, ValueError):  # TypeError: a bad number; UnicodeEncodeError: a ValueError
        return "a number or a string that is not LINE's"
    if "\\u0000" in dumped and _ESCAPED_NUL.search(dumped):
        return "a NUL character"
    return None


def parse_events(payload: Any, *, municipality_id: int, thorough: bool = True) -> list[dict[str, Any]]:
    """The rows to store for a decoded webhook body (``WebhookEvent`` field values), one per
    good event (an event twice in one body: once). Bad events are left out and logged.
    BadEvents when the body is not LINE's envelope, or when it has events and all are bad.
    ``thorough=False`` (from ``parse_body``: the text has no ``\\u`` escape and no bad number)
    skips the serialisation check."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadEvents("events")
    if not isinstance(payload.get("destination", ""), str):
        raise BadEvents("destination")
    rows = []
    seen = set()
    problems = []
    for event in payload["events"]:
        if (problem := _event_problem(event, thorough=thorough)) is not None:
            problems.append(problem)
            continue
        event_id = event["webhookEventId"]
        if event_id in seen:  # the same event twice in one body: store it once
            continue
        seen.add(event_id)
        mode = event["mode"]
        user_id = (event.get("source") or {}).get("userId", "")
        rows.append(
            {
                "municipality_id": municipality_id,
                "webhook_event_id": event_id,
                "event_type": event["type"],
                "mode": mode,
                "is_redelivery": event["deliveryContext"]["isRedelivery"],
                "line_user_id": user_id,
                # LINE's are 32 characters; a longer one is kept cut (the reply fails, the
                # event is not lost)
                "reply_token": event.get("replyToken", "")[:_MAX_REPLY_TOKEN],
                "occurred_at": datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC),
                "payload": event,
                "lane": lane_of(user_id),
                # standby: another channel (e.g. a chat module) answers; stored, never answered
                "status": WebhookEvent.Status.SKIPPED if mode == "standby" else WebhookEvent.Status.RECEIVED,
            }
        )
    if problems:
        logger.info(
            "webhook %s: %d of %d events are not LINE's and were not stored (%s)",
            municipality_id,
            len(problems),
            len(payload["events"]),
            "; ".join(problems[:5]),
        )
        if not rows:
            raise BadEvents(problems[0])
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


# How often a body's insert is sent, each time on a new connection after the last one died
# (``ON CONFLICT`` makes it safe): a database restart, or connections cut one after the other,
# answer 500 (and LINE redelivers only when the town turned redelivery on) only when every try fails.
STORE_ATTEMPTS = 4


def _store(rows: list[dict[str, Any]]) -> None:
    """Store the events of a body once: ``INSERT … ON CONFLICT DO NOTHING`` (the unique
    constraint on ``(municipality, webhook_event_id)`` decides, also between simultaneous posts).

    On PostgreSQL, outside a transaction (the request path), this is one prepared statement on
    Django's connection in autocommit mode: one round trip, no ``SELECT 1`` health check first.
    Instead, a statement that fails because the connection died (a database restart) is sent
    again on a new connection (``STORE_ATTEMPTS`` in all), which the ``ON CONFLICT`` makes safe. With
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
    for attempt in range(1, STORE_ATTEMPTS + 1):
        connection.ensure_connection()
        try:
            _insert(connection.connection, params)
            return
        except psycopg.OperationalError:
            if attempt == STORE_ATTEMPTS or not (
                connection.connection.broken or connection.connection.closed
            ):
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
# Lanes whose wake-up failed in this process (Redis or the broker away): woken by the first post
# whose wake-up works again, so that a continuing rush is answered as soon as Redis is back,
# not at the sweep. While wake-ups fail, posts do not try again for WAKE_PAUSE_SECONDS: each
# try costs the redis client's reconnection attempts, and LINE waits for the answer.
WAKE_PAUSE_SECONDS = 0.5
_wake_failed: set[tuple[int, int]] = set()
_wake_paused_until = 0.0


def _enqueue(municipality_id: int, rows: list[dict[str, Any]]) -> None:
    """Have the stored events (``rows``, as ``parse_events`` made them) processed. Never raises:
    the events are stored, and the answer to LINE is 200 whatever happens to the wake-up.

    Eager (demo, tests): process these events now. With a broker: wake the drain task of each
    lane they are in, at most once until it starts (``cache.add`` is Redis ``SET NX``). At most
    one cheap Redis command per lane and process a second instead of one Celery message per
    request: under a rush, one drain task picks up hundreds of events. The drain task deletes
    the flag *before* it reads the pending events, so an event stored after that read sets the
    flag again and wakes another run, or, within ``WAKE_SEEN_SECONDS`` of a process seeing the
    flag, is read by the woken run's follow-up: none is left behind.
    If Redis or the broker is away, the lanes are remembered and woken by a later post of this
    process once they are back, or by the sweep (``webhook_events_sweep_task``).
    """
    global _wake_paused_until
    if settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            enqueue(
                "municipalities.tasks.webhook_events_process_task",
                municipality_id,
                [row["webhook_event_id"] for row in rows],
            )
        except Exception:
            logger.exception("webhook %s: processing failed; the events stay stored", municipality_id)
        return
    now = time.monotonic()
    lanes = {(municipality_id, row["lane"]) for row in rows}
    if now < _wake_paused_until:
        _wake_failed.update(lanes)
        return
    for key in sorted(lanes | _wake_failed):
        if _wake_seen_until.get(key, 0.0) > now:
            _wake_failed.discard(key)
            continue
        flag = WAKE_KEY.format(municipality_id=key[0], lane=key[1])
        try:
            if cache.add(flag, 1, WAKE_SECONDS):
                enqueue("municipalities.tasks.webhook_events_drain_task", *key)
        except Exception as exc:
            _wake_failed.update(lanes)
            _wake_failed.add(key)
            _wake_paused_until = time.monotonic() + WAKE_PAUSE_SECONDS
            logger.warning(
                "could not wake the webhook drain of %s lane %s (%r); woken later or by the sweep",
                key[0],
                key[1],
                exc,
            )
            try:  # the flag may be set with no task behind it: let the next post try again
                cache.delete(flag)
            except Exception:  # Redis away: the flag lapses within WAKE_SECONDS; the sweep runs
                logger.debug("wake flag %s not removed", flag)
            return
        _wake_failed.discard(key)
        # set or already set at ``now`` or later: its run reads after this, its follow-up after
        # this plus WAKE_SEEN_SECONDS
        _wake_seen_until[key] = now + WAKE_SEEN_SECONDS


@csrf_exempt
@require_POST
def webhook_view(request: HttpRequest, slug: str) -> HttpResponse:
    # An unknown slug goes the same way as a known one up to the signature check, which it
    # fails: same answer, same work (a cached lookup and one HMAC), whether the slug exists.
    municipality_id, channel_secret = _channel(slug)
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
    signed = signature_valid(
        channel_secret=channel_secret, body=body, signature=request.headers.get("X-Line-Signature", "")
    )
    if not signed or municipality_id is None:
        return JsonResponse({"message": "invalid signature"}, status=400)
    try:
        payload, thorough = parse_body(body)
        rows = parse_events(payload, municipality_id=municipality_id, thorough=thorough)
    except BadEvents as exc:
        logger.info("webhook %s: body refused (%s)", slug, exc)
        return JsonResponse({"message": "invalid body"}, status=400)
    if rows:
        _store(rows)
        to_process = [row for row in rows if row["status"] == WebhookEvent.Status.RECEIVED]
        if to_process:
            transaction.on_commit(lambda: _enqueue(municipality_id, to_process))
    return HttpResponse(status=200)
