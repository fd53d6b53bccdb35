"""The figure after a broadcast: how many recipients blocked the account within 24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from broadcasts.models import BatchStatus, Broadcast
from municipalities.models import Resident, WebhookEvent

UNFOLLOW_WINDOW = timedelta(hours=24)


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
