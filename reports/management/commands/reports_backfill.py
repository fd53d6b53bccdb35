"""``python manage.py reports_backfill <municipality-slug> --since YYYY-MM-DD [--until YYYY-MM-DD]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from municipalities import jp
from municipalities.models import Municipality
from reports import services
from reports.errors import ReportError


class Command(BaseCommand):
    help = (
        "レポートの日次集計を過去の日について作成します（同じ日を何度実行しても同じ結果になります）。"
        "日付は 2026-04-01、令和8年4月1日 などで指定します。終了日の既定は昨日です。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("municipality", help="自治体の識別子 例: midori")
        parser.add_argument("--since", required=True, help="集計を始める日 例: 2026-04-01")
        parser.add_argument("--until", help="集計を終える日（既定: 昨日）")

    def _date(self, value: str, name: str) -> Any:
        try:
            return jp.parse_date(value)
        except ValueError as exc:
            raise CommandError(f"{name}「{value}」を日付として読めません: {exc}") from None

    def handle(self, *args: Any, **options: Any) -> None:
        municipality = Municipality.objects.filter(slug=options["municipality"].strip()).first()
        if municipality is None:
            raise CommandError(
                f"自治体「{options['municipality']}」が見つかりません。識別子を確認してください。"
            )
        since = self._date(options["since"], "--since")
        until = self._date(options["until"], "--until") if options["until"] else None
        try:
            days = services.daily_metrics_backfill(municipality=municipality, since=since, until=until)
        except ReportError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"{municipality.name}: {days} 日分を集計しました。"))
