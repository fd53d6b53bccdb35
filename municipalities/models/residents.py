"""Residents (the account's LINE friends), what they choose (interests, area, age band), and the
one-time sign-in links they have opened."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models.base import MunicipalityOwned, TimeStampedModel
from municipalities.models.tenants import Municipality


class Interest(TimeStampedModel, MunicipalityOwned):
    """A category of notices residents can choose (子育て, 健康, 防災, ごみ, 観光 …)."""

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="interests"
    )
    code = models.SlugField(_("コード"), max_length=50)
    name = models.CharField(_("名称"), max_length=50)
    description = models.CharField(
        _("説明"), max_length=200, blank=True, help_text=_("受信設定の画面で住民に表示されます。")
    )
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("お知らせの分野")
        verbose_name_plural = _("お知らせの分野")
        ordering = ["municipality_id", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "code"], name="municipalities_interest_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Area(TimeStampedModel, MunicipalityOwned):
    """A district (地区) of the municipality, used for segment delivery and garbage days."""

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="areas"
    )
    name = models.CharField(_("地区名"), max_length=100)
    kana = models.CharField(
        _("よみがな"), max_length=200, blank=True, help_text=_("チャットでの地区名の照合に使います。")
    )
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("地区")
        verbose_name_plural = _("地区")
        ordering = ["municipality_id", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "name"], name="municipalities_area_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class AgeBand(models.TextChoices):
    UNDER_20 = "u20", _("10代以下")
    AGE_20S = "20s", _("20代")
    AGE_30S = "30s", _("30代")
    AGE_40S = "40s", _("40代")
    AGE_50S = "50s", _("50代")
    AGE_60S = "60s", _("60代")
    OVER_70 = "70p", _("70代以上")


class Resident(TimeStampedModel, MunicipalityOwned):
    """A LINE friend of one municipality's account.

    A resident is known by the LINE user id, which is unique per channel. They choose the
    notices they want (interests), their area and age band; blocking the account marks them
    as not following.
    """

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="residents"
    )
    line_user_id = models.CharField(_("LINE ユーザーID"), max_length=64)
    display_name = models.CharField(_("表示名"), max_length=100, blank=True)
    picture_url = models.URLField(_("プロフィール画像"), max_length=500, blank=True)
    is_following = models.BooleanField(
        _("友だち"), default=True, help_text=_("ブロックされると「いいえ」になります。")
    )
    followed_at = models.DateTimeField(_("友だち追加日時"), null=True, blank=True)
    unfollowed_at = models.DateTimeField(_("ブロック日時"), null=True, blank=True)
    area = models.ForeignKey(
        Area,
        verbose_name=_("地区"),
        on_delete=models.SET_NULL,
        related_name="residents",
        null=True,
        blank=True,
    )
    age_band = models.CharField(_("年代"), max_length=8, choices=AgeBand.choices, blank=True)
    interests = models.ManyToManyField(
        Interest, verbose_name=_("受け取るお知らせ"), related_name="residents", blank=True
    )
    notices_paused = models.BooleanField(
        _("お知らせを停止中"),
        default=False,
        help_text=_("住民が緊急以外のお知らせをすべて止めています。緊急のお知らせは届きます。"),
    )
    is_simulated = models.BooleanField(
        _("シミュレーターの住民"),
        default=False,
        editable=False,
        help_text=_("LINE シミュレーターで作った練習用の住民です。実在の LINE ユーザーではありません。"),
    )

    class Meta:
        verbose_name = _("住民（友だち）")
        verbose_name_plural = _("住民（友だち）")
        ordering = ["municipality_id", "-followed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "line_user_id"],
                name="municipalities_resident_line_user_unique",
            ),
            models.CheckConstraint(
                condition=Q(age_band__in=[*AgeBand.values, ""]),
                name="municipalities_resident_age_band_valid",
            ),
        ]
        indexes = [
            # residents_for_segment(): followers of one town, by area.
            models.Index(
                fields=["municipality", "area"],
                condition=Q(is_following=True),
                name="munic_resident_following_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.line_user_id[-8:]

    def __repr__(self) -> str:
        return f"<Resident {self.pk} {self.municipality_id}/{self.line_user_id}>"


class ResidentLinkUse(TimeStampedModel, MunicipalityOwned):
    """A sign-in link the bot sent (where the town has no LIFF app) that has been opened.

    Such a link is good once: opening it writes this row, and the unique nonce makes a second
    opening (a replay, another browser, a copy from a log) sign nobody in. Rows older than the
    links' lifetime carry no meaning and are purged with the talk log.
    """

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="resident_link_uses",
    )
    resident = models.ForeignKey(
        Resident, verbose_name=_("住民"), on_delete=models.CASCADE, related_name="link_uses"
    )
    nonce = models.CharField(_("リンク識別子"), max_length=64)

    class Meta:
        verbose_name = _("使用済みの住民リンク")
        verbose_name_plural = _("使用済みの住民リンク")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["nonce"], name="municipalities_residentlinkuse_nonce_once"),
        ]

    def __str__(self) -> str:
        return self.nonce[:8]
