"""Sending a broadcast: start once, fan out in batches, send each batch once, finish.

The data flow (ARCHITECTURE "Data flow, one broadcast"):

1. ``broadcast_start`` claims the broadcast with a status flip (承認済み/予約済み → 配信中); only
   the caller that flips it continues. ``broadcast_fan_out`` then resolves the recipients in
   resident order and writes batches of at most 500 LINE user ids, each with a retry key
   derived from (broadcast, seq), FANOUT_BATCHES per transaction; on each commit one task per
   new batch is enqueued, so the first batches go out while the rest are being written.
2. ``delivery_batch_send`` claims one batch with a status flip (送信待ち → 送信中), calls
   multicast outside any transaction, and records LINE's answer on the batch row: sent (a 409
   "already accepted" counts as sent), failed with LINE's message (other 4xx), or back to
   pending with a back-off (429, 5xx, timeouts) until MAX_ATTEMPTS.
3. ``broadcast_finish_if_done`` runs after each batch and after the fan-out; once every
   recipient is in a batch and no batch is open, it flips 配信中 → 配信完了 or 一部失敗 and
   writes the final counts.

A task that runs twice finds the batch already claimed and does nothing. A worker killed after
claiming leaves the batch in 送信中; ``delivery_batches_requeue_stuck`` (beat, every minute)
re-enqueues it after STUCK_AFTER, and the re-claimed batch is sent with the same retry key, so
LINE answers 409 if the first attempt had arrived: nobody receives it twice, nobody is skipped.
A fan-out that stopped half-way (its worker died) is resumed by the same beat.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from broadcasts.models import (
    BATCH_SIZE,
    BatchStatus,
    Broadcast,
    BroadcastMessage,
    BroadcastStatus,
    DeliveryBatch,
    Recurrence,
)
from broadcasts.selectors import (
    STUCK_AFTER,
    batches_stuck,
    fan_outs_stalled,
    progress_for_broadcasts,
    recipients_for_broadcast,
)
from municipalities.audit import audit_log
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineClientError, LineError, LineMessageInvalid
from municipalities.line.retry import LINE_MAX_ATTEMPTS as MAX_ATTEMPTS
from municipalities.line.retry import LINE_RETRYABLE
from municipalities.line.retry import line_backoff_seconds as backoff_seconds
from municipalities.models import Municipality, Resident, WebhookEvent
from municipalities.tasks_queue import enqueue, task_named

logger = logging.getLogger(__name__)

FANOUT_BATCHES = 40  # batches per fan-out step (transaction): 20,000 recipients, the first 0.2 s of sending
UNFOLLOW_WINDOW = timedelta(hours=24)
ENQUEUE_PIPELINE = 100  # task messages per round trip to the broker (the first are visible at once)


RETRY_KEY_PREFIX = "cms/broadcast/{broadcast_id}/batch/"


def batch_retry_key(broadcast_id: int, seq: int) -> uuid.UUID:
    """The X-Line-Retry-Key of one batch: md5 of a stable name, read as a UUID (LINE accepts
    any UUID). md5 so that PostgreSQL computes the same key in the one-statement fan-out
    (``md5(...)::uuid``) as Python does here."""
    name = RETRY_KEY_PREFIX.format(broadcast_id=broadcast_id) + str(seq)
    return uuid.UUID(hashlib.md5(name.encode(), usedforsecurity=False).hexdigest())


# --- 1. start ---------------------------------------------------------------------------------


def _chunks(iterable: Any, size: int) -> Any:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def broadcast_start(*, broadcast_id: int, now: datetime | None = None) -> Broadcast | None:
    """Claim a due broadcast and write its batches. Returns None when it was not ours to start.

    Claimed by ``UPDATE … WHERE status IN (approved, scheduled) AND scheduled_at <= now``: of
    two workers only one gets a row. The batches are then written by ``broadcast_fan_out``,
    FANOUT_BATCHES at a time, so the first go out while the rest are still being written.
    """
    now = now or timezone.now()
    if not _claim_broadcast(broadcast_id, now):
        return None
    return broadcast_fan_out(broadcast_id=broadcast_id)


@transaction.atomic(durable=True)
def _claim_broadcast(broadcast_id: int, now: datetime) -> bool:
    claimed = Broadcast.objects.filter(
        pk=broadcast_id,
        status__in=[BroadcastStatus.APPROVED, BroadcastStatus.SCHEDULED],
        scheduled_at__lte=now,
    ).update(status=BroadcastStatus.SENDING, started_at=now, updated_at=now)
    if not claimed:
        return False
    broadcast = Broadcast.objects.select_related("department").get(pk=broadcast_id)
    audit_log(actor=None, action="broadcasts.broadcast.started", obj=broadcast, data={})
    if broadcast.recurrence:
        _schedule_next_occurrence(broadcast)
    return True


def broadcast_fan_out(*, broadcast_id: int) -> Broadcast:
    """Write the batches of a sending broadcast until its recipients are all in one, and finish
    it if nobody is left to send to. Resumes where an earlier run stopped (a worker that died
    half-way: the beat calls this again), so it can run twice, even at once.

    Each step is one transaction that locks the broadcast, writes the batches of the next
    FANOUT_BATCHES × 500 recipients after ``fanout_after_resident_id`` (residents in primary
    key order) and moves that mark; its send tasks are enqueued on commit. Two runs therefore
    take turns and never write a recipient twice, and a crash loses at most the step it was in.
    The last step sets ``fanned_out_at``: until then the broadcast is not finished, even when
    every batch written so far has been sent.
    """
    while True:
        broadcast = _fan_out_step(broadcast_id)
        if broadcast.fanned_out_at or broadcast.status != BroadcastStatus.SENDING:
            break
    _finish_if_last(broadcast_id)
    broadcast.refresh_from_db()
    return broadcast


@transaction.atomic(durable=True)
def _fan_out_step(broadcast_id: int) -> Broadcast:
    broadcast = (
        Broadcast.objects.select_for_update(of=("self",))
        .select_related("department__municipality")
        .get(pk=broadcast_id)
    )
    if broadcast.status != BroadcastStatus.SENDING or broadcast.fanned_out_at:
        return broadcast  # cancelled meanwhile, or another run wrote the last batches
    recipients = recipients_for_broadcast(broadcast=broadcast, after_id=broadcast.fanout_after_resident_id)
    limit = FANOUT_BATCHES * BATCH_SIZE
    first_seq = broadcast.batch_count
    now = timezone.now()
    write = _write_batches_in_sql if connection.vendor == "postgresql" else _write_batches_streamed
    written = write(broadcast_id, recipients, now, first_seq=first_seq, limit=limit)
    broadcast.batch_count += written.batches
    broadcast.recipient_count += written.recipients
    broadcast.fanout_after_resident_id = written.last_resident_id or broadcast.fanout_after_resident_id
    if written.recipients < limit:
        broadcast.fanned_out_at = now
    broadcast.save(
        update_fields=[
            "batch_count",
            "recipient_count",
            "fanout_after_resident_id",
            "fanned_out_at",
            "updated_at",
        ]
    )
    if written.batches:
        transaction.on_commit(lambda: _enqueue_batches(broadcast_id, first_seq=first_seq))
    return broadcast


@dataclass(frozen=True)
class Written:
    batches: int
    recipients: int
    last_resident_id: int | None


def _write_batches_streamed(
    broadcast_id: int, recipients: Any, now: datetime, *, first_seq: int, limit: int
) -> Written:
    """Portable fan-out step: the next ``limit`` recipients in resident order, in batch rows
    numbered from ``first_seq``."""
    rows = list(recipients.order_by("pk").values_list("pk", "line_user_id")[:limit])
    batches = [
        DeliveryBatch(
            broadcast_id=broadcast_id,
            seq=first_seq + n,
            retry_key=batch_retry_key(broadcast_id, first_seq + n),
            line_user_ids=[user_id for _, user_id in chunk],
            size=len(chunk),
            created_at=now,
        )
        for n, chunk in enumerate(_chunks(rows, BATCH_SIZE))
    ]
    DeliveryBatch.objects.bulk_create(batches)
    return Written(len(batches), len(rows), rows[-1][0] if rows else None)


def _write_batches_in_sql(
    broadcast_id: int, recipients: Any, now: datetime, *, first_seq: int, limit: int
) -> Written:
    """PostgreSQL fan-out step in one statement, no user id passing through Python: the next
    ``limit`` recipients' ids are gathered into one jsonb array in resident order (the primary
    keys are in that order, so the planner walks the index with nothing to sort; ``array_agg``
    then one ``to_jsonb`` costs about 10 % less than ``jsonb_agg`` row by row), and each batch
    row takes its slice of BATCH_SIZE by position (``$[a to b]``; jsonb reaches an element by
    its offset). Nothing is numbered or grouped row by row. Same rows, order and retry keys as
    the streamed path."""
    inner_sql, params = recipients.order_by("pk").values("pk", "line_user_id")[:limit].query.sql_with_params()
    table = DeliveryBatch._meta.db_table
    size = int(BATCH_SIZE)
    sql = f"""
        WITH a AS (
            SELECT to_jsonb(array_agg(r.line_user_id)) AS ids, count(*) AS n, max(r.id) AS last_id
              FROM ({inner_sql}) AS r(id, line_user_id)
        ), written AS (
            INSERT INTO {table} (created_at, updated_at, broadcast_id, seq, retry_key, line_user_ids, size,
                                 status, attempts, already_accepted, request_id, error_message)
            SELECT %s, %s, %s, %s + s.seq, md5(%s || (%s + s.seq)::text)::uuid,
                   jsonb_path_query_array(
                       a.ids, ('$[' || s.seq * {size} || ' to ' || least(s.seq * {size} + {size - 1}, a.n - 1) || ']')::jsonpath
                   ),
                   least({size}, a.n - s.seq * {size}), %s, 0, false, '', ''
              FROM a, generate_series(0, (a.n + {size - 1}) / {size} - 1) AS s(seq)
        )
        SELECT n, last_id FROM a
    """  # noqa: S608 - the inner query is Django's own SQL with its parameters passed separately
    prefix = RETRY_KEY_PREFIX.format(broadcast_id=broadcast_id)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*params, now, now, broadcast_id, first_seq, prefix, first_seq, BatchStatus.PENDING]
        )
        count, last_id = cursor.fetchone()
    return Written(-(-count // size), count, last_id)


def _enqueue_batches(broadcast_id: int, *, first_seq: int) -> None:
    """One send task per pending batch from ``first_seq`` on, in order."""
    delivery_batch_send_task = task_named("broadcasts.tasks.delivery_batch_send_task")
    batch_ids = (
        DeliveryBatch.objects.filter(
            broadcast_id=broadcast_id, seq__gte=first_seq, status=BatchStatus.PENDING
        )
        .order_by("seq")
        .values_list("pk", flat=True)
    )
    app = delivery_batch_send_task.app
    # One broker connection for the step's tasks, and their messages pushed ENQUEUE_PIPELINE
    # at a time in one round trip (kombu's publish batch): 0.5 ms of CPU per task instead of
    # 0.9, in the seconds when the same cores send the first batches. Should the enqueue fail
    # half-way, the batches not enqueued are still pending and the beat re-queues them.
    with app.producer_or_acquire() as producer, producer.batch(max_size=ENQUEUE_PIPELINE):
        for batch_id in batch_ids:
            delivery_batch_send_task.apply_async((batch_id,), producer=producer)


def add_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def next_occurrence(broadcast: Broadcast) -> datetime | None:
    """When a weekly or monthly broadcast goes out next (same local time), or None after the end
    date. A monthly broadcast on the 31st goes out on the last day of shorter months."""
    if not broadcast.recurrence or broadcast.scheduled_at is None or broadcast.recurrence_until is None:
        return None
    local = timezone.localtime(broadcast.scheduled_at)
    if broadcast.recurrence == Recurrence.WEEKLY:
        candidate = local + timedelta(days=7)
    else:
        origin = (
            broadcast.series_parent.scheduled_at if broadcast.series_parent_id else broadcast.scheduled_at
        )
        day = timezone.localtime(origin).day
        nxt = add_month(local.date().replace(day=1))
        nxt = nxt.replace(day=min(day, calendar.monthrange(nxt.year, nxt.month)[1]))
        candidate = local.replace(year=nxt.year, month=nxt.month, day=nxt.day)
    candidate = timezone.make_aware(candidate.replace(tzinfo=None))
    if candidate.date() > broadcast.recurrence_until:
        return None
    return candidate


def _schedule_next_occurrence(broadcast: Broadcast) -> Broadcast | None:
    when = next_occurrence(broadcast)
    if when is None:
        return None
    root_id = broadcast.series_parent_id or broadcast.pk
    nxt = Broadcast.objects.create(
        department_id=broadcast.department_id,
        title=broadcast.title,
        status=BroadcastStatus.SCHEDULED,
        is_emergency=broadcast.is_emergency,
        category_id=broadcast.category_id,
        age_bands=broadcast.age_bands,
        send_mode=broadcast.send_mode,
        scheduled_at=when,
        recurrence=broadcast.recurrence,
        recurrence_until=broadcast.recurrence_until,
        series_parent_id=root_id,
        rendered_messages=broadcast.rendered_messages,
        created_by_id=broadcast.created_by_id,
        submitted_by_id=broadcast.submitted_by_id,
        submitted_at=broadcast.submitted_at,
        approved_by_id=broadcast.approved_by_id,
        approved_at=broadcast.approved_at,
    )
    nxt.areas.set(broadcast.areas.all())
    BroadcastMessage.objects.bulk_create(
        BroadcastMessage(
            broadcast=nxt,
            position=m.position,
            kind=m.kind,
            text=m.text,
            image=m.image.name,
            preview_image=m.preview_image.name,
            image_url=m.image_url,
            card_title=m.card_title,
            link_label=m.link_label,
            link_url=m.link_url,
        )
        for m in broadcast.messages.all()
    )
    audit_log(
        actor=None,
        action="broadcasts.broadcast.next_scheduled",
        obj=nxt,
        data={"scheduled_at": when, "after": broadcast.pk},
    )
    return nxt


def _in_transaction() -> bool:
    """Whether a transaction that can still roll back is open (the test case's own wrapping
    transaction does not count, as for ``atomic(durable=True)``)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


