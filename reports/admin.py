"""Staff console of the reports: the dashboard, the monthly report, the daily rows and the
town's assumptions for the staff-time-saved estimate.

Every page is an ``AdminPage`` of the DailyMetric admin: the policy decides who may open it, and
the figures are read through ``reports.selectors``, which asks the same policy for the rows
(a department's staff see their department's figures, 自治体管理者 the town's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities.admin_pages import AdminPage
from municipalities.files import export_response
from municipalities.models import Department, Municipality
from municipalities.permissions import policy_for
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin
from reports import charts, exports, selectors
from reports.models import DailyMetric, TimeSavingAssumption
from reports.selectors import Dashboard, Period

MAX_PERIOD_DAYS = 3 * 366


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("開始日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("終了日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("終了日は開始日以降にしてください。"))
        if start and end and (end - start).days >= MAX_PERIOD_DAYS:
            raise forms.ValidationError(_("期間は 3 年以内にしてください。"))
        return data


@admin.register(DailyMetric)
class DailyMetricAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """The rows behind the dashboard (written by the nightly rollup; nobody edits them)."""

    list_display = ["day", "source", "metric", "label", "value", "department"]
    list_select_related = ["department"]
    list_filter = ["source", "department"]
    date_hierarchy = "day"
    search_fields = ["metric", "label"]
    fields = ["municipality", "department", "day", "source", "metric", "dimension", "label", "value"]
    readonly_fields = fields
    change_list_template = "admin/reports/dailymetric/change_list.html"

    def get_urls(self) -> list[Any]:
        return [
            path("dashboard/", DashboardPage(self).as_view(), name="reports_dailymetric_dashboard"),
            path("monthly/", MonthlyReportPage(self).as_view(), name="reports_dailymetric_monthly"),
            *super().get_urls(),
        ]


@admin.register(TimeSavingAssumption)
class TimeSavingAssumptionAdmin(DepartmentScopedAdmin):
    """How long each procedure takes by hand in the town (所属長 and 自治体管理者 set it)."""

    list_display = ["procedure", "minutes", "source", "municipality", "updated_at"]
    list_select_related = ["municipality"]
    fields = ["municipality", "procedure", "minutes", "source"]


# --- the pages ---------------------------------------------------------------------------------


class ReportPage(AdminPage):
    """Shared by the dashboard and the monthly report: which town and which department."""

    model = DailyMetric
    methods = ("GET", "HEAD")

    def scope(self, request: HttpRequest) -> tuple[Municipality, Department | None, dict[str, Any]]:
        user = request.user
        if user.is_superuser:
            towns = list(Municipality.objects.order_by("pk"))
            chosen = request.GET.get("town", "")
            municipality = next((t for t in towns if str(t.pk) == chosen), towns[0] if towns else None)
        else:
            towns = []
            municipality = user.municipality
        if municipality is None:
            raise Http404
        departments = list(selectors.report_departments_for_staff(user=user, municipality=municipality))
        town_visible = selectors.sees_town(user=user, municipality=municipality)
        chosen = request.GET.get("department", "")
        department = next((d for d in departments if str(d.pk) == chosen), None)
        if chosen and department is None:
            raise Http404  # another department's figures are not there, whatever the number
        if department is None and not town_visible and len(departments) == 1:
            department = departments[0]
        return (
            municipality,
            department,
            {
                "towns": towns,
                "municipality": municipality,
                "departments": departments,
                "department": department,
                "town_visible": town_visible,
                "can_export": self.model_admin.has_export_permission(request),
                "can_change_assumptions": policy_for(TimeSavingAssumption).user_has_permission(
                    user, "change"
                ),
            },
        )

    def decorate(self, dashboard: Dashboard) -> None:
        """Attach the SVG charts to the sections (the tables hold the same numbers)."""
        for section in dashboard.sections:
            section.chart = (
                charts.line_chart(section.series, title=f"{section.label}の推移") if section.series else ""
            )
            section.series_rows = (
                [
                    (x, [points[i][1] for _label, points in section.series])
                    for i, (x, _v) in enumerate(section.series[0][1])
                ]
                if section.series
                else []
            )
            for breakdown in section.tables:
                shown = breakdown.rows[: selectors.TOP_ROWS]
                breakdown.shown = shown
                breakdown.chart = charts.bar_chart(
                    [(r["label"], r["value"]) for r in shown],
                    title=str(breakdown.spec.label),
                    unit=breakdown.spec.unit,
                )


class DashboardPage(ReportPage):
    """The figures of a period (this month by default) against the period before."""

    template = "admin/reports/dashboard.html"
    title = _("レポート（ダッシュボード）")

    def handle(self, request: HttpRequest) -> HttpResponse:
        municipality, department, scope = self.scope(request)
        today = timezone.localdate()
        default = {"start": today.replace(day=1), "end": today}
        form = PeriodForm(request.GET if "start" in request.GET else None, initial=default)
        period = Period(default["start"], default["end"])
        if form.is_bound and form.is_valid():
            period = Period(form.cleaned_data["start"], form.cleaned_data["end"])
        dashboard = selectors.dashboard_data(
            user=request.user, municipality=municipality, department=department, period=period
        )
        self.decorate(dashboard)
        last_month = today.replace(day=1) - dt.timedelta(days=1)
        return self.render(
            request,
            {**scope, "form": form, "dashboard": dashboard, "last_month": last_month.strftime("%Y-%m")},
        )


class MonthlyReportPage(ReportPage):
    """「月次レポート」: one printable page (A4) or an XLSX workbook for a month."""

    template = "admin/reports/monthly.html"
    title = _("月次レポート")

    def handle(self, request: HttpRequest) -> HttpResponse:
        municipality, department, scope = self.scope(request)
        month = self.month(request.GET.get("month", ""))
        period = selectors.month_period(month)
        dashboard = selectors.dashboard_data(
            user=request.user, municipality=municipality, department=department, period=period
        )
        scope_name = department.name if department else municipality.name
        if request.GET.get("format") == "xlsx":
            if not self.model_admin.has_export_permission(request):
                raise PermissionDenied
            return export_response(
                exports.report_workbook(dashboard),
                fmt="xlsx",
                filename=f"月次レポート-{scope_name}-{month:%Y-%m}",
            )
        self.decorate(dashboard)
        return self.render(
            request, {**scope, "dashboard": dashboard, "month": month, "scope_name": scope_name}
        )

    @staticmethod
    def month(value: str) -> dt.date:
        """``YYYY-MM`` (default and fallback: last month)."""
        try:
            return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 (a calendar month, no time)
        except ValueError:
            return (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
