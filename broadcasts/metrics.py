"""The broadcasts' daily figures for the reports (registered in municipalities.metrics).

A broadcast counts on the day it started going out (Asia/Tokyo): its recipients, the messages
LINE accepted and refused, and the recipients who blocked the account within 24 hours (counted
hourly by ``broadcast_unfollows_count``; the nightly rollup re-reads the last days, so the count
of a broadcast sent late in the evening is complete in the next night's figures).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.utils.translation import gettext_lazy as _

from broadcasts.models import Broadcast, BroadcastStatus
from municipalities.metrics import MetricRow, MetricSpec, Provider, Ratio, register_provider
from municipalities.models import Municipality

EMERGENCY = "emergency"
FIGURES = ("recipients", "delivered", "failed", "unfollows")


def broadcasts_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Per broadcast, per category and per department: recipients, delivered, failed, blocks."""
    sent = (
        Broadcast.objects.filter(
            department__municipality=municipality,
            started_at__gte=start,
            started_at__lt=end,
            status__in=[BroadcastStatus.SENDING, BroadcastStatus.SENT, BroadcastStatus.PARTIAL],
        )
        .select_related("category")
        .order_by("pk")
    )
    rows: list[MetricRow] = []
    per_category: dict[tuple[int, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    per_department: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for b in sent:
        figures = {
            "recipients": b.recipient_count,
            "delivered": b.delivered_count,
            "failed": b.failed_count,
            "unfollows": b.unfollow_count or 0,
        }
        if b.is_emergency:
            category = (b.department_id, EMERGENCY, str(_("緊急")))
        elif b.category_id:
            category = (b.department_id, str(b.category_id), b.category.name)
        else:
            category = (b.department_id, "", str(_("分野なし")))
        for name, value in figures.items():
            rows.append(MetricRow(f"broadcast_{name}", value, b.department_id, str(b.pk), b.title))
            per_category[category][name] += value
            per_department[b.department_id][name] += value
        per_department[b.department_id]["count"] = per_department[b.department_id].get("count", 0) + 1
    for (department_id, key, label), figures in per_category.items():
        for name, value in figures.items():
            rows.append(MetricRow(f"category_{name}", value, department_id, key, label))
    for department_id, figures in per_department.items():
        for name, value in figures.items():
            rows.append(MetricRow(name if name != "count" else "broadcasts", value, department_id))
    return rows


def register() -> None:
    register_provider(
        Provider(
            key="broadcasts",
            label=str(_("配信")),
            rollup=broadcasts_rollup,
            metrics={
                "broadcasts": MetricSpec(_("配信した数"), people=False, unit="通"),
                "recipients": MetricSpec(_("配信対象"), series=True, unit="人"),
                "delivered": MetricSpec(_("配信成功"), series=True, unit="人"),
                "failed": MetricSpec(_("配信失敗"), unit="人"),
                "unfollows": MetricSpec(_("24時間以内のブロック"), series=True, unit="人"),
                "broadcast_recipients": MetricSpec(
                    _("配信ごとの配信対象"),
                    unit="人",
                    dimension_label=_("配信"),
                    group="broadcast",
                    column=_("配信対象"),
                ),
                "broadcast_delivered": MetricSpec(
                    _("配信ごとの配信成功"),
                    unit="人",
                    dimension_label=_("配信"),
                    group="broadcast",
                    column=_("配信成功"),
                ),
                "broadcast_failed": MetricSpec(
                    _("配信ごとの配信失敗"),
                    unit="人",
                    dimension_label=_("配信"),
                    group="broadcast",
                    column=_("配信失敗"),
                ),
                "broadcast_unfollows": MetricSpec(
                    _("配信ごとの24時間以内のブロック"),
                    unit="人",
                    dimension_label=_("配信"),
                    group="broadcast",
                    column=_("24時間以内のブロック"),
                ),
                "category_recipients": MetricSpec(
                    _("分野ごとの配信対象"),
                    unit="人",
                    dimension_label=_("分野"),
                    group="category",
                    column=_("配信対象"),
                ),
                "category_delivered": MetricSpec(
                    _("分野ごとの配信成功"),
                    unit="人",
                    dimension_label=_("分野"),
                    group="category",
                    column=_("配信成功"),
                ),
                "category_failed": MetricSpec(
                    _("分野ごとの配信失敗"),
                    unit="人",
                    dimension_label=_("分野"),
                    group="category",
                    column=_("配信失敗"),
                ),
                "category_unfollows": MetricSpec(
                    _("分野ごとの24時間以内のブロック"),
                    unit="人",
                    dimension_label=_("分野"),
                    group="category",
                    column=_("24時間以内のブロック"),
                ),
            },
            ratios=(
                Ratio(_("配信成功率"), "delivered", ("recipients",)),
                Ratio(
                    _("ブロック率（24時間以内）"),
                    "unfollows",
                    ("delivered",),
                    breakdown=("category_unfollows", "category_delivered"),
                ),
            ),
            saves={"delivered": "paper_notice"},
        )
    )
