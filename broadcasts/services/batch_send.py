"""Sending one batch of a broadcast (step 2 of ``delivery``): claim it with a status flip, call
LINE's multicast outside any transaction, record LINE's answer on the batch row (sent; failed
with LINE's message; or back to pending with the LINE retry policy's back-off), then finish the
broadcast if it was the last open batch.

A 5xx, a timeout or a 429 from LINE is tried again at once, up to IMMEDIATE_RETRIES times, with
the same retry key (LINE asks for that) at the request's next rate-limit turn: one bad answer
among thousands costs one request, not a trip through the queue and a back-off while the rest
of the budget sits idle. Only a batch that keeps failing (LINE in trouble) goes back to pending
with the retry policy's exponential back-off, counted in claims (MAX_ATTEMPTS). A burst of 429s
pauses every sender through the shared rate limiter (the gateway reports each 429 to it).

The claim is claimed work (``municipalities.claims``): it records the worker, and each further
try moves the heartbeat, so a worker killed in between leaves a claim the sweep re-offers after
``batch_claim_timeout()`` (the longest one try can take), not minutes later.
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
from broadcasts.selectors import batch_claim_timeout
from broadcasts.services.delivery import finish_if_last
from municipalities.claims import claim, release_fields, stale_q, worker_identity
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineClientError, LineError, LineMessageInvalid, LineRateLimited
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


# Tries of one claim after the first: at once, at the request's next rate-limit turn.
IMMEDIATE_RETRIES = 2


def delivery_batch_send(*, batch_id: int) -> BatchOutcome:
    """Send one batch at most once and record LINE's answer on its row.

    Must not run inside a transaction (it calls LINE). Claims the batch with
    ``UPDATE … SET status=sending WHERE status=pending AND broadcast is sending`` (or a
    sending batch whose worker stopped heartbeating); a second run gets no row and returns
    "skipped". A transient failure (5xx, timeout, 429) is tried again at once up to
    IMMEDIATE_RETRIES times, each try counted in ``attempts`` and moving the heartbeat; then
    the batch goes back to pending and ``retry_in`` seconds are returned (the caller
    re-enqueues it), or, after MAX_ATTEMPTS claims, it fails. Every record is written only if
    this claim still owns the batch (``claim_count``), so a worker that was given up for dead
    cannot overwrite its successor's.
    """
    if _in_transaction():
        raise RuntimeError("delivery_batch_send() calls LINE and must not run inside a transaction")
    claimed = _claim(batch_id, timezone.now())
    if claimed is None:
        return BatchOutcome("skipped")
    broadcast_id, user_ids, retry_key, claim_no = claimed
    municipality, messages = _send_context(broadcast_id)
    client = get_line_client(municipality)
    tries = 0
    while True:
        tries += 1
        try:
            result = client.multicast(user_ids, messages, retry_key=retry_key)
        except LINE_RETRYABLE as exc:  # the LINE retry policy
            refused_by_limiter = isinstance(exc, LineRateLimited) and exc.status is None
            if tries <= IMMEDIATE_RETRIES and not refused_by_limiter and _try_again(batch_id, claim_no):
                continue
            mine = _this_claim(batch_id, claim_no)
            if claim_no < MAX_ATTEMPTS:
                return _defer(batch_id, mine, exc, claim_no)
            _record_failure(mine, exc, prefix="再試行の上限に達しました: ")
        except (LineClientError, LineMessageInvalid, LineError) as exc:
            _record_failure(_this_claim(batch_id, claim_no), exc)
        else:
            _record_sent(batch_id, claim_no, result)
            finish_if_last(broadcast_id)
            return BatchOutcome("sent")
        finish_if_last(broadcast_id)
        return BatchOutcome("failed")


def _defer(batch_id: int, mine: Any, exc: LineError, claim_no: int) -> BatchOutcome:
    """Back to pending after the retry policy's back-off (by claims: LINE kept failing)."""
    delay = backoff_seconds(claim_no)
    now = timezone.now()
    mine.update(
        status=BatchStatus.PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        http_status=exc.status,
        error_message=_error_text(exc),
        **release_fields(now=now),
    )
    logger.info(
        "broadcast batch %s: %s, claim %s, retry in %.1fs", batch_id, type(exc).__name__, claim_no, delay
    )
    return BatchOutcome("retry", retry_in=delay)


