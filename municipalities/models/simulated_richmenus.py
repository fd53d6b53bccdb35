"""LINE's rich-menu state as the simulator backend keeps it: no network, a table per concept.

The simulator page shows a simulated resident's menu (the one linked to them, else the default)
under the talk, and a tap performs the tile's action.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from municipalities.models.base import MunicipalityOwned, TimeStampedModel
from municipalities.models.tenants import Municipality


class SimulatedRichMenu(TimeStampedModel, MunicipalityOwned):
    """A rich menu created at the simulated LINE: its object, image, aliases and default flag."""

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="simulated_rich_menus"
    )
    rich_menu_id = models.CharField(_("リッチメニューID"), max_length=100, unique=True)
    body = models.JSONField(_("リッチメニューオブジェクト"))
    image = models.BinaryField(_("画像"), null=True, blank=True)
    content_type = models.CharField(_("画像の種類"), max_length=32, blank=True)
    is_default = models.BooleanField(_("既定"), default=False)
    aliases = models.JSONField(_("エイリアス"), default=list, blank=True)

    class Meta:
        verbose_name = _("シミュレーターのリッチメニュー")
        verbose_name_plural = _("シミュレーターのリッチメニュー")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.rich_menu_id


class SimulatedRichMenuLink(TimeStampedModel, MunicipalityOwned):
    """A rich menu linked to one user at the simulated LINE (per-user menus win over the default)."""

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="simulated_rich_menu_links",
    )
    line_user_id = models.CharField(_("LINE ユーザーID"), max_length=64)
    rich_menu_id = models.CharField(_("リッチメニューID"), max_length=100, db_index=True)

    class Meta:
        verbose_name = _("シミュレーターのリッチメニューの紐付け")
        verbose_name_plural = _("シミュレーターのリッチメニューの紐付け")
        ordering = ["municipality", "line_user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "line_user_id"],
                name="municipalities_simulatedrichmenulink_one_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_user_id} → {self.rich_menu_id}"
