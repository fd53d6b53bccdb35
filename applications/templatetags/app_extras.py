from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, [])


@register.filter
def wareki(value: Any) -> str:
    """令和8年11月23日 for a date or datetime (Asia/Tokyo)."""
    from datetime import datetime

    from django.utils import timezone

    from applications.normalise import wareki as to_wareki

    if not value:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return to_wareki(value)
