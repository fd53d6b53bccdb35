"""The dashboard's reads: scoped to the user's departments, a fixed number of queries, the
small-number suppression, the periods and the staff-time-saved estimate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from municipalities.metrics import PROCEDURES, provider_for
from reports import exports
from reports.models import TimeSavingAssumption
from reports.sections import percentile
from reports.selectors import Period, dashboard_data, month_period, suppressed
from tests.reports.factories import metric

DAY = dt.date(2026, 11, 10)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def section(dashboard, key):
    return next(s for s in dashboard.sections if s.key == key)


def figure(dashboard, key, label):
    return next(f for f in section(dashboard, key).figures if f.label == label)


def seed_rows(town, kenko, somu) -> None:
    metric(kenko, day=DAY, metric="booked_line", value=7)
    metric(kenko, day=DAY, metric="booked_proxy", value=3)
    metric(somu, day=DAY, metric="booked_line", value=100)
    metric(kenko, day=DAY - dt.timedelta(days=31), metric="booked_line", value=2)  # October
    metric(kenko, day=DAY, metric="bookings_by_menu", dimension="1", label="乳幼児歯科健診", value=2)
    metric(somu, day=DAY, metric="bookings_by_menu", dimension="9", label="総務の秘密", value=100)
    metric(None, municipality=town, day=DAY, source="friends", metric="follows", value=40)
    metric(None, municipality=town, day=DAY, source="friends", metric="friends", value=900)


def test_a_department_sees_only_its_own_figures(town, kenko, somu, kenko_head) -> None:
    # given
    seed_rows(town, kenko, somu)

    # when
    dashboard = dashboard_data(user=kenko_head, municipality=town, department=None, period=NOVEMBER)

    # then: 健康福祉課's bookings only, and not the town's friends
    booked = figure(dashboard, "reservations", "LINE での予約")
    assert (booked.current, booked.previous) == (7, 2)
    menus = section(dashboard, "reservations").breakdowns[0]
    assert [r["label"] for r in menus.rows] == ["乳幼児歯科健診"]
    assert not section(dashboard, "friends").available
    assert dashboard.town_wide_hidden


def test_the_town_administrator_sees_the_town(town, kenko, somu, town_admin) -> None:
    # given
    seed_rows(town, kenko, somu)

    # when
    dashboard = dashboard_data(user=town_admin, municipality=town, department=None, period=NOVEMBER)

    # then
    assert figure(dashboard, "reservations", "LINE での予約").current == 107
    assert figure(dashboard, "friends", "友だち追加").current == 40
    assert figure(dashboard, "friends", "友だち数（期間末）").current == 900
    share = next(r for r in section(dashboard, "reservations").rates if r.label == "LINE で予約した割合")
    assert share.months == [("2026-11", 107 / 110, 107, 110)]


def test_a_department_chosen_by_the_town_administrator_leaves_the_town_wide_rows_out(
    town, kenko, somu, town_admin
) -> None:
    seed_rows(town, kenko, somu)

    dashboard = dashboard_data(user=town_admin, municipality=town, department=somu, period=NOVEMBER)

    assert figure(dashboard, "reservations", "LINE での予約").current == 100
    assert not section(dashboard, "friends").available


def test_the_number_of_queries_does_not_grow_with_the_period(town, kenko, somu, town_admin) -> None:
    # given: a year of rows
    seed_rows(town, kenko, somu)
    for days in range(7, 365, 7):
        metric(kenko, day=DAY - dt.timedelta(days=days), metric="booked_line", value=1)
    year = Period(DAY - dt.timedelta(days=364), DAY)
    dashboard_data(user=town_admin, municipality=town, department=None, period=NOVEMBER)  # role cache

    # when
    with CaptureQueriesContext(connection) as month_queries:
        dashboard_data(user=town_admin, municipality=town, department=None, period=NOVEMBER)
    with CaptureQueriesContext(connection) as year_queries:
        dashboard = dashboard_data(user=town_admin, municipality=town, department=None, period=year)

    # then
    assert len(month_queries) == len(year_queries) <= 8
    assert section(dashboard, "reservations").series_step == "month"


def test_small_numbers_are_suppressed_in_exported_breakdowns() -> None:
    spec = provider_for("reservations").metrics["bookings_by_menu"]
    money = provider_for("applications").metrics["fees_by_method"]
    assert [suppressed(v, spec) for v in (0, 1, 2, 3, 10)] == [0, "3未満", "3未満", 3, 10]
    assert suppressed(2, money) == 2  # yen are not people


def test_the_workbook_has_a_sheet_per_section_and_suppresses_small_cells(
    town, kenko, somu, town_admin
) -> None:
    # given
    seed_rows(town, kenko, somu)
    dashboard = dashboard_data(user=town_admin, municipality=town, department=None, period=NOVEMBER)

    # when
    book = exports.report_workbook(dashboard)

    # then
    titles = [sheet.title for sheet in book.sheets()]
    assert titles[0] == "概要" and titles[-1] == "業務削減効果"
    assert {"友だち", "配信", "予約", "電子申請", "チャットボット"} <= set(titles)
    reservations = next(s for s in book.sheets() if s.title == "予約")
    cells = {(row[0], row[1]): row[2] for row in reservations}
    assert cells[("メニュー別の予約", "乳幼児歯科健診")] == "3未満"
    assert cells[("メニュー別の予約", "総務の秘密")] == 100


def test_periods_compare_with_the_period_before() -> None:
    assert NOVEMBER.previous() == Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert month_period(dt.date(2026, 2, 14)) == Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    quarter = Period(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert quarter.previous() == Period(dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    week = Period(dt.date(2026, 11, 10), dt.date(2026, 11, 16))
    assert week.previous() == Period(dt.date(2026, 11, 3), dt.date(2026, 11, 9))


def test_percentiles_of_the_completion_hours() -> None:
    hist = [(1, 5), (6, 4), (48, 1)]
    assert percentile(hist, 0.5) == 1.0
    assert percentile(hist, 0.9) == 6.0
    assert percentile([], 0.5) is None


def test_time_saved_uses_the_town_figure_or_the_default(town, kenko, town_admin) -> None:
    # given: 60 LINE bookings (the town measured 5 minutes) and 600 delivered notices (default 1 minute)
    metric(kenko, day=DAY, metric="booked_line", value=60)
    metric(kenko, day=DAY, source="broadcasts", metric="delivered", value=600)
    TimeSavingAssumption.objects.create(
        municipality=town, procedure="phone_booking", minutes=Decimal("5"), source="2026年の窓口調査"
    )

    # when
    dashboard = dashboard_data(user=town_admin, municipality=town, department=None, period=NOVEMBER)

    # then
    hours = {(s.procedure, s.department): s.hours for s in dashboard.savings}
    assert hours[(str(PROCEDURES["phone_booking"].label), kenko.name)] == Decimal("5.0")
    assert hours[(str(PROCEDURES["paper_notice"].label), kenko.name)] == Decimal("10.0")
    assert dashboard.saved_hours == Decimal("15.0")
    assert dashboard.saved_days == Decimal("1.9")
    booking = next(a for a in dashboard.assumptions if a.key == "phone_booking")
    assert (booking.is_default, booking.source) == (False, "2026年の窓口調査")
    assert next(a for a in dashboard.assumptions if a.key == "paper_notice").is_default


def test_a_broadcast_is_one_row_with_its_four_figures(town, kenko, town_admin) -> None:
    # given
    for name, value in (("recipients", 120), ("delivered", 118), ("failed", 2), ("unfollows", 3)):
        metric(
            kenko,
            day=DAY,
            source="broadcasts",
            metric=f"broadcast_{name}",
            dimension="7",
            label="健診",
            value=value,
        )
    metric(
        kenko,
        day=DAY,
        source="broadcasts",
        metric="broadcast_recipients",
        dimension="8",
        label="防災",
        value=500,
    )

    # when
    dashboard = dashboard_data(user=town_admin, municipality=town, department=None, period=NOVEMBER)

    # then: one table, the larger broadcast first, a column per figure
    table = next(t for t in section(dashboard, "broadcasts").tables if t.spec.group == "broadcast")
    assert table.columns == ["配信対象", "配信成功", "配信失敗", "24時間以内のブロック"]
    assert [(r["label"], r["values"]) for r in table.rows] == [
        ("防災", [500, 0, 0, 0]),
        ("健診", [120, 118, 2, 3]),
    ]
