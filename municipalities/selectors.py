"""Reads of the core app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from municipalities import permissions
from municipalities.models import (
    PAID_AFTER_CANCEL,
    Municipality,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Resident,
)


def residents_for_segment(
    *,
    municipality: Municipality,
    interest_ids: Iterable[int] | None = None,
    area_ids: Iterable[int] | None = None,
    age_bands: Iterable[str] | None = None,
    emergency: bool = False,
    after_id: int | None = None,
) -> QuerySet[Resident]:
    """Followers of ``municipality`` who should receive a notice.

    Emergency notices go to every follower. Otherwise a resident must not have paused notices,
    must have chosen one of ``interest_ids`` (when given), and must match the area and age band
    filters (when given). One query; callers stream it with ``.values_list(...).iterator()``.

    ``after_id``: only residents with a greater primary key (keyset paging in primary key
    order). The bound is put on the chosen interests too: PostgreSQL does not carry it across
    the join by itself, and would merge-join the interests from the first resident on.
    """
    qs = Resident.objects.filter(municipality=municipality, is_following=True)
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    if emergency:
        return qs
    qs = qs.filter(notices_paused=False)
    interest_ids = list(interest_ids or [])
    if interest_ids:
        # A subquery rather than a join: a resident who chose several of them is one row.
        chosen = Resident.interests.through.objects.filter(interest_id__in=interest_ids)
        if after_id is not None:
            chosen = chosen.filter(resident_id__gt=after_id)
        qs = qs.filter(pk__in=chosen.values("resident_id"))
    if area_ids:
        qs = qs.filter(area_id__in=list(area_ids))
    if age_bands:
        qs = qs.filter(age_band__in=list(age_bands))
    return qs


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def payments_for_staff(*, user: Any, start: date, end: date) -> QuerySet[Payment]:
    """Paid (and later refunded) payments whose payment time falls in [start, end], in scope."""
    lower, upper = _day_bounds(start, end)
    qs = Payment.objects.filter(
        status__in=[PaymentStatus.PAID, PaymentStatus.REFUNDED], paid_at__gte=lower, paid_at__lt=upper
    ).select_related("department", "recorded_by")
    return permissions.policy_for(Payment).instances_user_has_permission_for(user, "view", qs)


def payments_reconciliation(*, user: Any, start: date, end: date) -> list[dict[str, Any]]:
    """入金の照合: totals per day (Asia/Tokyo), department, what was paid for and provider:
    count, paid amount, refunded amount, net. One query."""
    labels = dict(PaymentMethod.choices)
    rows = (
        payments_for_staff(user=user, start=start, end=end)
        .annotate(day=TruncDate("paid_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "department__name", "description", "provider")
        .annotate(
            n=Count("pk"),
            total=Sum("amount"),
            refunded_total=Sum("amount", filter=Q(status=PaymentStatus.REFUNDED)),
        )
        .order_by("day", "department__name", "description", "provider")
    )
    return [
        {
            "day": r["day"],
            "department": r["department__name"],
            "description": r["description"],
            "provider": r["provider"],
            "provider_label": str(labels.get(r["provider"], r["provider"])),
            "count": r["n"],
            "amount": r["total"] or 0,
            "refunded": r["refunded_total"] or 0,
            "net": (r["total"] or 0) - (r["refunded_total"] or 0),
        }
        for r in rows
    ]


def payments_to_refund_for_staff(*, user: Any) -> QuerySet[Payment]:
    """Money taken after the payment was given up here (its subject lapsed or was cancelled):
    paid and flagged, not yet refunded, oldest first."""
    qs = (
        Payment.objects.filter(status=PaymentStatus.PAID, **{f"detail__{PAID_AFTER_CANCEL}": True})
        .select_related("department")
        .prefetch_related("subject")
        .order_by("paid_at", "pk")
    )
    return permissions.policy_for(Payment).instances_user_has_permission_for(user, "view", qs)


def unpaid_payments_for_staff(*, user: Any) -> QuerySet[Payment]:
    """Payments still waiting to be paid (未払い), oldest first, with what they are for."""
    qs = (
        Payment.objects.filter(status=PaymentStatus.PENDING)
        .select_related("department")
        .prefetch_related("subject")
        .order_by("created_at", "pk")
    )
    return permissions.policy_for(Payment).instances_user_has_permission_for(user, "view", qs)
