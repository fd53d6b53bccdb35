"""The monthly rows (MonthlyMetric): written with each day's rollup, equal to the sum of the
month's days, and the dashboard of a long period reads them without changing any figure."""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum

from reports.models import DailyMetric, MonthlyMetric
from reports.periods import Period
from reports.selectors import dashboard_data
from reports.services import daily_metrics_rollup
from tests.reports.factories import metric

START = dt.date(2025, 11, 20)  # a year that starts and ends inside a month
END = dt.date(2026, 11, 10)


def section(dashboard, key):
    return next(s for s in dashboard.sections if s.key == key)


def figure(dashboard, key, label):
    return next(f for f in section(dashboard, key).figures if f.label == label)


def seed(town, kenko, somu) -> None:
    day = START - dt.timedelta(days=40)
    n = 0
    while day <= END:
        n += 1
        metric(kenko, day=day, metric="booked_line", value=n % 5)
        metric(kenko, day=day, metric="booked_proxy", value=1)
        metric(somu, day=day, metric="booked_line", value=10)
        if n % 3 == 0:
            metric(kenko, day=day, metric="bookings_by_menu", dimension="1", label="健診", value=2)
        metric(None, municipality=town, day=day, source="friends", metric="friends", value=1000 + n)
        day += dt.timedelta(days=4)


def test_a_months_rows_are_the_sum_of_its_days(town, kenko, somu) -> None:
    # given
    seed(town, kenko, somu)

    # then every month's figure is the sum of its days, and a state at the end of a day
    # (friends in total) is not summed
    for row in MonthlyMetric.objects.filter(municipality=town):
        days = DailyMetric.objects.filter(
            municipality=town,
            department=row.department,
            source=row.source,
            metric=row.metric,
            dimension=row.dimension,
            day__year=row.month.year,
            day__month=row.month.month,
        ).aggregate(v=Sum("value"))["v"]
        assert row.value == days
    assert not MonthlyMetric.objects.filter(metric="friends").exists()


def test_the_rollup_rewrites_the_days_month_and_twice_is_the_same(town, kenko) -> None:
    # given a month already rolled up
    day = dt.date(2026, 10, 14)
    metric(kenko, day=dt.date(2026, 10, 2), metric="booked_line", value=4)
    daily_metrics_rollup(municipality=town, day=day)  # no bookings that day: the 2nd's stay
    first = list(MonthlyMetric.objects.filter(municipality=town).values_list("metric", "value"))

    # when it runs again
    daily_metrics_rollup(municipality=town, day=day)

    # then
    assert ("booked_line", 4) in first
    assert list(MonthlyMetric.objects.filter(municipality=town).values_list("metric", "value")) == first


def test_a_long_period_reads_the_same_figures_as_the_days(town, kenko, somu, town_admin, kenko_head) -> None:
    # given
    seed(town, kenko, somu)
    year = Period(START, END)

    # when
    dashboard = dashboard_data(user=town_admin, municipality=town, department=None, period=year)
    own = dashboard_data(user=kenko_head, municipality=town, department=None, period=year)

    # then the totals are those of the daily rows, in this period and the one before
    def days_sum(period: Period, **filters) -> int:
        return (
            DailyMetric.objects.filter(
                municipality=town, day__gte=period.start, day__lte=period.end, metric="booked_line", **filters
            ).aggregate(v=Sum("value"))["v"]
            or 0
        )

    booked = figure(dashboard, "reservations", "LINE での予約")
    assert (booked.current, booked.previous) == (days_sum(year), days_sum(year.previous()))
    mine = figure(own, "reservations", "LINE での予約")
    assert mine.current == days_sum(year, department=kenko)  # 総務課's months are not read
    # and a period whose edge months are mostly inside (read as the month less its outside days)
    for edges in (
        Period(dt.date(2025, 11, 3), dt.date(2026, 10, 27)),
        Period(dt.date(2026, 3, 2), dt.date(2026, 3, 30)),
    ):
        got = figure(
            dashboard_data(user=town_admin, municipality=town, department=None, period=edges),
            "reservations",
            "LINE での予約",
        )
        assert (got.current, got.previous) == (days_sum(edges), days_sum(edges.previous()))
        menus = section(
            dashboard_data(user=town_admin, municipality=town, department=None, period=edges), "reservations"
        )
        by_menu = next(b for b in menus.breakdowns if b.metric == "bookings_by_menu")
        assert sum(r["value"] for r in by_menu.rows) == (
            DailyMetric.objects.filter(
                metric="bookings_by_menu", day__gte=edges.start, day__lte=edges.end
            ).aggregate(v=Sum("value"))["v"]
            or 0
        )
    # and the monthly series adds up to the same, month by month
    series = dict(section(dashboard, "reservations").series)["LINE での予約"]
    assert series[0][0] == "2025-11" and series[-1][0] == "2026-11"
    assert sum(v for _m, v in series) == days_sum(year)
    november = days_sum(Period(START, dt.date(2025, 11, 30)))
    assert series[0][1] == november  # the edge month counts only its days inside the period
    assert (
        figure(dashboard, "friends", "友だち数（期間末）").current
        == DailyMetric.objects.filter(metric="friends", day__lte=END)
        .order_by("-day")
        .values_list("value", flat=True)[0]
    )
