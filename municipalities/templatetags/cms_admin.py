"""Template filters of the staff console: audit entries and dates for staff (和暦)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from municipalities.audit import action_label, data_lines
from municipalities.jp import format_wareki
from municipalities.models import AuditEntry

register = template.Library()


@register.filter
def wareki_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{format_wareki(local.date())} {local:%H:%M}"


@register.filter
def audit_action(action: str) -> str:
    return action_label(action)


@register.filter
def audit_lines(entry: AuditEntry) -> list[tuple[str, str]]:
    return data_lines(entry)
