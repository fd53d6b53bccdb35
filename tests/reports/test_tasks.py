"""The beat entries of the reports: the nightly rollup and the monthly preparation."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from municipalities.models import AuditEntry
from reports.models import DailyMetric
from reports.tasks import daily_metrics_nightly_task, monthly_report_prepare_task


def test_the_nightly_task_rolls_up_the_last_three_days_of_every_town(town, other_town) -> None:
    # when: it runs twice (a redelivered beat message)
    assert daily_metrics_nightly_task() == 2
    first = DailyMetric.objects.count()
    daily_metrics_nightly_task()

    # then: the same rows, for yesterday and the two days before, in both towns
    today = timezone.localdate()
    days = {today - dt.timedelta(days=n) for n in (1, 2, 3)}
    for municipality in (town, other_town):
        assert (
            set(DailyMetric.objects.filter(municipality=municipality).values_list("day", flat=True)) == days
        )
    assert DailyMetric.objects.count() == first


def test_the_monthly_task_prepares_last_month_for_every_town(town) -> None:
    # when
    assert monthly_report_prepare_task() == 1

    # then
    last_month = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    entry = AuditEntry.objects.get(action="reports.monthly.prepared", municipality=town)
    assert entry.data["month"] == last_month.strftime("%Y-%m")
    assert DailyMetric.objects.filter(municipality=town, day=last_month).exists()
