"""The abstract bases every model in the project builds on: timestamps and the tenant it belongs to."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("作成日時"), default=timezone.now, db_index=True, editable=False)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        abstract = True


class MunicipalityOwned(models.Model):
    """Owned by one municipality as a whole (not by a department).

    Each model declares its own ``municipality`` foreign key, because its reverse name is part
    of how the code reads (``town.residents``, ``town.talk_messages``), and Django's
    placeholders (``%(class)s``) cannot spell those. System check municipalities.E003 holds
    every such key to the rule: to Municipality, NOT NULL, ``on_delete=PROTECT``.
    """

    # Lookup path from this model to its Municipality; read by permissions.py.
    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = None

    class Meta:
        abstract = True


class DepartmentOwned(models.Model):
    """Owned by one department (課/係); its staff manage it, others do not see it."""

    municipality_path: ClassVar[str] = "department__municipality"
    department_path: ClassVar[str | None] = "department"

    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_set",
        help_text=_("この情報を管理する課です。"),
    )

    class Meta:
        abstract = True
