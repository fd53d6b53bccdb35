"""Writes of the reports app: the daily rollup, the backfill, the monthly preparation, and
LINE's own figures (Insight) fetched through the LINE gateway."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.audit import audit_log
from municipalities.line.client import get_line_client
from municipalities.line.insight import InsightDemographics
from municipalities.metrics import day_bounds, providers
from municipalities.models import Municipality
from reports.errors import ReportError
from reports.models import DailyMetric, LineInsightDay, MonthlyMetric
from reports.selectors import flow_metrics_q

logger = logging.getLogger(__name__)

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
    one, and the unique constraints hold). The day's month (MonthlyMetric) is recomputed in the
    same transaction. Before writing, locks the town's row (FOR NO KEY UPDATE: two rollups of one
    town, say the nightly run and a backfill, take turns writing instead of writing the same
    month at once, while their reads of the raw records overlap; inserts that reference the town
    are not blocked). Raises ReportError for a day that has not ended.
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
    list(Municipality.objects.select_for_update(no_key=True).filter(pk=municipality.pk).values_list("pk"))
    DailyMetric.objects.filter(municipality=municipality, day=day).delete()
    DailyMetric.objects.bulk_create(rows, batch_size=2000)
    monthly_metrics_refresh(municipality=municipality, month=day)
    return len(rows)


def monthly_metrics_refresh(*, municipality: Municipality, month: dt.date) -> int:
    """Recompute ``municipality``'s month of ``month`` (MonthlyMetric) from its daily rows: the
    sum of every figure that adds up, per department and breakdown. Runs inside the caller's
    transaction (the daily rollup's), so the month always agrees with its days; returns the rows
    written. Raises RuntimeError outside a transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("monthly_metrics_refresh runs inside the daily rollup's transaction")
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    MonthlyMetric.objects.filter(municipality=municipality, month=first).delete()
    sums = (
        DailyMetric.objects.filter(municipality=municipality, day__gte=first, day__lte=last)
        .filter(flow_metrics_q())
        .values_list("department_id", "source", "metric", "dimension")
        .annotate(label=Max("label"), value=Sum("value"))
        .order_by()
    )
    rows = [
        MonthlyMetric(
            municipality=municipality,
            department_id=department_id,
            month=first,
            source=source,
            metric=metric,
            dimension=dimension,
            label=label,
            value=value,
        )
        for department_id, source, metric, dimension, label, value in sums
    ]
    MonthlyMetric.objects.bulk_create(rows, batch_size=2000)
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


# --- LINE's own figures (Insight) ---------------------------------------------------------------


def line_insight_fetch(
    *, municipality: Municipality, day: dt.date, with_demographics: bool = False
) -> LineInsightDay | None:
    """Ask LINE (through the town's gateway client) for its figures of ``day`` and store them:
    followers, targeted reaches and blocks, and the messages sent per kind; with
    ``with_demographics`` also the friends' demographics as they stand now.

    A figure LINE has not counted yet (``unready``) is left as it was, so a later run fills it;
    a figure LINE has is replaced by its latest answer (running it twice stores the same row).
    Returns the row, or None when LINE had nothing for the day yet. Calls LINE outside any
    transaction, then writes in one (STYLE R3); raises the gateway's LineError.
    """
    client = get_line_client(municipality)
    followers = client.insight_followers(day)
    deliveries = client.insight_message_deliveries(day)
    demographics: InsightDemographics | None = client.insight_demographics() if with_demographics else None
    values: dict[str, object] = {}
    if followers.ready:
        values.update(
            followers=followers.followers,
            targeted_reaches=followers.targeted_reaches,
            blocks=followers.blocks,
        )
    if deliveries.ready:
        values["deliveries"] = dict(deliveries.counts)
    if demographics is not None and demographics.available:
        values["demographics"] = {
            name: [list(t) for t in tiles] for name, tiles in demographics.tiles.items()
        }
    if not values:
        return None
    with transaction.atomic(durable=True):
        row, _created = LineInsightDay.objects.update_or_create(
            municipality=municipality, day=day, defaults={**values, "fetched_at": timezone.now()}
        )
    return row


def line_insight_nightly(*, municipality: Municipality, today: dt.date | None = None) -> int:
    """The nightly run for one town: the last NIGHTLY_DAYS days before ``today`` that LINE had not
    fully counted at the last run (the demographics with the newest day). Returns the days
    stored. A day LINE still has not counted is simply asked again the next night."""
    today = today or timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    days = [today - dt.timedelta(days=n) for n in range(NIGHTLY_DAYS, 0, -1)]
    complete = {
        row.day
        for row in LineInsightDay.objects.filter(municipality=municipality, day__in=days)
        if row.complete and (row.day != yesterday or row.demographics)
    }
    stored = 0
    for day in days:
        if day in complete:
            continue
        if line_insight_fetch(municipality=municipality, day=day, with_demographics=day == yesterday):
            stored += 1
    return stored