def _try_again(batch_id: int, claim_no: int) -> bool:
    """Count one more request on the batch and move the heartbeat, if the claim is still ours."""
    now = timezone.now()
    return bool(
        _this_claim(batch_id, claim_no).update(attempts=F("attempts") + 1, heartbeat_at=now, updated_at=now)
    )


_CLAIM_SQL = """
    UPDATE broadcasts_deliverybatch AS d
       SET status = 'sending', claimed_at = %(now)s, heartbeat_at = %(now)s, claimed_by = %(worker)s,
           claim_count = d.claim_count + 1, attempts = d.attempts + 1, next_attempt_at = NULL,
           updated_at = %(now)s
      FROM broadcasts_broadcast AS b
     WHERE d.id = %(id)s AND b.id = d.broadcast_id AND b.status = 'sending'
       AND (d.status = 'pending' OR (d.status = 'sending' AND (d.heartbeat_at IS NULL OR d.heartbeat_at < %(stale)s)))
 RETURNING d.broadcast_id, d.line_user_ids, d.retry_key, d.claim_count
"""

_RECORD_SENT_SQL = """
    UPDATE broadcasts_deliverybatch
       SET status = 'sent', sent_at = %(now)s, updated_at = %(now)s, already_accepted = %(accepted)s,
           request_id = %(request_id)s, http_status = %(http_status)s, error_message = '',
           claimed_by = '', heartbeat_at = NULL
     WHERE id = %(id)s AND status = 'sending' AND claim_count = %(claim_no)s
"""


def _this_claim(batch_id: int, claim_no: int) -> Any:
    """The batch row, as long as this claim still owns it."""
    return DeliveryBatch.objects.filter(pk=batch_id, status=BatchStatus.SENDING, claim_count=claim_no)


def _claim(batch_id: int, now: datetime) -> tuple[int, list[str], uuid.UUID, int] | None:
    """Flip the batch to sending if it is ours to send; (broadcast id, user ids, key, claim no).

    On PostgreSQL one ``UPDATE … RETURNING`` (a batch is claimed and read in one round trip,
    which matters at 200 batches a second); elsewhere a conditional UPDATE and a read.
    """
    stale = now - batch_claim_timeout()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _CLAIM_SQL, {"now": now, "id": batch_id, "stale": stale, "worker": worker_identity()}
            )
            row = cursor.fetchone()
        if row is None:
            return None
        ids = json.loads(row[1]) if isinstance(row[1], str) else row[1]
        return row[0], ids, uuid.UUID(str(row[2])), row[3]
    claimed = claim(
        DeliveryBatch.objects.filter(pk=batch_id, broadcast__status=BroadcastStatus.SENDING).filter(
            Q(status=BatchStatus.PENDING)
            | Q(Q(status=BatchStatus.SENDING) & stale_q(after=batch_claim_timeout(), now=now))
        ),
        now=now,
        status=BatchStatus.SENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=None,
    )
    if not claimed:
        return None
    batch = DeliveryBatch.objects.only("broadcast_id", "line_user_ids", "retry_key", "claim_count").get(
        pk=batch_id
    )
    return batch.broadcast_id, batch.line_user_ids, batch.retry_key, batch.claim_count


def _record_sent(batch_id: int, claim_no: int, result: Any) -> None:
    """Record LINE's acceptance (a 409 counts as sent) if this claim still owns the batch."""
    now = timezone.now()
    values = {
        "now": now,
        "accepted": result.already_accepted,
        "request_id": (result.request_id or "")[:64],
        "http_status": 409 if result.already_accepted else 200,
        "id": batch_id,
        "claim_no": claim_no,
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_RECORD_SENT_SQL, values)
    else:
        _this_claim(batch_id, claim_no).update(
            status=BatchStatus.SENT,
            sent_at=now,
            already_accepted=values["accepted"],
            request_id=values["request_id"],
            http_status=values["http_status"],
            error_message="",
            **release_fields(now=now),
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
        **release_fields(),
    )
