"""Reads of the reports app: the dashboard's figures, from the daily rows only.

``dashboard_data`` reads a town's DailyMetric rows for a period and the period before it with a
fixed number of queries (sums, the two snapshots, the daily series, the assumptions), whatever
the period's length, and never touches the raw records. Every query goes through the permission
policy: a department's staff get their department's rows, 自治体管理者 the town's.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, Max, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from municipalities.metrics import SECTIONS, MetricSpec, Provider, provider_for, providers
from municipalities.models import Department, Municipality
from municipalities.permissions import departments_for_staff, policy_for
from reports.models import DailyMetric
from reports.savings import WORKDAY_HOURS, Assumption, Saving, assumptions_for_town, savings_per_month

TOP_ROWS = 20
SMALL_NUMBER = 3


def suppressed(value: int, spec: MetricSpec) -> int | str:
    """A breakdown cell as exported: 「3未満」 for 1 or 2 residents (a small village must not be
    able to identify people through a report); 0 and every other figure unchanged."""
    if spec.people and 0 < value < SMALL_NUMBER:
        return _("3未満")
    return value


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before (a month compares with the month before)."""
        if self.start.day == 1 and (self.end + dt.timedelta(days=1)).day == 1:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            year, month = divmod(self.start.year * 12 + self.start.month - 1 - months, 12)
            start = dt.date(year, month + 1, 1)
            return Period(start, self.start - dt.timedelta(days=1))
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))


def month_period(day: dt.date) -> Period:
    first = day.replace(day=1)
    return Period(first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))


@dataclass
class Figure:
    label: str
    unit: str
    current: int | None
    previous: int | None

    @property
    def delta(self) -> int | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


@dataclass
class Rate:
    label: str
    current: float | None
    previous: float | None
    months: list[tuple[str, float | None, int, int]] = field(default_factory=list)
    rows: list[tuple[str, float | None, int, int]] = field(default_factory=list)


@dataclass
class Breakdown:
    metric: str
    spec: MetricSpec
    rows: list[dict[str, Any]]  # label, value, previous, link; highest first
    total_rows: int
    median: float | None = None
    p90: float | None = None
    columns: list[str] = field(default_factory=list)  # a group's table: rows carry "values"


@dataclass
class Section:
    key: str
    label: str
    note: str = ""
    available: bool = True
    figures: list[Figure] = field(default_factory=list)
    rates: list[Rate] = field(default_factory=list)
    breakdowns: list[Breakdown] = field(default_factory=list)  # one per metric (the export)
    tables: list[Breakdown] = field(default_factory=list)  # shown: a group's metrics in one table
    series: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)  # (label, points)
    series_step: str = "day"


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


