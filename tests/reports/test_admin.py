"""The dashboard and monthly report pages: every role, its own figures, the XLSX workbook."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from municipalities.models import AuditEntry
from reports.models import TimeSavingAssumption
from tests.conftest import make_staff
from tests.reports.factories import metric

BACKEND = "municipalities.auth.RoleBackend"
DASHBOARD = "admin:reports_dailymetric_dashboard"
MONTHLY = "admin:reports_dailymetric_monthly"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def rows(town, kenko, somu):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    last_month = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    for day in (yesterday, last_month):
        metric(kenko, day=day, metric="bookings_by_menu", dimension="1", label="乳幼児歯科健診", value=2)
        metric(somu, day=day, metric="bookings_by_menu", dimension="2", label="粗大ごみ相談会", value=30)
        metric(None, municipality=town, day=day, source="friends", metric="follows", value=12)


@pytest.mark.parametrize("who", ["town_admin", "kenko_head", "kenko_editor", "kenko_viewer"])
def test_every_role_opens_the_dashboard_with_its_own_figures(request, rows, who) -> None:
    # given
    user = request.getfixturevalue(who)

    # when
    response = client_for(user).get(reverse(DASHBOARD))

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "乳幼児歯科健診" in body
    assert ("粗大ごみ相談会" in body) == (who == "town_admin")
    assert ("友だち追加" in body) == (who == "town_admin")
    assert "<svg" in body and "業務削減効果" in body


def test_another_departments_figures_are_a_404(rows, somu, kenko_head) -> None:
    response = client_for(kenko_head).get(reverse(DASHBOARD), {"department": somu.pk})
    assert response.status_code == 404


def test_a_staff_member_without_a_role_is_refused(town) -> None:
    nobody = make_staff("rpt_nobody", town)
    assert client_for(nobody).get(reverse(DASHBOARD)).status_code == 403
    assert client_for(nobody).get(reverse(MONTHLY)).status_code == 403


def test_a_bad_period_is_shown_as_an_error(rows, town_admin) -> None:
    response = client_for(town_admin).get(reverse(DASHBOARD), {"start": "2026-11-10", "end": "2026-11-01"})
    assert response.status_code == 200
    assert "終了日は開始日以降にしてください。" in response.content.decode()


def test_the_monthly_report_prints_with_small_numbers_suppressed(rows, town_admin) -> None:
    month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    response = client_for(town_admin).get(reverse(MONTHLY), {"month": month})
    assert response.status_code == 200
    body = response.content.decode()
    assert "月次レポート" in body and "3未満" in body and "cms/reports/reports.css" in body


def test_the_monthly_workbook(rows, kenko, kenko_head) -> None:
    # when
    month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    response = client_for(kenko_head).get(reverse(MONTHLY), {"month": month, "format": "xlsx"})

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "概要" and "業務削減効果" in book.sheetnames
    values = [cell.value for row in book["予約"].iter_rows() for cell in row]
    assert "3未満" in values and "粗大ごみ相談会" not in values


def test_the_assumption_is_changed_through_the_admin_and_audited(town, town_admin) -> None:
    # when
    response = client_for(town_admin).post(
        reverse("admin:reports_timesavingassumption_add"),
        {
            "municipality": town.pk,
            "procedure": "phone_enquiry",
            "minutes": "3.5",
            "source": "2026年4月の実測",
        },
    )

    # then
    assert response.status_code == 302
    row = TimeSavingAssumption.objects.get(municipality=town, procedure="phone_enquiry")
    assert str(row.minutes) == "3.5"
    assert AuditEntry.objects.filter(object_id=str(row.pk), action__startswith="reports.").exists()


def test_an_editor_cannot_change_the_assumptions(town, kenko_editor) -> None:
    response = client_for(kenko_editor).post(
        reverse("admin:reports_timesavingassumption_add"),
        {"municipality": town.pk, "procedure": "phone_enquiry", "minutes": "3.5", "source": "x"},
    )
    assert response.status_code == 403
    assert not TimeSavingAssumption.objects.exists()


def test_the_admin_home_links_to_the_dashboard_for_those_who_may_see_it(town, kenko_viewer) -> None:
    nobody = make_staff("rpt_nobody2", town)
    home = reverse("admin:index")
    assert reverse(DASHBOARD) in client_for(kenko_viewer).get(home).content.decode()
    assert reverse(DASHBOARD) not in client_for(nobody).get(home).content.decode()


def test_the_daily_rows_changelist_does_not_query_per_row(town, kenko, somu, town_admin) -> None:
    # given
    client = client_for(town_admin)
    url = reverse("admin:reports_dailymetric_changelist")
    metric(kenko, metric="booked_line")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(10):
        metric(somu if n % 2 else kenko, metric=f"m{n}")

    # when
    with CaptureQueriesContext(connection) as eleven:
        response = client.get(url)

    # then
    assert response.status_code == 200
    assert len(eleven) == len(one)
