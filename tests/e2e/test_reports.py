"""The reports in Chromium: the dashboard of each role (charts and their tables, only the role's
own figures) and the monthly report printed to A4 without cut-off content."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from municipalities.models import Role
from reports import demo
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import admin_login
from tests.reports.factories import metric

pytestmark = pytest.mark.e2e

# A4 is 210 mm wide; the print stylesheet leaves 12 mm margins: 186 mm at 96 dpi.
A4_CONTENT_PX = round(186 / 25.4 * 96)


@pytest.fixture
def history(transactional_db, town, kenko, somu, interests, areas):
    demo.seed(town)  # six months of friends, broadcasts and chatbot figures
    today = timezone.localdate()
    for days in range(1, 70):
        day = today - dt.timedelta(days=days)
        metric(kenko, day=day, metric="booked_line", value=5 + days % 4)
        metric(kenko, day=day, metric="booked_proxy", value=3)
        metric(kenko, day=day, metric="bookings_by_menu", dimension="1", label="乳幼児歯科健診", value=2)
        metric(somu, day=day, metric="bookings_by_menu", dimension="2", label="粗大ごみ相談会", value=9)


@pytest.mark.parametrize(
    ("role", "department_code"),
    [(Role.MUNICIPALITY_ADMIN, None), (Role.HEAD, "kenko"), (Role.EDITOR, "kenko"), (Role.VIEWER, "kenko")],
)
def test_the_dashboard_for_each_role(page, live_server, history, town, kenko, role, department_code) -> None:
    # given
    make_staff("rpt_user", town, role, kenko if department_code else None)

    # when
    admin_login(page, live_server, "rpt_user", PASSWORD)
    page.goto(f"{live_server.url}/admin/reports/dailymetric/dashboard/")

    # then: charts, each with a table of its numbers, and only the role's own figures
    report = page.locator("#report")
    expect(report.locator("#section-reservations")).to_contain_text("乳幼児歯科健診")
    assert report.locator("svg.chart").count() >= 2
    assert report.locator("table").count() >= report.locator("svg.chart").count()
    expect(report.locator("#section-savings")).to_contain_text("推計")
    sees_town = role == Role.MUNICIPALITY_ADMIN
    assert ("粗大ごみ相談会" in report.inner_text()) == sees_town
    if sees_town:
        expect(report.locator("#section-friends svg.chart")).to_be_visible()
    else:
        expect(report.locator("#section-friends")).to_contain_text("自治体管理者")


def test_the_monthly_report_prints_on_a4_without_cut_off_content(page, live_server, history, town) -> None:
    # given
    make_staff("rpt_admin", town, Role.MUNICIPALITY_ADMIN)
    month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    admin_login(page, live_server, "rpt_admin", PASSWORD)

    # when: the report is laid out for print at the width of an A4 page's content
    page.goto(f"{live_server.url}/admin/reports/dailymetric/monthly/?month={month}")
    expect(page.locator("#monthly-report h1")).to_contain_text("月次レポート")
    page.set_viewport_size({"width": A4_CONTENT_PX, "height": 1000})
    page.emulate_media(media="print")

    # then: nothing is wider than the page, the admin's chrome is hidden, and it prints to A4 pages
    overflow = page.evaluate(
        """(limit) => [...document.querySelectorAll('#monthly-report *')]
            .filter(e => e.getBoundingClientRect().right > limit + 1)
            .map(e => e.tagName + ' ' + (e.className.baseVal ?? e.className) + ' ' + e.textContent.slice(0, 30))""",
        A4_CONTENT_PX,
    )
    assert overflow == []
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_CONTENT_PX
    assert not page.locator("#header").is_visible()
    pdf = page.pdf(format="A4", print_background=True)
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    # nine sections (友だち, LINE の統計, 配信, 予約, 電子申請, 施設予約, チャットボット, リッチメニュー,
    # 業務削減効果) with their tables: about a page and a half each at most
    assert 1 <= pages <= 16, f"{pages} A4 pages"
    page.screenshot(path="/tmp/reports-monthly-print.png", full_page=True)
