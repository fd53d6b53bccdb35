"""枠: a time at a venue with a capacity that bookings fill."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities.models import TimeStampedModel
from reservations.models.menus import IMPORT_EXPORT_PERMISSIONS, Menu


class Slot(TimeStampedModel):
    """A bookable time at a venue with a number of places (枠).

    ``reserved`` counts the active bookings; it only changes by SQL ``F()`` updates in the
    booking services, the database refuses more than ``capacity`` (CHECK), and a reconciliation
    task recounts it every night. A closed slot keeps its bookings but takes no new ones.
    """

    municipality_path: ClassVar[str] = "menu__department__municipality"
    department_path: ClassVar[str | None] = "menu__department"

    menu = models.ForeignKey(
        Menu, verbose_name=_("予約メニュー"), on_delete=models.PROTECT, related_name="slots"
    )
    venue = models.CharField(_("会場"), max_length=100)
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    capacity = models.PositiveIntegerField(_("定員"))
    reserved = models.PositiveIntegerField(_("予約数"), default=0, editable=False)
    is_open = models.BooleanField(
        _("受付中"),
        default=True,
        help_text=_("オフにすると新しい予約を受け付けません（既存の予約は残ります）。"),
    )

    class Meta:
        verbose_name = _("予約枠")
        verbose_name_plural = _("予約枠")
        ordering = ["starts_at", "venue", "pk"]
        default_permissions = IMPORT_EXPORT_PERMISSIONS
        permissions = [("book_slot", _("代理予約・代理キャンセルができる"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved__lte=F("capacity")), name="reservations_slot_reserved_lte_capacity"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="reservations_slot_ends_after_start"
            ),
            # The natural key of the slot import: importing the same file twice creates nothing.
            models.UniqueConstraint(
                fields=["menu", "venue", "starts_at", "ends_at"], name="reservations_slot_natural_key"
            ),
        ]
        indexes = [
            # slots_for_menu / menu_availability: a menu's slots in a date range.
            models.Index(fields=["menu", "starts_at"], name="rsv_slot_menu_starts_idx"),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        end = timezone.localtime(self.ends_at)
        return f"{local:%Y/%m/%d %H:%M}–{end:%H:%M} {self.venue}"

    def __repr__(self) -> str:
        return f"<Slot {self.pk} menu={self.menu_id} {self.starts_at:%Y-%m-%d %H:%M} {self.reserved}/{self.capacity}>"

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.reserved, 0)
