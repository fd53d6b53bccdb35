"""Reads of the broadcasts app: recipients, due work, progress and figures for the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from municipalities.models import Municipality, Resident
from municipalities.selectors import residents_for_segment

# A batch claimed longer ago than this is taken to belong to a dead worker (a multicast
# answers within seconds; the client's own timeout is 10 s and the rate limiter waits less).
STUCK_AFTER = timedelta(minutes=2)


def recipients_for_segment(
    *,
    municipality: Municipality,
    category_id: int | None,
    area_ids: list[int],
    age_bands: list[str],
    emergency: bool,
    after_id: int | None = None,
) -> QuerySet[Resident]:
    """Residents a broadcast with these settings reaches, unordered (one query). ``after_id``:
    only those with a greater primary key (the fan-out's keyset paging)."""
    return residents_for_segment(
        municipality=municipality,
        interest_ids=[category_id] if category_id else None,
        area_ids=area_ids or None,
        age_bands=age_bands or None,
        emergency=emergency,
        after_id=after_id,
    ).order_by()


def recipients_for_broadcast(*, broadcast: Broadcast, after_id: int | None = None) -> QuerySet[Resident]:
    """Residents ``broadcast`` reaches right now: followers who opted in to its category and
    match its areas and age bands; every follower when it is an emergency. ``after_id``: only
    those with a greater primary key."""
    return recipients_for_segment(
        municipality=broadcast.department.municipality,
        category_id=broadcast.category_id,
        area_ids=list(broadcast.areas.values_list("pk", flat=True)) if broadcast.pk else [],
        age_bands=list(broadcast.age_bands or []),
        emergency=broadcast.is_emergency,
        after_id=after_id,
    )


def broadcasts_due(*, now: datetime | None = None) -> QuerySet[Broadcast]:
    """Approved or scheduled broadcasts whose time has come (index bc_broadcast_due_idx)."""
    now = now or timezone.now()
    return Broadcast.objects.filter(
        status__in=[BroadcastStatus.APPROVED, BroadcastStatus.SCHEDULED], scheduled_at__lte=now
    ).order_by("scheduled_at", "pk")


def batches_stuck(*, now: datetime | None = None) -> QuerySet[DeliveryBatch]:
    """Open batches of broadcasts that are sending, left behind by a dead worker or a lost
    message: claimed longer than STUCK_AFTER ago, or pending with no retry due
    (index bc_batch_open_idx)."""
    now = now or timezone.now()
    cutoff = now - STUCK_AFTER
    return DeliveryBatch.objects.filter(broadcast__status=BroadcastStatus.SENDING).filter(
        Q(status=BatchStatus.SENDING, claimed_at__lt=cutoff)
        | Q(status=BatchStatus.PENDING, next_attempt_at__lt=cutoff)
        | Q(status=BatchStatus.PENDING, next_attempt_at__isnull=True, created_at__lt=cutoff)
    )


def fan_outs_stalled(*, now: datetime | None = None) -> QuerySet[Broadcast]:
    """Sending broadcasts whose fan-out has not moved for STUCK_AFTER: its worker died between
    two steps (a step takes well under a second)."""
    now = now or timezone.now()
    return Broadcast.objects.filter(
        status=BroadcastStatus.SENDING, fanned_out_at__isnull=True, updated_at__lt=now - STUCK_AFTER
    )


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    pending: int
    cancelled: int

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.cancelled

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


def progress_for_broadcasts(*, broadcast_ids: list[int]) -> dict[int, Progress]:
    """Recipients per batch status for several broadcasts, in one grouped query."""
    rows = (
        DeliveryBatch.objects.filter(broadcast_id__in=broadcast_ids)
        .order_by()
        .values("broadcast_id", "status")
        .annotate(n=Sum("size"))
    )
    counts: dict[int, dict[str, int]] = {pk: {} for pk in broadcast_ids}
    for row in rows:
        counts[row["broadcast_id"]][row["status"]] = row["n"] or 0
    out = {}
    for pk, by_status in counts.items():
        out[pk] = Progress(
            total=sum(by_status.values()),
            sent=by_status.get(BatchStatus.SENT, 0),
            failed=by_status.get(BatchStatus.FAILED, 0),
            pending=by_status.get(BatchStatus.PENDING, 0) + by_status.get(BatchStatus.SENDING, 0),
            cancelled=by_status.get(BatchStatus.CANCELLED, 0),
        )
    return out


def broadcast_progress(*, broadcast: Broadcast) -> Progress:
    return progress_for_broadcasts(broadcast_ids=[broadcast.pk])[broadcast.pk]


def broadcasts_for_unfollow_count(*, now: datetime | None = None) -> QuerySet[Broadcast]:
    """Finished broadcasts whose 24-hour block window is open or just closed, not yet final."""
    now = now or timezone.now()
    return Broadcast.objects.filter(
        unfollows_counted_at__isnull=True, finished_at__isnull=False, started_at__isnull=False
    ).order_by("finished_at")
