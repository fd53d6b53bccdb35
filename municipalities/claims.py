"""Claimed work: a row one worker has taken (送信待ち → 送信中), who took it, and whether it is alive.

A worker takes a row with a conditional UPDATE (``claim``), which records who claimed it
(``claimed_by``, host and process), when (``claimed_at``) and a first heartbeat
(``heartbeat_at``), and counts the claim (``claim_count``). While it works it moves the
heartbeat forward (``heartbeat``, or ``Heartbeat`` for long jobs). A worker killed with
``kill -9`` stops heartbeating; a sweep on beat (``claims_reoffer_stale``) puts such rows back
where another worker takes them. The feature decides what "back" means (送信待ち again, or a
failed state once ``claim_count`` says the work kills its workers), and the re-sent request
carries the same retry key, so LINE answers 409 for one that had arrived: "maybe sent" becomes
"sent" without a duplicate.

Nothing here knows a feature app; models inherit ``ClaimedWork`` and call the functions with
their own querysets and status fields.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

_WORKER: str | None = None


def worker_identity() -> str:
    """``host:pid`` of this process: who holds a claim, shown to staff and in logs."""
    global _WORKER  # noqa: PLW0603 - computed once per process; a forked child has its own pid
    pid = os.getpid()
    if _WORKER is None or not _WORKER.endswith(f":{pid}"):
        _WORKER = f"{socket.gethostname()[:80]}:{pid}"
    return _WORKER


class ClaimedWork(models.Model):
    """Fields of a row that one worker at a time works on (see the module docstring)."""

    claimed_by = models.CharField(
        _("処理中のワーカー"),
        max_length=100,
        blank=True,
        editable=False,
        help_text=_("この行を処理しているワーカー（ホスト名:プロセス番号）です。"),
    )
    claimed_at = models.DateTimeField(_("処理開始日時"), null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(
        _("最終応答日時"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "処理中のワーカーが最後に応答した日時です。止まったワーカーの処理は自動でやり直されます。"
        ),
    )
    claim_count = models.PositiveSmallIntegerField(
        _("処理回数"),
        default=0,
        editable=False,
        help_text=_("ワーカーがこの行の処理を始めた回数です（中断後の再処理を含む）。"),
    )

    class Meta:
        abstract = True


def stale_after() -> dt.timedelta:
    """How long a claim may go without a heartbeat before its worker counts as dead
    (``settings.CLAIM_STALE_AFTER_SECONDS``)."""
    return dt.timedelta(seconds=settings.CLAIM_STALE_AFTER_SECONDS)


def heartbeat_every() -> float:
    """Seconds between heartbeats: several beats fit in ``stale_after()``, so one late beat
    (a slow query, a busy machine) does not make a live worker look dead."""
    return settings.CLAIM_STALE_AFTER_SECONDS / 6


def claim_fields(*, now: dt.datetime | None = None, worker: str | None = None) -> dict[str, Any]:
    """The values a claim writes, to merge into the caller's own conditional UPDATE."""
    now = now or timezone.now()
    return {
        "claimed_by": worker or worker_identity(),
        "claimed_at": now,
        "heartbeat_at": now,
        "claim_count": F("claim_count") + 1,
        "updated_at": now,
    }


def release_fields(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """The values that end a claim (the work finished, failed or is offered again)."""
    return {"claimed_by": "", "heartbeat_at": None, "updated_at": now or timezone.now()}


def claim(queryset: QuerySet, *, now: dt.datetime | None = None, **changes: Any) -> int:
    """Claim the rows of ``queryset`` (which holds the "still free" condition), setting ``changes``.

    One conditional UPDATE: of two workers that run it at once, one gets 1, the other 0.
    """
    return queryset.update(**changes, **claim_fields(now=now))


def heartbeat(queryset: QuerySet, *, now: dt.datetime | None = None, worker: str | None = None) -> int:
    """Tell the sweep this worker still works on the rows; 0 means the claim is no longer ours."""
    return queryset.filter(claimed_by=worker or worker_identity()).update(heartbeat_at=now or timezone.now())


def stale_q(*, after: dt.timedelta | None = None, now: dt.datetime | None = None) -> Q:
    """Claims whose worker has not heartbeaten for ``after`` (``stale_after()``), or never did."""
    now = now or timezone.now()
    return Q(heartbeat_at__lt=now - (after or stale_after())) | Q(heartbeat_at__isnull=True)


def claims_reoffer_stale(
    queryset: QuerySet, *, after: dt.timedelta | None = None, now: dt.datetime | None = None, **changes: Any
) -> list[int]:
    """Put back the claimed rows of ``queryset`` whose worker stopped heartbeating; their ids.

    ``queryset`` selects the claimed state (``status="sending"``); ``changes`` says where the
    rows go (``status="pending"``). Rows locked by another sweep are skipped (PostgreSQL), and
    the UPDATE repeats the staleness condition, so a worker that heartbeats meanwhile keeps its
    claim. Runs in the caller's transaction, or in its own.
    """
    now = now or timezone.now()
    stale = queryset.filter(stale_q(after=after, now=now))
    with transaction.atomic():
        ids = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True)[:5000])
        if not ids:
            return []
        updated = stale.filter(pk__in=ids).update(**changes, **release_fields(now=now))
    if updated != len(ids):  # cannot happen under the row locks; on SQLite writes are serial
        logger.warning("claims: %s of %s stale rows re-offered", updated, len(ids))
    return ids


@contextmanager
def Heartbeat(  # noqa: N802 - used as ``with Heartbeat(qs):`` like a class
    queryset: QuerySet, *, every: float | None = None
) -> Iterator[None]:
    """Heartbeat ``queryset``'s claim every ``every`` seconds (``heartbeat_every()``) while the
    block runs.

    For long work (an import of 20,000 rows) that cannot heartbeat between steps. The beats
    run in a thread with its own database connection (closed at the end), so they are not
    inside the block's transaction. A failed beat is logged, never raised: losing a beat costs
    at most a re-offer, and the re-offered work is idempotent.
    """
    every = every or heartbeat_every()
    stop = threading.Event()
    worker = worker_identity()
    alias = queryset.db

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    heartbeat(queryset.using(alias), worker=worker)
                except DatabaseError:
                    logger.warning("claims: heartbeat failed", exc_info=True)
                    # A cut connection stays broken in this thread; the next beat opens a new one.
                    connections[alias].close()
        finally:
            connections[alias].close()

    thread = None
    # SQLite allows one writer: a beat would wait for the block's own transaction. The embedded
    # demo runs tasks eagerly in one process, where nothing can die without the request.
    if connection.vendor != "sqlite":
        thread = threading.Thread(target=beat, name="claims-heartbeat", daemon=True)
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=every + 5)
