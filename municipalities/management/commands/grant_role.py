"""``python manage.py grant_role <username> <municipality-slug> <department-code> <role>``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from municipalities import jp
from municipalities.errors import ServiceError
from municipalities.models import Department, Municipality, Role, StaffUser
from municipalities.services import staff_role_grant, staff_user_assign_municipality

NO_DEPARTMENT = "-"


def parse_role(value: str) -> str:
    """The role value from "editor" or its Japanese label "編集者" (any width)."""
    text = jp.nfkc(value)
    by_label = {str(label): role for role, label in Role.choices}
    if text.lower() in Role.values:
        return text.lower()
    if text in by_label:
        return by_label[text]
    choices = "、".join(f"{role}（{label}）" for role, label in Role.choices)
    raise CommandError(f"役割「{value}」はありません。次のどれかを指定してください: {choices}")


class Command(BaseCommand):
    help = (
        "職員に役割を付与します。役割は municipality_admin|head|editor|viewer（または 自治体管理者・所属長・"
        "編集者・閲覧者）。自治体管理者のときは課コードに「-」を指定します。同じ課の役割は置き換えます。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="職員のログイン名")
        parser.add_argument("municipality", help="自治体の識別子 例: midori")
        parser.add_argument("department", help="課コード 例: kenko（自治体管理者は -）")
        parser.add_argument("role", help="municipality_admin | head | editor | viewer（日本語名も可）")

    def handle(self, *args: Any, **options: Any) -> None:
        role = parse_role(options["role"])
        municipality = Municipality.objects.filter(slug=options["municipality"].strip()).first()
        if municipality is None:
            raise CommandError(
                f"自治体「{options['municipality']}」が見つかりません。識別子を確認してください。"
            )
        user = StaffUser.objects.filter(username=options["username"].strip()).first()
        if user is None:
            raise CommandError(
                f"職員「{options['username']}」が見つかりません。先に職員のアカウントを作成してください。"
            )
        if user.municipality_id is None and not user.is_superuser:
            user = staff_user_assign_municipality(user=user, municipality=municipality, actor=None)
        if user.municipality_id != municipality.pk:
            raise CommandError(f"職員「{user.username}」は「{municipality.name}」の職員ではありません。")
        code = options["department"].strip()
        department = None
        if role == Role.MUNICIPALITY_ADMIN:
            if code != NO_DEPARTMENT:
                raise CommandError(
                    "自治体管理者は課を指定せずに付与します。課コードには「-」を指定してください。"
                )
        else:
            if code == NO_DEPARTMENT:
                raise CommandError("この役割には課コードが必要です（例: kenko）。")
            department = Department.objects.filter(municipality=municipality, code=code).first()
            if department is None:
                known = "、".join(municipality.departments.values_list("code", flat=True)) or "（なし）"
                raise CommandError(
                    f"課コード「{code}」は「{municipality.name}」にありません。ある課: {known}"
                )
        try:
            staff_role = staff_role_grant(user=user, role=role, department=department, actor=None)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        where = department.name if department else f"{municipality.name}の全課"
        self.stdout.write(
            self.style.SUCCESS(f"{user} に「{staff_role.get_role_display()}」（{where}）を付与しました。")
        )
