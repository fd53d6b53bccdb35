"""Template filters of the staff console: audit entries and dates for staff (和暦)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from municipalities import notices
from municipalities.audit import action_label, audit_sentence, data_lines
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


@register.simple_tag(takes_context=True)
def staff_badges(context: template.Context) -> list[notices.Badge]:
    """The header badges of the signed-in staff member (residents waiting for staff …)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return notices.badges_for(user) if user is not None else []


@register.filter
def audit_text(entry: AuditEntry) -> str:
    """The entry as a sentence: who did what to what (the date is shown beside it)."""
    return audit_sentence(entry, with_time=False)
