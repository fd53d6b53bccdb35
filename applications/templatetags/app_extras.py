from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from municipalities import jp

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, [])


@register.filter
def wareki(value: Any) -> str:
    """令和8年11月23日 for a date or datetime (Asia/Tokyo)."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return jp.format_wareki(value)
