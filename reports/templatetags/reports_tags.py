"""Template filters of the reports pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from municipalities.metrics import MetricSpec
from reports.selectors import SMALL_NUMBER, suppressed

register = template.Library()


@register.filter
def suppress(value: Any, spec: MetricSpec) -> Any:
    """A breakdown cell in a printed or exported report: 「3未満」 for 1 or 2 residents."""
    return value if value is None else suppressed(int(value), spec)


@register.filter
def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@register.filter
def small_base(denominator: int) -> bool:
    """A rate over fewer than 3 residents is not printed (it would identify them)."""
    return denominator < SMALL_NUMBER


@register.filter
def signed(value: int | None) -> str:
    if value is None:
        return "—"
    return f"+{value:,}" if value > 0 else f"{value:,}"


@register.filter
def num(value: Any) -> Any:
    """A number with thousands separators (1,234; 12.5 hours stays 12.5), like humanize's
    intcomma but without its locale machinery: a year's dashboard prints hundreds of numbers.
    Anything else (「3未満」, None) is returned as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    return f"{value:,}"
