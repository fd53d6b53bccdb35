"""The audit log: every staff-visible change, written by services (see municipalities/audit.py)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities.models.tenants import Department, Municipality


class AuditEntry(models.Model):
    """One staff-visible change: who did what to which object, when, with before/after values.

    Written by services in the same transaction as the change (see audit.py); never edited.
    """

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = "department"

    created_at = models.DateTimeField(_("日時"), default=timezone.now, db_index=True)
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="audit_entries",
        null=True,
        blank=True,
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("課"),
        on_delete=models.PROTECT,
        related_name="audit_entries",
        null=True,
        blank=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    actor_label = models.CharField(
        _("操作者"), max_length=150, help_text=_("職員名、または「住民」「システム」。")
    )
    actor_resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("操作した住民"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("住民が自分で行った操作のとき、その住民です。"),
    )
    action = models.CharField(_("操作"), max_length=100, db_index=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("種類"), on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.CharField(_("対象ID"), max_length=64)
    object_repr = models.CharField(_("対象"), max_length=200)
    data = models.JSONField(_("内容"), default=dict, blank=True)

    class Meta:
        verbose_name = _("操作履歴")
        verbose_name_plural = _("操作履歴")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # history_view(): the entries of one object, newest first.
            models.Index(
                fields=["content_type", "object_id", "-created_at"],
                name="munic_audit_object_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"