# --- 2. one batch -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOutcome:
    status: str  # "skipped" (not ours), "sent", "failed", "retry"
    retry_in: float | None = None


# Frozen per broadcast once it is sending, so a worker process may keep them.
_send_cache: dict[int, tuple[float, Municipality, list[dict[str, Any]]]] = {}
_SEND_CACHE_SECONDS = 60.0


def _send_context(broadcast_id: int) -> tuple[Municipality, list[dict[str, Any]]]:
    cached = _send_cache.get(broadcast_id)
    if cached and time.monotonic() - cached[0] < _SEND_CACHE_SECONDS:
        return cached[1], cached[2]
    broadcast = (
        Broadcast.objects.select_related("department__municipality")
        .only("rendered_messages", "department__municipality")
        .get(pk=broadcast_id)
    )
    municipality = broadcast.department.municipality
    if len(_send_cache) > 100:
        _send_cache.clear()
    _send_cache[broadcast_id] = (time.monotonic(), municipality, broadcast.rendered_messages)
    return municipality, broadcast.rendered_messages


def delivery_batch_send(*, batch_id: int) -> BatchOutcome:
    """Send one batch at most once and record LINE's answer on its row.

    Must not run inside a transaction (it calls LINE). Claims the batch with
    ``UPDATE … SET status=sending WHERE status=pending AND broadcast is sending`` (or a
    sending batch claimed longer than STUCK_AFTER ago by a worker that died); a second run
    gets no row and returns "skipped". Transient failures put the batch back to pending and
    return ``retry_in`` seconds; the caller re-enqueues it. The record is written only if
    this attempt still owns the batch.
    """
    if _in_transaction():
        raise RuntimeError("delivery_batch_send() calls LINE and must not run inside a transaction")
    claim = _claim(batch_id, timezone.now())
    if claim is None:
        return BatchOutcome("skipped")
    broadcast_id, user_ids, retry_key, attempts = claim
    municipality, messages = _send_context(broadcast_id)
    try:
        result = get_line_client(municipality).multicast(user_ids, messages, retry_key=retry_key)
    except LINE_RETRYABLE as exc:  # the LINE retry policy, counted on the batch row
        mine = _this_attempt(batch_id, attempts)
        if attempts < MAX_ATTEMPTS:
            delay = backoff_seconds(attempts)
            mine.update(
                status=BatchStatus.PENDING,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                http_status=exc.status,
                error_message=_error_text(exc),
                updated_at=timezone.now(),
            )
            logger.info(
                "broadcast batch %s: %s, retry %s in %.1fs", batch_id, type(exc).__name__, attempts, delay
            )
            return BatchOutcome("retry", retry_in=delay)
        _record_failure(mine, exc, prefix="再試行の上限に達しました: ")
    except (LineClientError, LineMessageInvalid, LineError) as exc:
        _record_failure(_this_attempt(batch_id, attempts), exc)
    else:
        _record_sent(batch_id, attempts, result)
        _finish_if_last(broadcast_id)
        return BatchOutcome("sent")
    _finish_if_last(broadcast_id)
    return BatchOutcome("failed")


