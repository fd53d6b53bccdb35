"""Writes of the reports app: the daily rollup, the backfill and the monthly preparation."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.audit import audit_log
from municipalities.metrics import day_bounds, providers
from municipalities.models import Municipality
from reports.errors import ReportError
from reports.models import DailyMetric

# How many days the nightly rollup re-reads: yesterday, and the two days before it, whose
# figures may still change (a broadcast's blocks within 24 hours, events that arrived late).
NIGHTLY_DAYS = 3
MAX_BACKFILL_DAYS = 3 * 366


@transaction.atomic(durable=True)
def daily_metrics_rollup(*, municipality: Municipality, day: dt.date) -> int:
    """Replace ``municipality``'s figures of ``day`` (Asia/Tokyo) with what the providers compute
    now, in one transaction; returns the number of rows written.

    Idempotent: running it again for the same day and data writes the same rows (the old ones
    are deleted first, in the same transaction, so a reader sees either the old day or the new
    one, and the unique constraints hold). Raises ReportError for a day that has not ended.
    Enqueues nothing.
    """
    start, end = day_bounds(day)
    if start >= timezone.now():
        raise ReportError(_("まだ始まっていない日は集計できません。"), code="future")
    rows: list[DailyMetric] = []
    for provider in providers():
        merged: dict[tuple[str, int | None, str], DailyMetric] = {}
        for row in provider.rollup(municipality, start, end):
            key = (row.metric, row.department_id, row.dimension)
            if key in merged:  # two rows for one figure (same label twice): one row, summed
                merged[key].value += row.value
                continue
            merged[key] = DailyMetric(
                municipality=municipality,
                department_id=row.department_id,
                day=day,
                source=provider.key,
                metric=row.metric,
                dimension=row.dimension[:100],
                label=str(row.label)[:300],
                value=row.value,
            )
        rows += merged.values()
    DailyMetric.objects.filter(municipality=municipality, day=day).delete()
    DailyMetric.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def daily_metrics_backfill(
    *, municipality: Municipality, since: dt.date, until: dt.date | None = None
) -> int:
    """Roll up every day from ``since`` to ``until`` (default: yesterday), one transaction per
    day, oldest first; returns the number of days. A run cut off half-way is simply run again.
    Raises ReportError for an empty or too long range."""
    until = until or timezone.localdate() - dt.timedelta(days=1)
    if since > until:
        raise ReportError(_("開始日が終了日より後です（昨日までの日を指定してください）。"), code="invalid")
    days = (until - since).days + 1
    if days > MAX_BACKFILL_DAYS:
        raise ReportError(_("一度に集計できるのは 3 年分までです。"), code="invalid")
    for offset in range(days):
        daily_metrics_rollup(municipality=municipality, day=since + dt.timedelta(days=offset))
    return days


def daily_metrics_nightly(*, municipality: Municipality, today: dt.date | None = None) -> int:
    """The nightly run: the last NIGHTLY_DAYS days before ``today`` (default: today, Tokyo)."""
    today = today or timezone.localdate()
    return daily_metrics_backfill(
        municipality=municipality,
        since=today - dt.timedelta(days=NIGHTLY_DAYS),
        until=today - dt.timedelta(days=1),
    )


def monthly_report_prepare(*, municipality: Municipality, month: dt.date) -> int:
    """Make last month's report final: roll up every day of ``month`` again (figures that changed
    after the nightly runs — late events, 24-hour block counts, corrected bookings — are taken
    in) and record in the town's audit log that the month's report is ready. Returns the days.
    Idempotent: a second run rolls the same days up again and adds another audit entry."""
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    days = daily_metrics_backfill(municipality=municipality, since=first, until=last)
    with transaction.atomic(durable=True):
        audit_log(
            actor=None,
            actor_label=_("システム"),
            action="reports.monthly.prepared",
            obj=municipality,
            object_repr=_("%(year)d年%(month)d月の月次レポート") % {"year": first.year, "month": first.month},
            data={"month": first.strftime("%Y-%m"), "days": days},
        )
    return days
