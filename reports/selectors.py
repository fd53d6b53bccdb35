"""Reads of the reports app: the dashboard's figures, from the rollup rows only.

``dashboard_data`` reads a town's rows for a period and the period before it with a fixed
number of queries whatever the period's length (whole months from MonthlyMetric, the days at
the edges and the snapshots from DailyMetric), and never touches the raw records; the sections
are shaped from those rows in ``reports.sections``. Every query goes through the permission
policy: a department's staff get their department's rows, 自治体管理者 the town's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import BigIntegerField, Case, F, Max, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from municipalities.metrics import SECTIONS, MetricSpec, provider_for, providers
from municipalities.models import Department, Municipality
from municipalities.permissions import departments_for_staff, policy_for
from reports.models import DailyMetric, MonthlyMetric
from reports.periods import Period, days_q, month_list_q, month_period, months_q  # noqa: F401 (month_period: read here by the pages)
from reports.savings import WORKDAY_HOURS, Assumption, Saving, assumptions_for_town, savings_per_month
from reports.sections import Section, build_section

TOP_ROWS = 20
SMALL_NUMBER = 3


def suppressed(value: int, spec: MetricSpec) -> int | str:
    """A breakdown cell as exported: 「3未満」 for 1 or 2 residents (a small village must not be
    able to identify people through a report); 0 and every other figure unchanged."""
    if spec.people and 0 < value < SMALL_NUMBER:
        return _("3未満")
    return value


@dataclass
class Dashboard:
    municipality: Municipality
    department: Department | None
    period: Period
    previous: Period
    sections: list[Section]
    savings: list[Saving]
    assumptions: list[Assumption]
    saved_hours: Decimal
    saved_days: Decimal
    town_wide_hidden: bool
    last_day: dt.date | None


# --- scope ---------------------------------------------------------------------------------------


def metrics_for_staff(
    *, user: Any, municipality: Municipality, department: Department | None, monthly: bool = False
) -> QuerySet:
    """The town's rows the user may view, narrowed to ``department`` when given (then the
    town-wide rows are left out: they belong to no department). ``monthly``: the month rows
    (MonthlyMetric), viewed under the daily rows' permissions (they are the same figures)."""
    model = MonthlyMetric if monthly else DailyMetric
    qs = policy_for(DailyMetric).instances_user_has_permission_for(
        user, "view", model.objects.filter(municipality=municipality)
    )
    if department is not None:
        qs = qs.filter(department=department)
    return qs


def report_departments_for_staff(*, user: Any, municipality: Municipality) -> QuerySet[Department]:
    """Departments of the town whose figures the user may view (the dashboard's choice)."""
    return departments_for_staff(user=user, perm="reports.view_dailymetric").filter(municipality=municipality)


def sees_town(*, user: Any, municipality: Municipality) -> bool:
    """Whether the user sees the town-wide rows (friends, chatbot): 自治体管理者 and superusers."""
    probe = DailyMetric(municipality=municipality, department=None)
    return policy_for(DailyMetric).user_has_permission_for_instance(user, "view", probe)


# --- the dashboard -------------------------------------------------------------------------------


def _specs() -> dict[tuple[str, str], MetricSpec]:
    return {(p.key, name): spec for p in providers() for name, spec in p.metrics.items()}


def flow_metrics_q() -> Q:
    """The figures that add up over days (every metric that is not a state at the end of a
    day): the ones summed over a period, and kept per month (MonthlyMetric)."""
    q = Q(pk__in=[])
    for p in providers():
        q |= Q(source=p.key, metric__in=[n for n, s in p.metrics.items() if not s.snapshot])
    return q


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


