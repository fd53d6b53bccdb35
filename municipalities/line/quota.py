"""The town's message quota: how many messages count against its LINE plan this month, and
whether a send of N more would pass the town's budget (``Municipality.monthly_push_budget``).

Pushes, multicasts and broadcasts count, one per recipient; replies are free (LINE's pricing).
With the ``api`` backend the figure is LINE's own (GET /v2/bot/message/quota/consumption),
cached for a few minutes; with the simulator it is counted from what the simulator recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.models import Municipality, SimulatedDelivery

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300
COUNTED_ENDPOINTS = ("push", "multicast", "broadcast")


def used_this_month(municipality: Municipality) -> int | None:
    """Messages counted against the plan this month (None when LINE cannot be asked now)."""
    if settings.LINE_USES_SIMULATOR:
        start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return SimulatedDelivery.objects.filter(
            municipality=municipality, endpoint__in=COUNTED_ENDPOINTS, created_at__gte=start
        ).count()
    key = f"line:quota-used:{municipality.pk}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    # The LINE SDK is heavy and only the api backend needs it (see client.get_line_client).
    from municipalities.line.api import _messaging_api

    try:
        used = int(
            _messaging_api(municipality.channel_access_token or "")
            .get_message_quota_consumption(_request_timeout=float(settings.LINE_API_TIMEOUT_SECONDS))
            .total_usage
        )
    except Exception as exc:  # a figure for a warning: never let it stop a page
        logger.warning("quota consumption of %s unavailable: %s", municipality.slug, exc)
        return None
    cache.set(key, used, CACHE_SECONDS)
    return used


@dataclass(frozen=True)
class BudgetCheck:
    budget: int  # 0: the town set no budget
    used: int | None
    adding: int

    @property
    def exceeds(self) -> bool:
        return bool(self.budget) and self.used is not None and self.used + self.adding > self.budget

    def warning(self) -> str:
        """A Japanese sentence for staff, or "" when there is nothing to warn about."""
        if not self.exceeds:
            return ""
        return _(
            "今月の送信数 %(used)s 通 + この配信 %(adding)s 通で、月間の上限 %(budget)s 通を超えます"
            "（LINE の料金プランの上限。超えると送れないか、追加料金がかかります）。"
        ) % {"used": f"{self.used:,}", "adding": f"{self.adding:,}", "budget": f"{self.budget:,}"}


def budget_check(municipality: Municipality, *, adding: int) -> BudgetCheck:
    """Whether sending ``adding`` more messages this month stays within the town's budget."""
    budget = municipality.monthly_push_budget
    return BudgetCheck(budget=budget, used=used_this_month(municipality) if budget else None, adding=adding)
