"""Factories of the reports app and its permission-matrix builders."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from municipalities.models import Department
from reports.models import DailyMetric, Procedure, TimeSavingAssumption
from reports.services import monthly_metrics_refresh
from tests.matrix import matrix_builder


def metric(
    department: Department | None, *, municipality=None, day: dt.date | None = None, **kwargs
) -> DailyMetric:
    """One daily row (as the rollup writes it) of ``department`` (or of the whole town)."""
    values = {"source": "reservations", "metric": "booked_line", "value": 5, **kwargs}
    with transaction.atomic():
        row = DailyMetric.objects.create(
            municipality=municipality or department.municipality,
            department=department,
            day=day or timezone.localdate() - dt.timedelta(days=1),
            **values,
        )
        monthly_metrics_refresh(municipality=row.municipality, month=row.day)  # as the rollup does
    return row


@matrix_builder(DailyMetric)
def _daily_metric(department: Department) -> DailyMetric:
    return DailyMetric.objects.create(
        municipality=department.municipality,
        department=department,
        day=timezone.localdate() - dt.timedelta(days=1),
        source="reservations",
        metric="bookings_by_menu",
        dimension=f"m{department.pk}",
        label=f"{department.name}の健診",
        value=7,
    )


@matrix_builder(TimeSavingAssumption)
def _assumption(department: Department) -> TimeSavingAssumption:
    # One row per procedure and town: the matrix builds two in the same town (own and sibling
    # department), so take a procedure the town has not set yet.
    taken = set(
        TimeSavingAssumption.objects.filter(municipality=department.municipality).values_list(
            "procedure", flat=True
        )
    )
    procedure = next(p for p in Procedure.values if p not in taken)
    return TimeSavingAssumption.objects.create(
        municipality=department.municipality,
        procedure=procedure,
        minutes=5,
        source="窓口業務量調査（2026年4月）",
    )
