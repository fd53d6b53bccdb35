"""``python manage.py import_garbage <municipality-slug> <dir>``: load a town's 5374 files."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.errors import ChatbotError
from chatbot.garbage_import import files_from_directory
from chatbot.services import garbage_import
from municipalities.models import Municipality


class Command(BaseCommand):
    help = "5374 形式のごみデータ（area_days.csv, target.csv など）を自治体に取り込みます（既存のごみデータは置き換え）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="自治体の識別子（例: midori）")
        parser.add_argument("directory", help="5374 の CSV があるフォルダ")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="読めない行・セルを飛ばして、読めるものをすべて取り込む（飛ばしたものはファイル・行・理由を表示）",
        )

        parser.add_argument(
            "--holiday-policy",
            choices=["cancel", "shift", "week"],
            help="センター休止期間の収集: cancel=休止、shift=休止明けに振替、week=1 週ずらし（5374 の WeekShift）。"
            "省略時は setting.js の WeekShift、なければ休止",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        municipality = Municipality.objects.filter(slug=options["slug"]).first()
        if municipality is None:
            raise CommandError(f"自治体「{options['slug']}」がありません。")
        try:
            result = garbage_import(
                municipality=municipality,
                files=files_from_directory(options["directory"]),
                skip_invalid=options["skip_invalid"],
                holiday_policy=options["holiday_policy"],
            )
        except ChatbotError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{municipality.name}: 分類 {result.categories} / 品目 {result.items} / 地区 {result.areas}"
                f"（新規 {result.areas_created}）/ 休止期間 {result.holidays} / 注意事項 {result.remarks}"
            )
        )
        for note in result.notes:
            self.stdout.write(f"  {note}")
        if result.skipped:
            self.stdout.write(self.style.WARNING(f"飛ばしたもの（{len(result.skipped)} 件）:"))
            for line in result.skipped:
                self.stdout.write(f"  {line}")
