"""``python manage.py richmenu publish <slug> [--menu NAME]`` and
``python manage.py richmenu disaster <slug> on|off [--type TYPE]``: rich menus without a browser."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from municipalities.line.errors import LineError
from municipalities.models import Municipality
from richmenus.errors import RichMenuError
from richmenus.models import DisasterType, RichMenu
from richmenus.services import disaster_mode_apply, disaster_mode_switch, richmenu_line_sync, richmenu_publish


class Command(BaseCommand):
    help = "リッチメニューを公開する（publish）、災害モードを切り替える（disaster on|off）。"

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="command", required=True)
        publish = sub.add_parser("publish", help="リッチメニューを LINE に公開する")
        publish.add_argument("municipality", help="自治体の識別子（例: midori）")
        publish.add_argument("--menu", default="", help="メニューの管理名（省略: 既定のメニュー）")
        disaster = sub.add_parser("disaster", help="災害モードを切り替える")
        disaster.add_argument("municipality", help="自治体の識別子（例: midori）")
        disaster.add_argument("state", choices=["on", "off"], help="on: 災害モードにする / off: 通常に戻す")
        disaster.add_argument("--type", default="", choices=["", *DisasterType.values], help="災害の種類")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            municipality = Municipality.objects.get(slug=options["municipality"])
        except Municipality.DoesNotExist:
            raise CommandError(f"自治体 {options['municipality']} が見つかりません。") from None
        try:
            if options["command"] == "publish":
                self._publish(municipality, options["menu"])
            else:
                self._disaster(municipality, options["state"] == "on", options["type"])
        except RichMenuError as exc:
            raise CommandError(exc.message) from None
        except LineError as exc:
            raise CommandError(
                f"LINE がエラーを返しました（{exc.status or '接続できません'}）: {exc.message}"
            ) from None

    def _publish(self, municipality: Municipality, name: str) -> None:
        menus = RichMenu.objects.filter(municipality=municipality)
        menu = menus.filter(name=name).first() if name else menus.filter(is_default=True).first()
        if menu is None:
            raise CommandError(
                f"メニュー「{name}」が見つかりません。"
                if name
                else "既定のメニューがありません。--menu で指定してください。"
            )
        richmenu_publish(menu=menu, actor=None, enqueue=False)
        menu = richmenu_line_sync(menu_id=menu.pk)
        self.stdout.write(
            f"{municipality.name}: 「{menu.name}」を公開しました（LINE の ID: {menu.line_rich_menu_id}）。"
        )

    def _disaster(self, municipality: Municipality, on: bool, disaster_type: str) -> None:
        mode = disaster_mode_switch(
            municipality=municipality, on=on, disaster_type=disaster_type, actor=None, enqueue=False
        )
        mode = disaster_mode_apply(mode_id=mode.pk)
        state = "災害モードに切り替えました" if on else "通常のメニューに戻しました"
        self.stdout.write(f"{municipality.name}: {state}。")
