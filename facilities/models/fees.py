"""使用料: the rate of a room per time frame, discounts (減免) and extras (冷暖房, equipment)."""

from __future__ import annotations

from typing import ClassVar

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import TimeStampedModel

from .facilities import Facility, Room, TimeFrame


class Rate(TimeStampedModel):
    """The fee of one room for one time frame (使用料), for residents of the town and for others.

    A frame without a rate cannot be booked (staff forgot to set it): the booking service says
    so instead of lending the room for nothing.
    """

    municipality_path: ClassVar[str] = "room__facility__department__municipality"
    department_path: ClassVar[str | None] = "room__facility__department"

    room = models.ForeignKey(
        Room, verbose_name=_("部屋・コート"), on_delete=models.CASCADE, related_name="rates"
    )
    frame = models.ForeignKey(
        TimeFrame, verbose_name=_("時間枠"), on_delete=models.CASCADE, related_name="rates"
    )
    resident_fee = models.PositiveIntegerField(_("町内料金（円）"))
    non_resident_fee = models.PositiveIntegerField(
        _("町外料金（円）"), help_text=_("町外の団体が利用するときの料金。")
    )

    class Meta:
        verbose_name = _("使用料")
        verbose_name_plural = _("使用料")
        ordering = ["room_id", "frame__starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["room", "frame"], name="facilities_rate_one_per_room_frame"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_fee:,}円 / {self.non_resident_fee:,}円"

    def __repr__(self) -> str:
        return f"<Rate {self.pk} room={self.room_id} frame={self.frame_id}>"


class Discount(TimeStampedModel):
    """A reduction of the usage fee (減免): e.g. 高齢者団体 50%, 障害者団体 100%.

    Applying one to a booking needs a reason (the group's registration, the certificate seen at
    the counter); the booking records the discount's name, percentage and the reason, so
    changing a discount later does not change past bookings. Extras are not discounted.
    """

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    facility = models.ForeignKey(
        Facility, verbose_name=_("施設"), on_delete=models.CASCADE, related_name="discounts"
    )
    name = models.CharField(_("減免の名前"), max_length=100, help_text=_("例: 高齢者団体減免"))
    percent = models.PositiveSmallIntegerField(
        _("減免率（%）"), validators=[MaxValueValidator(100)], help_text=_("100 なら全額免除です。")
    )
    residents_may_choose = models.BooleanField(
        _("住民が申請時に選べる"),
        default=False,
        help_text=_("オフなら窓口・電話で職員だけが適用できます（証明書の確認が要るものなど）。"),
    )
    is_active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("減免")
        verbose_name_plural = _("減免")
        ordering = ["facility_id", "name", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(percent__lte=100), name="facilities_discount_percent_lte_100"),
            models.UniqueConstraint(fields=["facility", "name"], name="facilities_discount_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.percent}%）"

    def __repr__(self) -> str:
        return f"<Discount {self.pk} {self.name} {self.percent}%>"


class Extra(TimeStampedModel):
    """Something charged on top of the room (付帯設備): 冷暖房, 照明, a projector — a price per frame."""

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    facility = models.ForeignKey(
        Facility, verbose_name=_("施設"), on_delete=models.CASCADE, related_name="extras"
    )
    name = models.CharField(_("名前"), max_length=100, help_text=_("例: 冷暖房、プロジェクター"))
    price_per_frame = models.PositiveIntegerField(_("1枠あたりの料金（円）"))
    is_active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("付帯設備")
        verbose_name_plural = _("付帯設備")
        ordering = ["facility_id", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "name"], name="facilities_extra_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.price_per_frame:,}円）"

    def __repr__(self) -> str:
        return f"<Extra {self.pk} {self.name}>"
