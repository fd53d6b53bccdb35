"""Sending a broadcast: start once, fan out in batches, send each batch once, finish.

The data flow (ARCHITECTURE "Data flow, one broadcast"):

1. ``broadcast_start`` claims the broadcast with a status flip (承認済み/予約済み → 配信中); only
   the caller that flips it continues. ``broadcast_fan_out`` then resolves the recipients in
   resident order and writes batches of at most 500 LINE user ids, each with a retry key
   derived from (broadcast, seq), FANOUT_BATCHES per transaction; on each commit one task per
   new batch is enqueued, so the first batches go out while the rest are being written.
2. ``delivery_batch_send`` (module ``batch_send``) claims one batch with a status flip (送信待ち →
   送信中), calls multicast outside any transaction, and records LINE's answer on the batch
   row: sent (a 409 "already accepted" counts as sent), failed with LINE's message (other
   4xx), or back to pending with a back-off (429, 5xx, timeouts) until MAX_ATTEMPTS.
3. ``broadcast_finish_if_done`` runs after each batch and after the fan-out; once every
   recipient is in a batch and no batch is open, it flips 配信中 → 配信完了 or 一部失敗 and
   writes the final counts.

A task that runs twice finds the batch already claimed and does nothing. A worker killed after
claiming leaves the batch in 送信中 with a heartbeat that stops; ``delivery_batches_requeue_stuck``
(beat, every 5 seconds) offers it again once the claim is stale (``batch_claim_timeout()``, 25 s),
and the re-claimed batch is sent with the same retry key, so LINE answers 409 if the first try
had arrived: nobody receives it twice, nobody is skipped. The same sweep enqueues batches whose
task was lost with a worker (an overdue retry, a message passed over in the queue), and resumes
a fan-out that stopped between two steps or between a step's commit and its enqueue
(``enqueued_batch_count`` stays behind ``batch_count``). The thresholds are in ``selectors``.

This module holds steps 1 and 3 and the beat; sending one batch is in ``batch_send``, the next
date of a repeating broadcast in ``recurrence``, the blocks after a broadcast in ``unfollows``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from broadcasts.models import BATCH_SIZE, BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.selectors import (
    batch_claim_timeout,
    batches_claimed_by_dead_workers,
    batches_lost,
    budget_warning_for,
    fan_outs_stalled,
    progress_for_broadcasts,
    recipients_for_broadcast,
)
from broadcasts.services.recurrence import schedule_next_occurrence
from municipalities.audit import audit_log
from municipalities.claims import claims_reoffer_stale
from municipalities.line.retry import LINE_MAX_ATTEMPTS
from municipalities.tasks_queue import enqueue, task_named

logger = logging.getLogger(__name__)

FANOUT_BATCHES = 40  # batches per fan-out step (transaction): 20,000 recipients, the first 0.2 s of sending
ENQUEUE_PIPELINE = 100  # task messages per round trip to the broker (the first are visible at once)


RETRY_KEY_PREFIX = "cms/broadcast/{broadcast_id}/batch/"

# A batch claimed this many times (the LINE retry policy's bound) whose worker then died
# fails instead of being offered again: its sending keeps killing workers.
MAX_CLAIMS = LINE_MAX_ATTEMPTS
_WORKER_LOST = "送信中に処理が繰り返し中断されたため、このバッチの送信を取りやめました。"


def batch_retry_key(broadcast_id: int, seq: int) -> uuid.UUID:
    """The X-Line-Retry-Key of one batch: md5 of a stable name, read as a UUID (LINE accepts
    any UUID). md5 so that PostgreSQL computes the same key in the one-statement fan-out
    (``md5(...)::uuid``) as Python does here."""
    name = RETRY_KEY_PREFIX.format(broadcast_id=broadcast_id) + str(seq)
    return uuid.UUID(hashlib.md5(name.encode(), usedforsecurity=False).hexdigest())


# --- 1. start and fan out ---------------------------------------------------------------------


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
    broadcast = Broadcast.objects.select_related("department__municipality").get(pk=broadcast_id)
    # Sent anyway (it was approved), but the town learns it passed its monthly message budget.
    warning = budget_warning_for(broadcast=broadcast)
    if warning:
        logger.warning("broadcast %s passes the monthly budget of %s", broadcast_id, broadcast.department_id)
    audit_log(
        actor=None,
        action="broadcasts.broadcast.started",
        obj=broadcast,
        data={"budget_warning": warning} if warning else {},
    )
    if broadcast.recurrence:
        schedule_next_occurrence(broadcast)
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
    _enqueue_missing(broadcast_id)
    while True:
        broadcast = _fan_out_step(broadcast_id)
        if broadcast.fanned_out_at or broadcast.status != BroadcastStatus.SENDING:
            break
    finish_if_last(broadcast_id)
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
        upto = first_seq + written.batches
        transaction.on_commit(lambda: _enqueue_batches(broadcast_id, first_seq=first_seq, upto=upto))
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
                                 status, attempts, already_accepted, request_id, error_message,
                                 claimed_by, claim_count)
            SELECT %s, %s, %s, %s + s.seq, md5(%s || (%s + s.seq)::text)::uuid,
                   jsonb_path_query_array(
                       a.ids, ('$[' || s.seq * {size} || ' to ' || least(s.seq * {size} + {size - 1}, a.n - 1) || ']')::jsonpath
                   ),
                   least({size}, a.n - s.seq * {size}), %s, 0, false, '', '', '', 0
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


def _enqueue_missing(broadcast_id: int) -> None:
    """Enqueue the batches a fan-out wrote but did not enqueue (killed between the two)."""
    counts = (
        Broadcast.objects.filter(pk=broadcast_id).values_list("enqueued_batch_count", "batch_count").first()
    )
    if counts and counts[0] < counts[1]:
        logger.warning("enqueueing batches %s to %s of broadcast %s", counts[0], counts[1] - 1, broadcast_id)
        _enqueue_batches(broadcast_id, first_seq=counts[0], upto=counts[1])


def _enqueue_batches(broadcast_id: int, *, first_seq: int, upto: int) -> None:
    """One send task per pending batch with ``first_seq <= seq < upto``, in order; then
    ``enqueued_batch_count`` moves to ``upto`` (a fan-out killed before that is found by the
    sweep, which enqueues the rest)."""
    delivery_batch_send_task = task_named("broadcasts.tasks.delivery_batch_send_task")
    batch_ids = (
        DeliveryBatch.objects.filter(
            broadcast_id=broadcast_id, seq__gte=first_seq, seq__lt=upto, status=BatchStatus.PENDING
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
    Broadcast.objects.filter(pk=broadcast_id, enqueued_batch_count__lt=upto).update(enqueued_batch_count=upto)


# --- 3. finish --------------------------------------------------------------------------------


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


def finish_if_last(broadcast_id: int) -> None:
    """Finish the broadcast if this was its last open batch. Called after the batch's record
    committed (autocommit), in a statement of its own: of two batches finishing at once, the
    later one sees the other's record. (One statement would read both from the same snapshot,
    and neither would see the other finished.) A cheap read first: most batches are not the
    last one, and need no transaction."""
    if not _has_open_batches(broadcast_id):
        broadcast_finish_if_done(broadcast_id=broadcast_id)


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
    """Take up the work that dead workers and lost messages left behind; returns how many
    batches were enqueued again.

    - Batches in 送信中 whose worker stopped heartbeating go back to 送信待ち and are enqueued
      (one claimed MAX_CLAIMS times already, a batch that kills its workers, fails instead).
    - Pending batches whose send task is gone (an overdue retry, a message passed over in the
      queue, or none for STUCK_AFTER) are enqueued.
    - Fan-outs that stopped between two steps, or between a step's commit and its enqueue,
      are resumed (the resumed run enqueues what was not, then writes the rest).
    - Broadcasts whose batches are all closed are finished.

    Work that was in fact alive loses nothing: a batch is claimed once (the extra task finds it
    taken), a re-send carries the same retry key (LINE answers 409), and two fan-outs of one
    broadcast take turns under its row lock. The thresholds are in ``broadcasts.selectors``.
    """
    now = now or timezone.now()
    stale = batches_claimed_by_dead_workers(now=now)
    claims_reoffer_stale(
        stale.filter(claim_count__gte=MAX_CLAIMS),
        after=batch_claim_timeout(),
        now=now,
        status=BatchStatus.FAILED,
        error_message=_WORKER_LOST,
    )
    reoffered = claims_reoffer_stale(
        stale, after=batch_claim_timeout(), now=now, status=BatchStatus.PENDING, next_attempt_at=now
    )
    lost = list(batches_lost(now=now).order_by("broadcast_id", "seq").values_list("pk", flat=True)[:10_000])
    again = set(reoffered)
    batch_ids = [*reoffered, *(pk for pk in lost if pk not in again)]
    for batch_id in batch_ids:
        enqueue("broadcasts.tasks.delivery_batch_send_task", batch_id)
    if batch_ids:
        logger.warning(
            "re-enqueued %d broadcast batches (%d from dead workers, %d lost messages)",
            len(batch_ids),
            len(reoffered),
            len(batch_ids) - len(reoffered),
        )
    for broadcast_id in fan_outs_stalled(now=now).values_list("pk", flat=True):
        logger.warning("resuming the fan-out of broadcast %s", broadcast_id)
        enqueue("broadcasts.tasks.broadcast_fan_out_task", broadcast_id)
    open_broadcasts = Broadcast.objects.filter(
        status=BroadcastStatus.SENDING, fanned_out_at__isnull=False
    ).exclude(batches__status__in=[BatchStatus.PENDING, BatchStatus.SENDING])
    for broadcast_id in open_broadcasts.values_list("pk", flat=True):
        broadcast_finish_if_done(broadcast_id=broadcast_id)
    return len(batch_ids)
