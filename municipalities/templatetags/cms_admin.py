"""Template filters of the staff console: audit entries and dates for staff (和暦)."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone

from municipalities.audit import action_label, data_lines
from municipalities.models import AuditEntry

register = template.Library()

# (first day, era name); newest first.
ERAS = [(date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和")]


def wareki(day: date) -> str:
    """2026-11-23 → "令和8年11月23日" (西暦 before 1926-12-25)."""
    for start, name in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


@register.filter
def wareki_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return wareki(value)


@register.filter
def wareki_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{wareki(local.date())} {local:%H:%M}"


@register.filter
def audit_action(action: str) -> str:
    return action_label(action)


@register.filter
def audit_lines(entry: AuditEntry) -> list[tuple[str, str]]:
    return data_lines(entry)
