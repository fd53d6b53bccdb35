"""LINE's own figures as a section of the dashboard (registered in municipalities.metrics):
read from the day's LineInsightDay row, which the nightly task fetched through the LINE gateway.

LINE gives the friends' demographics as percentages; the dashboard shows them as friends
(LINE's percentage × the friends a message reaches, rounded), so that they chart and total like
every other breakdown and small cells are suppressed in exports. The account belongs to the town:
the figures are town-wide (自治体管理者).
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _

from municipalities.line.insight import DELIVERY_KINDS
from municipalities.metrics import MetricRow, MetricSpec, Provider, register_provider
from municipalities.models import Municipality
from reports.models import LineInsightDay

DELIVERY_LABELS = {
    "broadcast": _("一斉配信（管理画面）"),
    "targeting": _("絞り込み配信（管理画面）"),
    "autoResponse": _("自動応答"),
    "welcomeResponse": _("あいさつメッセージ"),
    "chat": _("チャット（管理画面）"),
    "apiBroadcast": _("一斉配信（API）"),
    "apiPush": _("個別の通知（API）"),
    "apiMulticast": _("配信（API）"),
    "apiNarrowcast": _("絞り込み配信（API）"),
    "apiReply": _("応答（API）"),
}
TILE_LABELS = {
    "male": _("男性"),
    "female": _("女性"),
    "unknown": _("不明"),
    "from0to14": _("14歳以下"),
    "from15to19": _("15〜19歳"),
    "from20to24": _("20〜24歳"),
    "from25to29": _("25〜29歳"),
    "from30to34": _("30〜34歳"),
    "from35to39": _("35〜39歳"),
    "from40to44": _("40〜44歳"),
    "from45to49": _("45〜49歳"),
    "from50": _("50歳以上"),
    "from50to54": _("50〜54歳"),
    "from55to59": _("55〜59歳"),
    "from60to64": _("60〜64歳"),
    "from65to69": _("65〜69歳"),
    "from70": _("70歳以上"),
    "ios": "iOS",
    "android": "Android",
    "others": _("その他"),
    "within7days": _("7日未満"),
    "within30days": _("7日〜30日未満"),
    "within90days": _("30日〜90日未満"),
    "within180days": _("90日〜180日未満"),
    "within365days": _("180日〜1年未満"),
    "over365days": _("1年以上"),
}
DEMOGRAPHICS = {
    "genders": "line_by_gender",
    "ages": "line_by_age",
    "areas": "line_by_area",
    "appTypes": "line_by_app",
    "subscriptionPeriods": "line_by_period",
}


def line_insight_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """LINE's followers, reaches and blocks at the end of the day, the messages sent that day
    (in total and per kind), and the demographics fetched for the day. One query."""
    row = LineInsightDay.objects.filter(municipality=municipality, day=start.date()).first()
    if row is None:
        return []
    rows: list[MetricRow] = []
    for metric, value in (
        ("line_followers", row.followers),
        ("line_targeted_reaches", row.targeted_reaches),
        ("line_blocks", row.blocks),
    ):
        if value is not None:
            rows.append(MetricRow(metric, value))
    if row.deliveries:
        counts = {k: int(row.deliveries.get(k) or 0) for k in DELIVERY_KINDS}
        rows.append(MetricRow("line_deliveries", sum(counts.values())))
        rows += [
            MetricRow("line_deliveries_by_kind", n, None, kind, str(DELIVERY_LABELS[kind]))
            for kind, n in counts.items()
            if n
        ]
    base = row.targeted_reaches if row.targeted_reaches is not None else None
    if base and row.demographics:
        for tile, metric in DEMOGRAPHICS.items():
            for key, percentage in row.demographics.get(tile) or []:
                friends = round(base * float(percentage) / 100)
                label = str(TILE_LABELS.get(key, key))
                rows.append(MetricRow(metric, friends, None, str(key)[:100], label))
    return rows


def register() -> None:
    register_provider(
        Provider(
            key="line_insight",
            label=str(_("LINE の統計")),
            rollup=line_insight_rollup,
            town_wide=True,
            metrics={
                "line_followers": MetricSpec(_("友だち追加の累計（LINE 集計）"), snapshot=True, unit="人"),
                "line_targeted_reaches": MetricSpec(
                    _("メッセージが届く友だち（LINE 集計）"), snapshot=True, unit="人"
                ),
                "line_blocks": MetricSpec(_("ブロックの累計（LINE 集計）"), snapshot=True, unit="人"),
                "line_deliveries": MetricSpec(
                    _("送信したメッセージ（LINE 集計）"), people=False, series=True, unit="通"
                ),
                "line_deliveries_by_kind": MetricSpec(
                    _("種類別の送信メッセージ"), people=False, unit="通", dimension_label=_("種類")
                ),
                "line_by_gender": MetricSpec(
                    _("性別（LINE の推計）"), snapshot=True, unit="人", dimension_label=_("性別")
                ),
                "line_by_age": MetricSpec(
                    _("年齢（LINE の推計）"), snapshot=True, unit="人", dimension_label=_("年齢")
                ),
                "line_by_area": MetricSpec(
                    _("地域（LINE の推計）"), snapshot=True, unit="人", dimension_label=_("地域")
                ),
                "line_by_app": MetricSpec(
                    _("OS（LINE の推計）"), snapshot=True, unit="人", dimension_label=_("OS")
                ),
                "line_by_period": MetricSpec(
                    _("友だち期間（LINE の推計）"), snapshot=True, unit="人", dimension_label=_("友だち期間")
                ),
            },
        )
    )