_CLAIM_SQL = """
    UPDATE broadcasts_deliverybatch AS d
       SET status = 'sending', claimed_at = %(now)s, attempts = d.attempts + 1, next_attempt_at = NULL, updated_at = %(now)s
      FROM broadcasts_broadcast AS b
     WHERE d.id = %(id)s AND b.id = d.broadcast_id AND b.status = 'sending'
       AND (d.status = 'pending' OR (d.status = 'sending' AND d.claimed_at < %(stale)s))
 RETURNING d.broadcast_id, d.line_user_ids, d.retry_key, d.attempts
"""

_RECORD_SENT_SQL = """
    UPDATE broadcasts_deliverybatch
       SET status = 'sent', sent_at = %(now)s, updated_at = %(now)s, already_accepted = %(accepted)s,
           request_id = %(request_id)s, http_status = %(http_status)s, error_message = ''
     WHERE id = %(id)s AND status = 'sending' AND attempts = %(attempts)s
"""


def _this_attempt(batch_id: int, attempts: int) -> Any:
    """The batch row, as long as this attempt still owns it."""
    return DeliveryBatch.objects.filter(pk=batch_id, status=BatchStatus.SENDING, attempts=attempts)


def _claim(batch_id: int, now: datetime) -> tuple[int, list[str], uuid.UUID, int] | None:
    """Flip the batch to sending if it is ours to send; (broadcast id, user ids, key, attempt).

    On PostgreSQL one ``UPDATE … RETURNING`` (a batch is claimed and read in one round trip,
    which matters at 200 batches a second); elsewhere a conditional UPDATE and a read.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"now": now, "id": batch_id, "stale": now - STUCK_AFTER})
            row = cursor.fetchone()
        if row is None:
            return None
        ids = json.loads(row[1]) if isinstance(row[1], str) else row[1]
        return row[0], ids, uuid.UUID(str(row[2])), row[3]
    claimed = (
        DeliveryBatch.objects.filter(pk=batch_id, broadcast__status=BroadcastStatus.SENDING)
        .filter(
            Q(status=BatchStatus.PENDING) | Q(status=BatchStatus.SENDING, claimed_at__lt=now - STUCK_AFTER)
        )
        .update(
            status=BatchStatus.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            next_attempt_at=None,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    batch = DeliveryBatch.objects.only("broadcast_id", "line_user_ids", "retry_key", "attempts").get(
        pk=batch_id
    )
    return batch.broadcast_id, batch.line_user_ids, batch.retry_key, batch.attempts


def _record_sent(batch_id: int, attempts: int, result: Any) -> None:
    """Record LINE's acceptance (a 409 counts as sent) if this attempt still owns the batch."""
    now = timezone.now()
    values = {
        "now": now,
        "accepted": result.already_accepted,
        "request_id": (result.request_id or "")[:64],
        "http_status": 409 if result.already_accepted else 200,
        "id": batch_id,
        "attempts": attempts,
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_RECORD_SENT_SQL, values)
    else:
        _this_attempt(batch_id, attempts).update(
            status=BatchStatus.SENT,
            sent_at=now,
            already_accepted=values["accepted"],
            request_id=values["request_id"],
            http_status=values["http_status"],
            error_message="",
            updated_at=now,
        )


