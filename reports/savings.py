"""The staff-time-saved estimate (業務削減効果): the minutes each procedure takes by hand in the
town, and the procedures residents did on LINE instead, per month and department.

It is an estimate, and the pages say so: the counts are the providers' (``Provider.saves``), the
minutes the town's own (TimeSavingAssumption) or the project's defaults with their source.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from municipalities.metrics import PROCEDURES, providers
from municipalities.models import Municipality
from reports.models import TimeSavingAssumption

# 地方公務員の勤務時間（1 日 7 時間 45 分）: hours saved → staff days.
WORKDAY_HOURS = Decimal("7.75")


@dataclass
class Saving:
    month: str
    department: str
    procedure: str
    count: int
    minutes: Decimal
    hours: Decimal


@dataclass
class Assumption:
    key: str
    label: str
    minutes: Decimal
    source: str
    is_default: bool
    pk: int | None


# --- reads ------------------------------------------------------------------------------------


def assumptions_for_town(*, municipality: Municipality) -> list[Assumption]:
    """The minutes of each procedure: the town's own figure, else the project's default."""
    own = {a.procedure: a for a in TimeSavingAssumption.objects.filter(municipality=municipality)}
    result = []
    for key, procedure in PROCEDURES.items():
        row = own.get(key)
        result.append(
            Assumption(
                key=key,
                label=str(procedure.label),
                minutes=row.minutes if row else Decimal(procedure.minutes),
                source=row.source if row else str(procedure.source),
                is_default=row is None,
                pk=row.pk if row else None,
            )
        )
    return result


def savings_per_month(daily: list[dict[str, Any]], assumptions: list[Assumption]) -> list[Saving]:
    """Procedures done online × minutes, per month, department and procedure."""
    minutes = {a.key: a for a in assumptions}
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for p in providers():
        for row in daily:
            if row["source"] == p.key and row["metric"] in p.saves:
                department = row["department__name"] or _("町全体")
                counts[(row["month"], department, p.saves[row["metric"]])] += row["value"]
    result = []
    for (month, department, procedure), count in sorted(counts.items()):
        if not count:
            continue
        assumption = minutes[procedure]
        hours = (assumption.minutes * count / 60).quantize(Decimal("0.1"))
        result.append(Saving(month, department, assumption.label, count, assumption.minutes, hours))
    return result
