"""``python manage.py import_slots <municipality-slug> <department-code> <file> [--dry-run] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from municipalities.models import Department
from reservations.services import slots_import


class Command(BaseCommand):
    help = "予約枠のファイル（CSV: UTF-8 / UTF-8 BOM / Shift_JIS、または XLSX）を取り込みます。1 行でもエラーがあれば何も取り込みません。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("municipality", help="自治体の識別子（例: midori）")
        parser.add_argument("department", help="課コード（例: kenko）")
        parser.add_argument("file", help="取り込むファイル")
        parser.add_argument("--dry-run", action="store_true", help="確認だけして取り込まない")
        parser.add_argument("--json", action="store_true", help="結果を JSON 1 つで出力する")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            department = Department.objects.select_related("municipality").get(
                municipality__slug=options["municipality"], code=options["department"]
            )
        except Department.DoesNotExist:
            raise CommandError(
                f"課 {options['municipality']}/{options['department']} が見つかりません。"
            ) from None
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"ファイル {path} がありません。")
        outcome = slots_import(
            department=department, data=path.read_bytes(), file_name=path.name, dry_run=options["dry_run"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_json(), ensure_ascii=False))
        else:
            verb = "作成予定" if options["dry_run"] else "作成"
            self.stdout.write(f"{department.municipality.name} {department.name}: {path.name}")
            self.stdout.write(
                f"  {verb}: {outcome.created} 件 / 変更なし: {outcome.unchanged} 件 / エラー: {len(outcome.errors)} 行"
            )
            for error in outcome.errors:
                where = f"{error['row']} 行目" if error["row"] else "ファイル"
                self.stderr.write(f"  {where}: {error['message']}")
            if outcome.errors:
                self.stderr.write("  エラーがあるため、何も取り込んでいません。")
        if outcome.errors:
            raise SystemExit(1)
