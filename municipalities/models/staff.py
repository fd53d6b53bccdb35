"""Staff who sign in to the admin, and their roles per department."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models.base import TimeStampedModel
from municipalities.models.tenants import Department, Municipality


class StaffUserManager(UserManager["StaffUser"]):
    pass


class StaffUser(AbstractUser):
    """A member of staff who signs in to the admin.

    A staff user belongs to one municipality; what they may do there comes from their roles
    (StaffRole). Superusers operate the whole deployment and belong to none.
    """

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("所属自治体"),
        on_delete=models.PROTECT,
        related_name="staff_users",
        null=True,
        blank=True,
        help_text=_("空欄はシステム運用者（全自治体）です。"),
    )
    line_user_id = models.CharField(
        _("LINE ユーザーID"),
        max_length=33,
        blank=True,
        help_text=_("配信のテスト送信先です。自分の LINE アカウントの ID（U で始まる 33 文字）。"),
    )

    objects = StaffUserManager()

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = None

    class Meta:
        verbose_name = _("職員")
        verbose_name_plural = _("職員")
        ordering = ["username"]
        constraints = [
            # A system operator acts on every town, so no town's administrator may manage one.
            models.CheckConstraint(
                condition=Q(is_superuser=False) | Q(municipality__isnull=True),
                name="municipalities_staffuser_superuser_no_municipality",
            ),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full}（{self.username}）" if full else self.username

    def get_full_name(self) -> str:
        """Family name first, as Japanese names are written."""
        return f"{self.last_name} {self.first_name}".strip()


class Role(models.TextChoices):
    MUNICIPALITY_ADMIN = "municipality_admin", _("自治体管理者")
    HEAD = "head", _("所属長")
    EDITOR = "editor", _("編集者")
    VIEWER = "viewer", _("閲覧者")
    # 防災担当: in its department what an 編集者 does; for the town, 災害モード and the shelters
    # (permissions.py). Granted by 自治体管理者 only.
    DISASTER = "disaster", _("防災")


class StaffRole(TimeStampedModel):
    """A staff user's role in one department (or, for 自治体管理者, in the whole municipality).

    The role's permissions are those of the Django group of the same name; this row says where
    they apply.
    """

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = "department"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("職員"),
        on_delete=models.CASCADE,
        related_name="staff_roles",
    )
    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="staff_roles"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("課"),
        on_delete=models.PROTECT,
        related_name="staff_roles",
        null=True,
        blank=True,
        help_text=_("自治体管理者は課を指定しません（全課が対象）。"),
    )
    role = models.CharField(_("役割"), max_length=32, choices=Role.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("付与した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )

    class Meta:
        verbose_name = _("職員の役割")
        verbose_name_plural = _("職員の役割")
        ordering = ["municipality_id", "department_id", "user_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="municipalities_staffrole_role_valid"
            ),
            models.CheckConstraint(
                condition=(Q(role=Role.MUNICIPALITY_ADMIN) & Q(department__isnull=True))
                | (~Q(role=Role.MUNICIPALITY_ADMIN) & Q(department__isnull=False)),
                name="municipalities_staffrole_department_iff_not_admin",
            ),
            models.UniqueConstraint(
                fields=["user", "department"],
                condition=Q(department__isnull=False),
                name="municipalities_staffrole_one_per_user_department",
            ),
            models.UniqueConstraint(
                fields=["user", "municipality"],
                condition=Q(role=Role.MUNICIPALITY_ADMIN),
                name="municipalities_staffrole_one_admin_per_user_municipality",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}"

    def __repr__(self) -> str:
        return f"<StaffRole {self.pk} user={self.user_id} dept={self.department_id} {self.role}>"
