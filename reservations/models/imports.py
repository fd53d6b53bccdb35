"""枠の取込: a CSV/Excel slot import checked and applied by a worker."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.claims import ClaimedWork
from municipalities.models import DepartmentOwned, TimeStampedModel


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("待機中")
    CHECKING = "checking", _("確認中")
    CHECKED = "checked", _("確認済")
    IMPORTING = "importing", _("取込中")
    DONE = "done", _("完了")
    FAILED = "failed", _("エラー")


class SlotImportJob(TimeStampedModel, DepartmentOwned, ClaimedWork):
    """An uploaded slot file: checked first (dry run), then imported on confirmation.

    Large files are processed by a Celery task that writes its progress here; the admin shows a
    progress bar from it. A worker that dies while checking or importing stops heartbeating;
    the job is then taken up again (the check from the start, the import from the checked file,
    whose transaction had rolled back), and after repeated failures it ends in エラー with
    「やり直す」 in the admin.
    """

    file = models.FileField(_("ファイル"), upload_to="reservations/imports/%Y/%m/")
    file_name = models.CharField(_("ファイル名"), max_length=255)
    status = models.CharField(
        _("状態"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("処理済み行数"), default=0)
    created_count = models.PositiveIntegerField(_("新規"), default=0)
    unchanged_count = models.PositiveIntegerField(_("変更なし"), default=0)
    errors = models.JSONField(_("エラー"), default=list, blank=True)
    preview = models.JSONField(_("プレビュー"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("取込した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
    )
    finished_at = models.DateTimeField(_("完了日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("枠の取込")
        verbose_name_plural = _("枠の取込")
        ordering = ["-created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="reservations_slotimportjob_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
