"""The rich menu's daily figures for the reports (registered in municipalities.metrics): taps per
tile, read from the day's tap counters (RichMenuTap: a count per tile and Tokyo day, nothing
about who tapped). Rich menus are the town's, so the figures are town-wide (自治体管理者)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _

from municipalities.metrics import MetricRow, MetricSpec, Provider, register_provider
from municipalities.models import Municipality
from richmenus.models import RichMenuTap


def richmenu_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Taps of the day in total and per tile (menu／tile label)."""
    taps = (
        RichMenuTap.objects.filter(menu__municipality=municipality, day=start.date())
        .values_list("tile_id", "menu__name", "tile__label", "count")
        .order_by("tile_id")
    )
    rows = [
        MetricRow("taps_by_tile", n, None, str(tile_id), f"{menu}／{label}")
        for tile_id, menu, label, n in taps
    ]
    return [MetricRow("taps", sum(r.value for r in rows)), *rows]


def register() -> None:
    register_provider(
        Provider(
            key="richmenu",
            label=str(_("リッチメニュー")),
            rollup=richmenu_rollup,
            town_wide=True,
            metrics={
                "taps": MetricSpec(_("タップ"), series=True, unit="回"),
                "taps_by_tile": MetricSpec(
                    _("ボタン別のタップ"), unit="回", dimension_label=_("メニュー／ボタン")
                ),
            },
        )
    )
