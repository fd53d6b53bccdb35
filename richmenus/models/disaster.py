"""災害モード (the town's switch to its disaster menu) and 避難所 with their status."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import MunicipalityOwned, Role, TimeStampedModel
from richmenus.models.menus import READ


class DisasterType(models.TextChoices):
    FLOOD = "flood", _("洪水")
    LANDSLIDE = "landslide", _("崖崩れ、土石流及び地滑り")
    STORM_SURGE = "storm_surge", _("高潮")
    EARTHQUAKE = "earthquake", _("地震")
    TSUNAMI = "tsunami", _("津波")
    FIRE = "fire", _("大規模な火事")
    INLAND_FLOOD = "inland_flood", _("内水氾濫")
    VOLCANO = "volcano", _("火山現象")


class DisasterMode(TimeStampedModel, MunicipalityOwned):
    """The town's 災害モード: while on, every resident sees the disaster menu, the follow
    greeting and the bot's fallback point to it. One row per town; switched by services only."""

    # Switched by 自治体管理者 and by the town's 防災 role (permissions.py); seen by every role.
    role_rules: ClassVar[dict[str, frozenset[str] | None]] = {
        Role.MUNICIPALITY_ADMIN: None,  # every action
        Role.HEAD: READ,
        Role.EDITOR: READ,
        Role.VIEWER: READ,
        Role.DISASTER: READ | {"switch"},
    }

    municipality = models.OneToOneField(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="disaster_mode",
    )
    is_on = models.BooleanField(_("災害モード中"), default=False)
    disaster_type = models.CharField(
        _("災害の種類"), max_length=16, choices=DisasterType.choices, blank=True, default=""
    )
    switched_at = models.DateTimeField(_("切り替えた日時"), null=True, blank=True)
    phase = models.CharField(
        _("切り替えの進み具合"),
        max_length=16,
        default="idle",
        help_text=_("idle: 完了, switching: LINE で切り替え中, failed: 失敗（もう一度実行できます）"),
    )
    request_key = models.CharField(_("一括切り替えの再試行キー"), max_length=100, blank=True)
    last_error = models.CharField(_("最後のエラー"), max_length=500, blank=True)
    line_copies = models.JSONField(
        _("LINE 上の災害メニュー"),
        default=dict,
        blank=True,
        help_text=_("通常メニューごとの災害メニューの LINE の ID（一括置き換えで行き来するため）。"),
    )

    class Meta:
        verbose_name = _("災害モード")
        verbose_name_plural = _("災害モード")
        ordering = ["municipality"]
        permissions = [("switch_disastermode", "災害モードを切り替えられる")]
        constraints = [
            models.CheckConstraint(
                condition=Q(disaster_type__in=[*DisasterType.values, ""]),
                name="richmenus_disastermode_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(phase__in=["idle", "switching", "failed"]),
                name="richmenus_disastermode_phase_valid",
            ),
        ]

    def __str__(self) -> str:
        return str(_("災害モード（オン）") if self.is_on else _("災害モード（オフ）"))


class ShelterStatus(models.TextChoices):
    CLOSED = "closed", _("未開設")
    OPEN = "open", _("開設")
    CROWDED = "crowded", _("混雑")
    FULL = "full", _("満")


class Shelter(TimeStampedModel, MunicipalityOwned):
    """A designated emergency evacuation site or shelter (指定緊急避難場所・指定避難所) of the town,
    from the national open data or entered by staff, with its status during a disaster."""

    Status = ShelterStatus

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="shelters",
    )
    code = models.CharField(
        _("共通 ID"), max_length=64, help_text=_("国土地理院のデータの共通 ID（手入力なら任意の番号）。")
    )
    name = models.CharField(_("施設・場所名"), max_length=200)
    address = models.CharField(_("住所"), max_length=300, blank=True)
    latitude = models.DecimalField(_("緯度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("経度"), max_digits=9, decimal_places=6, null=True, blank=True)
    disaster_types = models.JSONField(_("対象とする災害"), default=list, blank=True)
    is_designated_shelter = models.BooleanField(_("指定避難所を兼ねる"), default=False)
    status = models.CharField(
        _("開設状況"),
        max_length=16,
        choices=ShelterStatus.choices,
        default=ShelterStatus.CLOSED,
        editable=False,
    )

    class Meta:
        verbose_name = _("避難所")
        verbose_name_plural = _("避難所")
        ordering = ["municipality", "name"]
        permissions = [("import_shelter", "避難所を取り込める")]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "code"], name="richmenus_shelter_code_unique"),
            models.CheckConstraint(
                condition=Q(status__in=ShelterStatus.values), name="richmenus_shelter_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AddressPoint(TimeStampedModel, MunicipalityOwned):
    """A representative point of one 大字・町丁目 of the town (国土交通省「位置参照情報」, 大字・
    町丁目レベル, or entered by staff): how an address or a postal code a resident sends is
    placed on the map without a geocoding service (the precision is the 町丁目's, not the 番地's)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="address_points",
    )
    name = models.CharField(
        _("大字・町丁目名"),
        max_length=100,
        help_text=_("例: 中央一丁目、本町、大字上原。自治体名は含めません。"),
    )
    key = models.CharField(
        _("照合用の名前"),
        max_length=100,
        editable=False,
        help_text=_("丁目を数字にし、空白を除いた名前（住所との照合に使います）。"),
    )
    postal_code = models.CharField(
        _("郵便番号"), max_length=8, blank=True, help_text=_("例: 399-0001（任意）")
    )
    latitude = models.DecimalField(_("緯度"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("経度"), max_digits=9, decimal_places=6)

    class Meta:
        verbose_name = _("町丁目の位置")
        verbose_name_plural = _("町丁目の位置")
        ordering = ["municipality", "key"]
        permissions = [("import_addresspoint", "町丁目の位置を取り込める")]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "key"], name="richmenus_addresspoint_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name
