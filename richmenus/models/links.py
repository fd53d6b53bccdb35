"""The re-linking job (再紐付け): every following resident of a town linked to the menu of their
segment, 500 at a time, with its progress for staff."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import MunicipalityOwned, TimeStampedModel
from richmenus.models.menus import EDIT_ACTIONS


class LinkJobStatus(models.TextChoices):
    QUEUED = "queued", _("待機中")
    RUNNING = "running", _("実行中")
    DONE = "done", _("完了")
    FAILED = "failed", _("失敗（再開できます）")


ACTIVE_LINK_JOB = (LinkJobStatus.QUEUED, LinkJobStatus.RUNNING)


class RichMenuLinkJob(TimeStampedModel, MunicipalityOwned):
    """One re-linking of a town's residents (after a segment menu is published or changed).

    Steps of 500 residents in resident order; ``after`` is the last resident done, moved by a
    conditional UPDATE (``generation`` and ``after`` as read), so a redelivered or duplicated
    step changes nothing twice and a job resumes where it stopped. A new request while a job
    is active restarts that job (``generation`` + 1) instead of running a second one. Written by
    ``richmenus.services.links`` only.
    """

    # Everyone of the town sees the progress; heads and 自治体管理者 resume a stopped job.
    head_only_actions: ClassVar[frozenset[str]] = EDIT_ACTIONS | {"resume"}

    Status = LinkJobStatus

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="rich_menu_link_jobs",
    )
    status = models.CharField(
        _("状態"), max_length=16, choices=LinkJobStatus.choices, default=LinkJobStatus.QUEUED
    )
    reason = models.CharField(_("きっかけ"), max_length=200, blank=True)
    generation = models.PositiveIntegerField(
        _("やり直しの回数"), default=1, help_text=_("実行中に再度依頼されると、最初からやり直します。")
    )
    after = models.BigIntegerField(_("処理済みの最後の住民ID"), default=0)
    total = models.PositiveIntegerField(_("対象の住民"), default=0)
    done = models.PositiveIntegerField(_("処理済みの住民"), default=0)
    changed = models.PositiveIntegerField(
        _("メニューが変わった住民"), default=0, help_text=_("LINE に紐付け・解除を送った住民の数です。")
    )
    calls = models.PositiveIntegerField(_("LINE への要求"), default=0)
    started_at = models.DateTimeField(_("開始日時"), null=True, blank=True)
    finished_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    last_error = models.CharField(_("最後のエラー"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("リッチメニューの再紐付け")
        verbose_name_plural = _("リッチメニューの再紐付け")
        ordering = ["-created_at"]
        permissions = [("resume_richmenulinkjob", "リッチメニューの再紐付けを再開できる")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LinkJobStatus.values), name="richmenus_richmenulinkjob_status_valid"
            ),
            # One active job per town: a new request restarts it (richmenu_link_job_start).
            models.UniqueConstraint(
                fields=["municipality"],
                condition=Q(status__in=ACTIVE_LINK_JOB),
                name="richmenus_richmenulinkjob_one_active_per_town",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.done}/{self.total}"

    def __repr__(self) -> str:
        return f"<RichMenuLinkJob {self.pk} town={self.municipality_id} {self.status} g{self.generation} after={self.after}>"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, int(100 * self.done / self.total))