_OPEN_BATCH_SQL = f"""
    SELECT 1 FROM broadcasts_deliverybatch
     WHERE broadcast_id = %s AND status IN ('{BatchStatus.PENDING}', '{BatchStatus.SENDING}') LIMIT 1
"""  # noqa: S608 - constants only


def _has_open_batches(broadcast_id: int) -> bool:
    """Whether a batch of the broadcast is still pending or sending. Plain SQL: it runs after
    every batch (index bc_batch_progress_idx)."""
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_BATCH_SQL, [broadcast_id])
        return cursor.fetchone() is not None


def _finish_if_last(broadcast_id: int) -> None:
    """Finish the broadcast if this was its last open batch. Called after the batch's record
    committed (autocommit), in a statement of its own: of two batches finishing at once, the
    later one sees the other's record. (One statement would read both from the same snapshot,
    and neither would see the other finished.) A cheap read first: most batches are not the
    last one, and need no transaction."""
    if not _has_open_batches(broadcast_id):
        broadcast_finish_if_done(broadcast_id=broadcast_id)


def _error_text(exc: LineError) -> str:
    text = exc.message or type(exc).__name__
    if exc.details:
        text = f"{text} {exc.details}"
    return text[:2000]


def _record_failure(mine: Any, exc: LineError, *, prefix: str = "") -> None:
    logger.warning("broadcast batch failed: %s %s", exc.status, exc.message)
    mine.update(
        status=BatchStatus.FAILED,
        http_status=exc.status,
        error_message=prefix + _error_text(exc),
        updated_at=timezone.now(),
    )