def dashboard_data(
    *, user: Any, municipality: Municipality, department: Department | None, period: Period
) -> Dashboard:
    """Every section of the dashboard for ``period`` compared with the period before.

    Eight queries whatever the period: the sums over both periods (whole months from the
    monthly rows, the days at the edges from the daily rows: two), the snapshot of each
    period's last rolled-up day (two), the series (monthly and daily rows: two), the
    assumptions, and whether the user sees the town. A year reads about twelve rows per figure
    instead of 365.
    """
    previous = period.previous()
    qs = metrics_for_staff(user=user, municipality=municipality, department=department)
    monthly = metrics_for_staff(user=user, municipality=municipality, department=department, monthly=True)
    specs = _specs()
    flow_q = Q()
    snapshot_q = Q()
    series_q = Q()
    for p in providers():
        flows = [n for n, s in p.metrics.items() if not s.snapshot]
        snaps = [n for n, s in p.metrics.items() if s.snapshot]
        charted = [n for n, s in p.metrics.items() if s.series or n in p.saves] + [
            name for r in p.ratios if r.by_month for name in (r.numerator, *r.denominator)
        ]
        flow_q |= Q(source=p.key, metric__in=flows)
        snapshot_q |= Q(source=p.key, metric__in=snaps)
        series_q |= Q(source=p.key, metric__in=sorted(set(charted)), dimension="")

    # 1 and 2. Sums of the flow metrics over both periods, per figure: months from the monthly
    # rows, and from the daily rows the days of a month less than half inside a period (added)
    # or the days outside it of a month more than half inside (subtracted from its month).
    sums: dict[tuple[str, str, str], dict[str, Any]] = {}
    now_m, now_add, now_sub = period.sum_pieces()
    before_m, before_add, before_sub = previous.sum_pieces()
    now_months, before_months = month_list_q(now_m), month_list_q(before_m)
    now_days, before_days = days_q(now_add + now_sub), days_q(before_add + before_sub)
    signed_now = Case(
        When(days_q(now_sub), then=-F("value")), default=F("value"), output_field=BigIntegerField()
    )
    signed_before = Case(
        When(days_q(before_sub), then=-F("value")), default=F("value"), output_field=BigIntegerField()
    )
    for rows, now, before in (
        # (the monthly rows hold only figures that add up: no filter on the metric needed)
        (monthly.filter(now_months | before_months), (F("value"), now_months), (F("value"), before_months)),
        (qs.filter(flow_q, now_days | before_days), (signed_now, now_days), (signed_before, before_days)),
    ):
        for row in (
            rows.values("source", "metric", "dimension")
            .annotate(
                label=Max("label"),
                current=Sum(now[0], filter=now[1]),
                previous=Sum(before[0], filter=before[1]),
            )
            .order_by()
        ):
            key = (row["source"], row["metric"], row["dimension"])
            have = sums.get(key)
            if have is None:
                sums[key] = row
            else:
                have["label"] = max(have["label"], row["label"])
                have["current"] = _plus(have["current"], row["current"])
                have["previous"] = _plus(have["previous"], row["previous"])

    # 3 and 4. Snapshots: the last rolled-up day inside each period.
    def snapshot(p: Period) -> tuple[dt.date | None, dict[tuple[str, str, str], dict[str, Any]]]:
        last = (
            DailyMetric.objects.filter(municipality=municipality, day__gte=p.start, day__lte=p.end)
            .order_by("-day")
            .values("day")[:1]
        )
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        day = None
        for row in (
            qs.filter(snapshot_q, day=Subquery(last))
            .values("source", "metric", "dimension")
            .annotate(label=Max("label"), value=Sum("value"), day=Max("day"))
            .order_by()
        ):
            found[(row["source"], row["metric"], row["dimension"])] = row
            day = row["day"]
        return day, found

    last_day, snap_now = snapshot(period)
    _prev_day, snap_before = snapshot(previous)

    # Long periods are charted (and read) month by month, short ones day by day.
    step = "day" if period.days <= 62 else "month"

    # 5 and 6. The series (and the monthly splits, and the time saved) of the current period:
    # month by month, whole months from the monthly rows and the edges from the daily rows; day
    # by day, the daily rows only (the monthly query then matches nothing, but still runs).
    months = period.whole_months() if step == "month" else None
    edges = period.edge_days() if step == "month" else [(period.start, period.end)]
    daily: list[dict[str, Any]] = list(
        monthly.filter(series_q, months_q(months))
        .annotate(bucket=F("month"))
        .values("source", "metric", "department_id", "department__name", "bucket")
        .annotate(value=Sum("value"))
        .order_by("bucket")
    ) + list(
        qs.filter(series_q, days_q(edges))
        .annotate(bucket=TruncMonth("day") if step == "month" else F("day"))
        .values("source", "metric", "department_id", "department__name", "bucket")
        .annotate(value=Sum("value"))
        .order_by("bucket")
    )
    # Each row's chart bucket and month as text, once (a year has thousands of rows otherwise).
    for row in daily:
        bucket = row["bucket"]
        row["month"] = f"{bucket.year:04d}-{bucket.month:02d}"
        row["key"] = row["month"] if step == "month" else bucket.isoformat()

    # 7. The assumptions; 8. whether the user sees the town-wide figures.
    assumptions = assumptions_for_town(municipality=municipality)
    town_visible = department is None and sees_town(user=user, municipality=municipality)

    sections = []
    for key, label, note in SECTIONS:
        provider = provider_for(key)
        if provider is None:
            sections.append(Section(key=key, label=str(label), note=str(note), available=False))
            continue
        if provider.town_wide and not town_visible:
            sections.append(
                Section(
                    key=key,
                    label=str(label),
                    available=False,
                    note=_("町全体の数値です。自治体管理者が「町全体」を選ぶと表示されます。"),
                )
            )
            continue
        sections.append(build_section(provider, specs, sums, snap_now, snap_before, daily, period))

    savings = savings_per_month(daily, assumptions)
    saved_hours = sum((s.hours for s in savings), Decimal(0))
    return Dashboard(
        municipality=municipality,
        department=department,
        period=period,
        previous=previous,
        sections=sections,
        savings=savings,
        assumptions=assumptions,
        saved_hours=saved_hours.quantize(Decimal("0.1")),
        saved_days=(saved_hours / WORKDAY_HOURS).quantize(Decimal("0.1")),
        town_wide_hidden=not town_visible,
        last_day=last_day,
    )
