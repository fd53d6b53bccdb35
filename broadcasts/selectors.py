"""Reads of the broadcasts app: recipients, due work, progress and figures for the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Max, Q, QuerySet, Sum
from django.utils import timezone

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from municipalities.claims import stale_q
from municipalities.line import quota
from municipalities.line.ratelimit import DEFAULT_MAX_WAIT_SECONDS
from municipalities.models import Municipality, Resident
from municipalities.selectors import residents_for_segment

# How the sweep (delivery_batches_requeue_stuck, every few seconds) tells work that a dead
# worker or a lost message left behind from work that is merely waiting:
#
# - a claimed batch whose heartbeat is older than batch_claim_timeout(): one try holds the claim
#   for at most one rate-limit wait and one request to LINE, and each try moves the heartbeat;
# - a pending batch whose retry was due RETRY_LOST_AFTER ago: the task that held the retry died;
# - a pending batch never claimed while a batch enqueued LOST_MARGIN after it was claimed
#   LOST_AFTER ago: the queue hands out a fan-out's messages in order, so its message is gone
#   (a worker killed after taking it, before claiming);
# - a fan-out that has not written or enqueued a step for FANOUT_STALE_AFTER (a step takes well
#   under a second), or whose last step's batches were never enqueued;
# - STUCK_AFTER: the backstop for a broker that lost every message (Redis restarted empty).
#
# Re-offering work that was in fact alive costs a no-op: the batch is claimed once, and a
# re-send carries the same retry key, which LINE answers 409.
RETRY_LOST_AFTER = timedelta(seconds=10)
LOST_AFTER = timedelta(seconds=10)
LOST_MARGIN = 100
FANOUT_STALE_AFTER = timedelta(seconds=15)
STUCK_AFTER = timedelta(minutes=2)


def batch_claim_timeout() -> timedelta:
    """How long a batch's claim may go without a heartbeat: the longest one try can take (the
    rate limiter's longest wait, LINE's timeout) and 5 s for the database."""
    return timedelta(seconds=DEFAULT_MAX_WAIT_SECONDS + float(settings.LINE_API_TIMEOUT_SECONDS) + 5)


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


def batches_claimed_by_dead_workers(*, now: datetime | None = None) -> QuerySet[DeliveryBatch]:
    """Batches in 送信中 of sending broadcasts whose worker stopped heartbeating for
    ``batch_claim_timeout()`` (index bc_batch_open_idx)."""
    return DeliveryBatch.objects.filter(
        broadcast__status=BroadcastStatus.SENDING, status=BatchStatus.SENDING
    ).filter(stale_q(after=batch_claim_timeout(), now=now or timezone.now()))


def batches_lost(*, now: datetime | None = None) -> QuerySet[DeliveryBatch]:
    """Pending batches of sending broadcasts whose send task is gone (see the rules above):
    a retry overdue by RETRY_LOST_AFTER, a batch passed over in the queue, or one never
    claimed for STUCK_AFTER (index bc_batch_open_idx; one grouped read for the queue marks)."""
    now = now or timezone.now()
    lost = Q(next_attempt_at__lt=now - RETRY_LOST_AFTER) | Q(
        claim_count=0, next_attempt_at__isnull=True, created_at__lt=now - STUCK_AFTER
    )
    marks = (
        DeliveryBatch.objects.filter(
            broadcast__status=BroadcastStatus.SENDING, claimed_at__lt=now - LOST_AFTER
        )
        .order_by()
        .values("broadcast_id")
        .annotate(last_seq=Max("seq"))
        .values_list("broadcast_id", "last_seq")
    )
    for broadcast_id, last_seq in marks:
        if last_seq >= LOST_MARGIN:
            lost |= Q(broadcast_id=broadcast_id, claim_count=0, seq__lt=last_seq - LOST_MARGIN)
    return DeliveryBatch.objects.filter(
        broadcast__status=BroadcastStatus.SENDING, status=BatchStatus.PENDING
    ).filter(lost)


def fan_outs_stalled(*, now: datetime | None = None) -> QuerySet[Broadcast]:
    """Sending broadcasts whose fan-out has not moved for FANOUT_STALE_AFTER although it has
    recipients left to write, or batches it wrote but did not enqueue: its worker died
    between two steps, or between a step's commit and its enqueue."""
    now = now or timezone.now()
    return Broadcast.objects.filter(
        Q(fanned_out_at__isnull=True) | Q(enqueued_batch_count__lt=F("batch_count")),
        status=BroadcastStatus.SENDING,
        updated_at__lt=now - FANOUT_STALE_AFTER,
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


def budget_warning_for(*, broadcast: Broadcast) -> str:
    """A sentence for staff when sending ``broadcast`` now would pass the town's monthly message
    budget (its LINE plan: one message per recipient), else "". Reads the recipients only when
    the town set a budget."""
    municipality = broadcast.department.municipality
    if not municipality.monthly_push_budget:
        return ""
    adding = broadcast.recipient_count or recipients_for_broadcast(broadcast=broadcast).count()
    return quota.budget_check(municipality, adding=adding).warning()