# --- 3. finish --------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def broadcast_finish_if_done(*, broadcast_id: int) -> Broadcast | None:
    """When no batch is open any more: 配信中 → 配信完了 (or 一部失敗) with the final counts.

    Runs after every batch, after that batch's record has committed, so the last batch to
    finish always sees the others finished; and after the fan-out's last step has committed,
    should every batch have gone out before it (or there be none). The flip is conditional
    (sending, and fanned out), so of two concurrent callers one finishes it. For a broadcast
    cancelled while sending, only the counts and the end time are written. Returns the
    broadcast when this call finished it.
    """
    if _has_open_batches(broadcast_id):
        return None
    progress = progress_for_broadcasts(broadcast_ids=[broadcast_id])[broadcast_id]
    now = timezone.now()
    status = BroadcastStatus.PARTIAL if progress.failed else BroadcastStatus.SENT
    counts = {"delivered_count": progress.sent, "failed_count": progress.failed, "updated_at": now}
    finished = Broadcast.objects.filter(
        pk=broadcast_id, status=BroadcastStatus.SENDING, fanned_out_at__isnull=False
    ).update(status=status, finished_at=now, **counts)
    if not finished:
        Broadcast.objects.filter(
            pk=broadcast_id, status=BroadcastStatus.CANCELLED, started_at__isnull=False
        ).update(finished_at=now, **counts)
        return None
    broadcast = Broadcast.objects.select_related("department").get(pk=broadcast_id)
    audit_log(
        actor=None,
        action="broadcasts.broadcast.finished",
        obj=broadcast,
        data={"status": status, "delivered": progress.sent, "failed": progress.failed},
    )
    return broadcast


