"""One section of the dashboard, shaped from the rows ``selectors.dashboard_data`` read: its
figures against the period before, its rates, its breakdowns (a group's metrics in one table)
and its chart series. Pure Python over those rows: no query."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse

from municipalities.metrics import MetricSpec, Provider
from reports.periods import Period


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


def build_section(
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
                    metric, spec, [], sum(n for _h, n in hist), percentile(hist, 0.5), percentile(hist, 0.9)
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


def percentile(hist: list[tuple[int, int]], q: float) -> float | None:
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


def _buckets(period: Period, step: str) -> list[str]:
    return period.day_keys() if step == "day" else period.month_keys()
