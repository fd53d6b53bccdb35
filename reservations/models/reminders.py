"""リマインダー: one push per booking and offset, claimed by the worker that sends it."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.claims import ClaimedWork
from municipalities.models import TimeStampedModel
from reservations.models.bookings import Reservation


class ReminderStatus(models.TextChoices):
    PENDING = "pending", _("送信待ち")
    SENDING = "sending", _("送信中")
    SENT = "sent", _("送信済")
    SKIPPED = "skipped", _("送信せず")
    FAILED = "failed", _("失敗")


class ReminderDelivery(TimeStampedModel, ClaimedWork):
    """A reminder for one booking at one offset. The row is claimed before sending, so it goes out once.

    A worker that dies while sending leaves the row 送信中 with a heartbeat that stops; the
    minute's reminder run offers it again and the re-send carries the same retry key.
    """

    municipality_path: ClassVar[str] = "reservation__slot__menu__department__municipality"
    department_path: ClassVar[str | None] = "reservation__slot__menu__department"

    reservation = models.ForeignKey(
        Reservation, verbose_name=_("予約"), on_delete=models.CASCADE, related_name="reminders"
    )
    offset_key = models.CharField(_("タイミング"), max_length=16)
    due_at = models.DateTimeField(_("送信予定"))
    status = models.CharField(
        _("状態"), max_length=16, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    error = models.CharField(_("エラー"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("リマインダー送信")
        verbose_name_plural = _("リマインダー送信")
        ordering = ["-due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["reservation", "offset_key"], name="reservations_reminderdelivery_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReminderStatus.values),
                name="reservations_reminderdelivery_status_valid",
            ),
        ]
        indexes = [
            # reminder_claims_reoffer_stale(): the rows in 送信中 whose worker stopped heartbeating.
            models.Index(
                fields=["heartbeat_at"],
                name="reservations_reminder_sending",
                condition=Q(status="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offset_key} {self.get_status_display()}"