def metrics_for_staff(*, user: Any, municipality: Municipality, department: Department | None) -> QuerySet:
    """The town's rows the user may view, narrowed to ``department`` when given (then the
    town-wide rows are left out: they belong to no department)."""
    qs = policy_for(DailyMetric).instances_user_has_permission_for(
        user, "view", DailyMetric.objects.filter(municipality=municipality)
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


def dashboard_data(
    *, user: Any, municipality: Municipality, department: Department | None, period: Period
) -> Dashboard:
    """Every section of the dashboard for ``period`` compared with the period before.

    Six queries whatever the period: sums over both periods, the snapshot of each period's last
    rolled-up day (two), the daily series, the assumptions, and whether the user sees the town.
    """
    previous = period.previous()
    qs = metrics_for_staff(user=user, municipality=municipality, department=department)
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

    # 1. Sums of the flow metrics over both periods, per figure.
    sums: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in (
        qs.filter(flow_q, day__gte=previous.start, day__lte=period.end)
        .values("source", "metric", "dimension")
        .annotate(
            label=Max("label"),
            current=Sum("value", filter=Q(day__gte=period.start)),
            previous=Sum("value", filter=Q(day__lt=period.start)),
        )
        .order_by()
    ):
        sums[(row["source"], row["metric"], row["dimension"])] = row

    # 2 and 3. Snapshots: the last rolled-up day inside each period.
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

    # 4. The daily series (and the monthly splits, and the time saved) of the current period.
    daily: list[dict[str, Any]] = list(
        qs.filter(series_q, day__gte=period.start, day__lte=period.end)
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

    # 5. The assumptions; 6. whether the user sees the town-wide figures.
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
        sections.append(_section(provider, specs, sums, snap_now, snap_before, daily, period))

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


def _section(
    provider: Provider,
    specs: dict[tuple[str, str], MetricSpec],
    sums: dict[tuple[str, str, str], dict[str, Any]],
    snap_now: dict[tuple[str, str, str], dict[str, Any]],
    snap_before: dict[tuple[str, str, str], dict[str, Any]],
    daily: list[dict[str, Any]],
    period: Period,
) -> Section:
    key = provider.key
    section = Section(key=key, label=provider.label)

    def total(metric: str, which: str) -> int | None:
        spec = provider.metrics[metric]
        if spec.snapshot:
            row = (snap_now if which == "current" else snap_before).get((key, metric, ""))
            return row["value"] if row else None
        row = sums.get((key, metric, ""))
        return (row[which] or 0) if row else 0

    for metric, spec in provider.metrics.items():
        if spec.dimension_label or spec.histogram:
            continue
        section.figures.append(
            Figure(str(spec.label), spec.unit, total(metric, "current"), total(metric, "previous"))
        )

    for ratio in provider.ratios:
        rate = Rate(str(ratio.label), None, None)
        if ratio.numerator:
            for which in ("current", "previous"):
                num = total(ratio.numerator, which) or 0
                den = sum(total(d, which) or 0 for d in ratio.denominator)
                setattr(rate, which, num / den if den else None)
        if ratio.by_month:
            months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for row in daily:
                if row["source"] == key:
                    months[row["month"]][row["metric"]] += row["value"]
            for month, values in sorted(months.items()):
                num = values.get(ratio.numerator, 0)
                den = sum(values.get(d, 0) for d in ratio.denominator)
                rate.months.append((month, num / den if den else None, num, den))
        if ratio.breakdown:
            num_metric, den_metric = ratio.breakdown
            labels: dict[str, str] = {}
            nums: dict[str, int] = defaultdict(int)
            dens: dict[str, int] = defaultdict(int)
            for (source, metric, dimension), row in sums.items():
                if source != key or not dimension or metric not in (num_metric, den_metric):
                    continue
                labels[dimension] = row["label"]
                (nums if metric == num_metric else dens)[dimension] += row["current"] or 0
            rate.rows = sorted(
                ((labels[d], nums[d] / dens[d] if dens[d] else None, nums[d], dens[d]) for d in labels),
                key=lambda r: (-(r[1] or 0), r[0]),
            )
        section.rates.append(rate)

    for metric, spec in provider.metrics.items():
        if not (spec.dimension_label or spec.histogram):
            continue
        if spec.snapshot:
            current = {d: r for (s, m, d), r in snap_now.items() if s == key and m == metric}
            before = {d: r["value"] for (s, m, d), r in snap_before.items() if s == key and m == metric}
            values = {d: (r["label"], r["value"], before.get(d)) for d, r in current.items()}
        else:
            values = {
                d: (r["label"], r["current"] or 0, r["previous"] or 0)
                for (s, m, d), r in sums.items()
                if s == key and m == metric and d
            }
        if spec.histogram:
            hist = sorted((int(d), v[1]) for d, v in values.items() if d.isdigit() and v[1])
            section.breakdowns.append(
                Breakdown(
                    metric, spec, [], sum(n for _h, n in hist), _percentile(hist, 0.5), _percentile(hist, 0.9)
                )
            )
            continue
        ordered = sorted(values.items(), key=lambda item: (-item[1][1], item[1][0]))
        rows = [
            {"label": lbl, "value": value, "previous": prev, "link": _link(spec, dim), "dimension": dim}
            for dim, (lbl, value, prev) in ordered
            if value
        ]
        section.breakdowns.append(Breakdown(metric, spec, rows, len(rows)))

    section.tables = _tables(section.breakdowns)
    charted = [m for m, s in provider.metrics.items() if s.series]
    if charted:
        step = "day" if period.days <= 62 else "month"  # as in dashboard_data
        section.series_step = step
        buckets = _buckets(period, step)
        for metric in charted:
            values: dict[str, int] = dict.fromkeys(buckets, 0)
            for row in daily:
                if row["source"] == key and row["metric"] == metric:
                    values[row["key"]] += row["value"]
            section.series.append((str(provider.metrics[metric].label), list(values.items())))
    return section


def _tables(breakdowns: list[Breakdown]) -> list[Breakdown]:
    """The breakdowns as shown: those of one group merged into one table whose rows hold each
    metric's value (``values``, in the group's order), sorted by the first; the others as they are."""
    tables: list[Breakdown] = []
    groups: dict[str, Breakdown] = {}
    for b in breakdowns:
        if not b.spec.group:
            tables.append(b)
            continue
        table = groups.get(b.spec.group)
        if table is None:
            table = groups[b.spec.group] = Breakdown(b.metric, b.spec, [], 0, columns=[])
            table.index = {}  # type: ignore[attr-defined]
            tables.append(table)
        column = len(table.columns)
        table.columns.append(str(b.spec.column or b.spec.label))
        for row in b.rows:
            merged = table.index.setdefault(  # type: ignore[attr-defined]
                row["dimension"], {**row, "values": []}
            )
            merged["values"] += [0] * (column - len(merged["values"])) + [row["value"]]
    for table in groups.values():
        width = len(table.columns)
        table.rows = sorted(
            (
                {
                    **r,
                    "values": r["values"] + [0] * (width - len(r["values"])),
                    "value": r["values"][0] if r["values"] else 0,
                }
                for r in table.index.values()  # type: ignore[attr-defined]
            ),
            key=lambda r: (-r["values"][0], r["label"]),
        )
        table.total_rows = len(table.rows)
    return tables


def _percentile(hist: list[tuple[int, int]], q: float) -> float | None:
    """The q-quantile (nearest rank) of a histogram of whole hours."""
    total = sum(n for _h, n in hist)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for hours, n in hist:
        seen += n
        if seen >= rank:
            return float(hours)
    return float(hist[-1][0])


def _link(spec: MetricSpec, dimension: str) -> str:
    if not spec.link or not dimension:
        return ""
    try:
        return reverse(spec.link, args=[dimension])
    except NoReverseMatch:
        return ""


def _bucket(day: dt.date, step: str) -> str:
    return day.isoformat() if step == "day" else day.strftime("%Y-%m")


def _buckets(period: Period, step: str) -> list[str]:
    keys: list[str] = []
    day = period.start
    while day <= period.end:
        key = _bucket(day, step)
        if not keys or keys[-1] != key:
            keys.append(key)
        day += dt.timedelta(days=1)
    return keys