# --- housekeeping -----------------------------------------------------------------------------


def delivery_batches_requeue_stuck(*, now: datetime | None = None) -> int:
    """Re-enqueue batches a dead worker or a lost message left open, and fan-outs that stopped
    half-way; finish broadcasts whose batches are all closed. Returns how many batches were
    re-enqueued (the send task re-claims them, so a batch that is in fact still in flight is not
    sent twice; a fan-out that is in fact still running takes turns with the resumed one)."""
    batch_ids = list(batches_stuck(now=now).values_list("pk", flat=True)[:10_000])
    for batch_id in batch_ids:
        enqueue("broadcasts.tasks.delivery_batch_send_task", batch_id)
    if batch_ids:
        logger.warning("re-enqueued %d stuck broadcast batches", len(batch_ids))
    for broadcast_id in fan_outs_stalled(now=now).values_list("pk", flat=True):
        logger.warning("resuming the fan-out of broadcast %s", broadcast_id)
        enqueue("broadcasts.tasks.broadcast_fan_out_task", broadcast_id)
    open_broadcasts = Broadcast.objects.filter(
        status=BroadcastStatus.SENDING, fanned_out_at__isnull=False
    ).exclude(batches__status__in=[BatchStatus.PENDING, BatchStatus.SENDING])
    for broadcast_id in open_broadcasts.values_list("pk", flat=True):
        broadcast_finish_if_done(broadcast_id=broadcast_id)
    return len(batch_ids)


