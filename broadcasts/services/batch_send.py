"""Sending one batch of a broadcast (step 2 of ``delivery``): claim it with a status flip, call
LINE's multicast outside any transaction, record LINE's answer on the batch row (sent; failed
with LINE's message; or back to pending with the LINE retry policy's back-off), then finish the
broadcast if it was the last open batch.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.selectors import STUCK_AFTER
from broadcasts.services.delivery import finish_if_last
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineClientError, LineError, LineMessageInvalid
from municipalities.line.retry import LINE_MAX_ATTEMPTS as MAX_ATTEMPTS
from municipalities.line.retry import LINE_RETRYABLE
from municipalities.line.retry import line_backoff_seconds as backoff_seconds
from municipalities.models import Municipality

logger = logging.getLogger(__name__)


def _in_transaction() -> bool:
    """Whether a transaction that can still roll back is open (the test case's own wrapping
    transaction does not count, as for ``atomic(durable=True)``)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


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
        finish_if_last(broadcast_id)
        return BatchOutcome("sent")
    finish_if_last(broadcast_id)
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
