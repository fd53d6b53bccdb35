"""``python manage.py seed_demo``: the demo town, idempotent."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand

from municipalities.demo import DEMO_PASSWORD, LOGINS, seed_core

# reports last: its demo history is shaped on what the others created.
FEATURE_APPS = ["broadcasts", "reservations", "applications", "chatbot", "richmenus", "facilities", "reports"]


class Command(BaseCommand):
    help = "デモ用の自治体「みどり町」を作成します（何度実行しても同じ結果になります）。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="表示する URL のホスト")
        parser.add_argument("--port", default="8000", help="表示する URL のポート")

    def handle(self, *args: Any, **options: Any) -> None:
        municipality = seed_core()
        for label in FEATURE_APPS:
            try:
                module = importlib.import_module(f"{label}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{label}.demo":
                    raise
                continue
            module.seed(municipality)
        base = f"http://{options['host']}:{options['port']}"
        lines = [
            f"デモの自治体「{municipality.name}」（{municipality.slug}）を用意しました。",
            "",
            f"  管理画面      {base}/admin/",
            f"  シミュレーター {base}/simulator/",
            f"  Webhook       {base}/line/webhook/{municipality.slug}/",
            "",
            f"  ログイン（パスワードはすべて {DEMO_PASSWORD}）:",
            *[f"    {username:<12} {label}" for username, label in LOGINS],
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
