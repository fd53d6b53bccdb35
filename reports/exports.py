"""The monthly report as an XLSX workbook (one sheet per section), through the core's
formula-safe export. Breakdown cells under 3 residents are written as 「3未満」."""

from __future__ import annotations

import tablib
from django.utils.translation import gettext as _

from reports.selectors import Dashboard, suppressed


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def report_workbook(dashboard: Dashboard) -> tablib.Databook:
    """概要 (every figure and rate, this period and the one before), one sheet per section with
    its breakdowns, and 業務削減効果 (the estimate with its assumptions)."""
    scope = dashboard.department.name if dashboard.department else dashboard.municipality.name
    period = f"{dashboard.period.start:%Y-%m-%d}〜{dashboard.period.end:%Y-%m-%d}"
    summary = tablib.Dataset(title=_("概要"))
    summary.headers = [_("分野"), _("項目"), _("今期"), _("前期"), _("単位")]
    summary.append([_("対象"), scope, period, "", ""])
    sheets = [summary]
    for section in dashboard.sections:
        if not section.available:
            summary.append([section.label, section.note, "", "", ""])
            continue
        for figure in section.figures:
            summary.append([section.label, figure.label, figure.current, figure.previous, figure.unit])
        for rate in section.rates:
            if rate.current is not None or rate.previous is not None:
                summary.append([section.label, rate.label, _rate(rate.current), _rate(rate.previous), "%"])
        sheet = tablib.Dataset(title=section.label[:31])
        sheet.headers = [_("項目"), _("内訳"), _("今期"), _("前期")]
        for breakdown in section.breakdowns:
            spec = breakdown.spec
            if spec.histogram:
                sheet.append([str(spec.label), _("中央値（時間）"), breakdown.median, ""])
                sheet.append([str(spec.label), _("90パーセンタイル（時間）"), breakdown.p90, ""])
                continue
            for row in breakdown.rows:
                previous = row["previous"]
                sheet.append(
                    [
                        str(spec.label),
                        row["label"],
                        suppressed(row["value"], spec),
                        "" if previous is None else suppressed(previous, spec),
                    ]
                )
        for rate in section.rates:
            for month, value, num, den in rate.months:
                sheet.append([rate.label, month, _rate(value), f"{num}/{den}"])
            for label, value, num, den in rate.rows:
                sheet.append([rate.label, label, _rate(value), f"{num}/{den}"])
        sheets.append(sheet)
    saved = tablib.Dataset(title=_("業務削減効果"))
    saved.headers = [_("月"), _("課"), _("手続き"), _("件数"), _("1件の分数"), _("削減時間")]
    for s in dashboard.savings:
        saved.append([s.month, s.department, s.procedure, s.count, float(s.minutes), float(s.hours)])
    saved.append([_("合計"), "", "", "", "", float(dashboard.saved_hours)])
    saved.append([_("職員の日数換算（1日7時間45分）"), "", "", "", "", float(dashboard.saved_days)])
    saved.append([_("※ 推計です。LINE で済んだ件数 × 手作業の分数で計算しています。"), "", "", "", "", ""])
    for a in dashboard.assumptions:
        saved.append([_("前提"), "", a.label, "", float(a.minutes), a.source])
    sheets.append(saved)
    return tablib.Databook(sheets)