@transaction.atomic(durable=True)
def broadcast_unfollows_count(*, broadcast_id: int, now: datetime | None = None) -> Broadcast:
    """Count the recipients who blocked the account within 24 hours of the start.

    Reads the recipients from the sent batches (500 per query). Until the window has closed the
    figure is provisional; after it, ``unfollows_counted_at`` marks it final. A resident who
    blocked and unblocked again within the window has no unfollow time any more, but the
    unfollow event LINE sent is still stored (kept as long as the talk log): both count, each
    resident once.
    """
    now = now or timezone.now()
    broadcast = Broadcast.objects.select_for_update().select_related("department").get(pk=broadcast_id)
    start = broadcast.started_at or now
    window_end = start + UNFOLLOW_WINDOW
    municipality_id = broadcast.department.municipality_id
    total = 0
    sent = broadcast.batches.filter(status=BatchStatus.SENT).values_list("line_user_ids", flat=True)
    for ids in sent.iterator(chunk_size=50):
        blocked = set(
            Resident.objects.filter(
                municipality_id=municipality_id,
                line_user_id__in=ids,
                unfollowed_at__gte=start,
                unfollowed_at__lt=window_end,
            ).values_list("line_user_id", flat=True)
        )
        blocked.update(
            WebhookEvent.objects.filter(
                municipality_id=municipality_id,
                event_type="unfollow",
                line_user_id__in=ids,
                occurred_at__gte=start,
                occurred_at__lt=window_end,
            ).values_list("line_user_id", flat=True)
        )
        total += len(blocked)
    broadcast.unfollow_count = total
    fields = ["unfollow_count", "updated_at"]
    if now >= window_end:
        broadcast.unfollows_counted_at = now
        fields.append("unfollows_counted_at")
    broadcast.save(update_fields=fields)
    return broadcast
