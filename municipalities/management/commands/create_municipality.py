"""``python manage.py create_municipality <slug> --name … --channel-secret … --channel-access-token …``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from municipalities.errors import ServiceError
from municipalities.services import municipality_create_or_update


class Command(BaseCommand):
    help = (
        "自治体（LINE 公式アカウント 1 つ）を作成します。同じ識別子の自治体があれば、名称とチャネル情報を"
        "更新します（何度実行しても同じ結果になります）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="識別子（半角英数字。Webhook URL の一部になります）例: midori")
        parser.add_argument("--name", required=True, help="自治体名 例: みどり町")
        parser.add_argument("--channel-secret", required=True, help="LINE チャネルシークレット")
        parser.add_argument(
            "--channel-access-token", required=True, help="LINE チャネルアクセストークン（長期）"
        )
        parser.add_argument(
            "--channel-id", default=None, help="LINE チャネル ID（数字）。省略すると今の値のまま"
        )
        parser.add_argument("--prefecture", default=None, help="都道府県 例: 長野県")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"].strip().lower()
        name = options["name"].strip()
        if not name:
            raise CommandError("自治体名（--name）を入力してください。")
        try:
            municipality, created = municipality_create_or_update(
                slug=slug,
                name=name,
                channel_secret=options["channel_secret"].strip(),
                channel_access_token=options["channel_access_token"].strip(),
                channel_id=options["channel_id"].strip() if options["channel_id"] is not None else None,
                prefecture=options["prefecture"],
                actor=None,
            )
        except ServiceError as exc:
            raise CommandError("自治体を保存できません。\n" + str(exc.message)) from None
        verb = "作成しました" if created else "更新しました"
        webhook = reverse("line:webhook", kwargs={"slug": municipality.slug})
        self.stdout.write(
            self.style.SUCCESS(f"自治体「{municipality.name}」（{municipality.slug}）を{verb}。")
            + f"\nWebhook URL: {settings.SITE_URL or '<サイトのURL>'}{webhook}"
        )
