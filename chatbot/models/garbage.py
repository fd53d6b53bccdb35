"""ごみ: categories, items and remarks, collection calendars and their rules, holidays, reminders."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chatbot.collection import RuleSyntaxError, parse_rule
from municipalities import jp
from municipalities.models import MunicipalityOwned, TimeStampedModel


class GarbageCategory(TimeStampedModel, MunicipalityOwned):
    """A garbage category (可燃ごみ, 不燃ごみ, 資源 …) as in the town's 5374 ``description.csv``.

    Items are sorted into categories; an area's calendar says on which days each category is
    collected. A category without a calendar column (粗大ごみ, 受入れできないもの) has no
    regular collection day.
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_categories",
    )
    label = models.CharField(_("分類名"), max_length=100)
    sublabel = models.CharField(_("補足"), max_length=100, blank=True)
    description = models.TextField(_("説明"), blank=True)
    color = models.CharField(_("色"), max_length=16, blank=True, help_text=_("#RRGGBB 形式。"))
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("ごみの分類")
        verbose_name_plural = _("ごみの分類")
        ordering = ["municipality_id", "sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "label"], name="chatbot_garbagecategory_label_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class GarbageItem(TimeStampedModel, MunicipalityOwned):
    """One entry of the sorting dictionary (``target.csv``): 「乾電池」→ 有害ごみ, with a notice.

    ``kana`` is the reading in hiragana used by the chatbot to match 「かんでんち」; it is
    generated at import (the 5374 furigana column is usually just the index letter).
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_items",
    )
    category = models.ForeignKey(
        GarbageCategory, verbose_name=_("分類"), on_delete=models.CASCADE, related_name="items"
    )
    name = models.CharField(_("品目"), max_length=200)
    notice = models.TextField(_("注意事項"), blank=True)
    kana = models.CharField(
        _("よみ"), max_length=400, blank=True, help_text=_("ひらがなの読み。チャットでの照合に使います。")
    )
    index_letter = models.CharField(_("索引"), max_length=8, blank=True)

    class Meta:
        verbose_name = _("ごみの品目")
        verbose_name_plural = _("ごみの品目")
        ordering = ["municipality_id", "kana", "pk"]
        # "import" is the right to replace the town's garbage data (5374 files).
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        constraints = [
            # An item may be listed under two categories (紙製 / プラ製), but once per category.
            models.UniqueConstraint(
                fields=["municipality", "category", "name"], name="chatbot_garbageitem_once_per_category"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GarbageRemark(TimeStampedModel, MunicipalityOwned):
    """A numbered remark (``remarks.csv``) referred to from a calendar cell as ``*1``."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_remarks",
    )
    number = models.PositiveIntegerField(_("番号"))
    text = models.TextField(_("内容"))

    class Meta:
        verbose_name = _("収集日の注意事項")
        verbose_name_plural = _("収集日の注意事項")
        ordering = ["municipality_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "number"], name="chatbot_garbageremark_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"*{self.number}"


class CenterHoliday(TimeStampedModel, MunicipalityOwned):
    """A period in which a collection center (清掃センター) does not collect (``center.csv``).

    As in the 5374 app, collection days inside the period are cancelled; a town that moves them
    to the first day after the period instead sets the policy to 「振替」. 「1 週ずらし」 is the 5374
    app's ``WeekShift`` (金沢の仕様, ``setting.js``): in the month of the period, a weekday's
    collection that falls inside it and every later one of that weekday in the month move one
    week on (a 「第1金曜」 in a holiday is collected on the next Friday, the 「第2」 a week later).
    """

    class Policy(models.TextChoices):
        CANCEL = "cancel", _("休止（収集なし）")
        SHIFT = "shift", _("振替（休止明けに収集）")
        WEEK = "week", _("1 週ずらし（5374 の WeekShift）")

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_center_holidays",
    )
    center = models.CharField(_("センター"), max_length=100)
    starts_on = models.DateField(_("休止開始日"))
    ends_on = models.DateField(_("休止終了日"))
    policy = models.CharField(_("休止中の扱い"), max_length=8, choices=Policy.choices, default=Policy.CANCEL)

    class Meta:
        verbose_name = _("センターの休止期間")
        verbose_name_plural = _("センターの休止期間")
        ordering = ["municipality_id", "center", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="chatbot_centerholiday_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(policy__in=["cancel", "shift", "week"]),
                name="chatbot_centerholiday_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.center} {self.starts_on:%Y/%m/%d}〜{self.ends_on:%Y/%m/%d}"


class AreaCalendar(TimeStampedModel, MunicipalityOwned):
    """The collection calendar of one area (one row of ``area_days.csv``)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_area_calendars",
    )
    area = models.OneToOneField(
        "municipalities.Area",
        verbose_name=_("地区"),
        on_delete=models.CASCADE,
        related_name="garbage_calendar",
    )
    center = models.CharField(
        _("センター"), max_length=100, blank=True, help_text=_("休止期間を適用するセンター名。")
    )

    class Meta:
        verbose_name = _("地区の収集日")
        verbose_name_plural = _("地区の収集日")
        ordering = ["municipality_id", "area__sort_order", "area__name"]

    def __str__(self) -> str:
        return str(self.area_id)


class CollectionRule(TimeStampedModel, MunicipalityOwned):
    """When one category is collected in one area: the 5374 cell as written (「火2 金4:4 6 8」)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_collection_rules",
    )
    calendar = models.ForeignKey(
        AreaCalendar, verbose_name=_("地区"), on_delete=models.CASCADE, related_name="rules"
    )
    category = models.ForeignKey(
        GarbageCategory, verbose_name=_("分類"), on_delete=models.CASCADE, related_name="rules"
    )
    rule = models.CharField(
        _("収集日"),
        max_length=300,
        help_text=_(
            "5374 形式: 曜日「月 木」、第n曜日「火2」「2土」、月指定「金4:4 6 8」、日付「20240301」。"
        ),
    )

    class Meta:
        verbose_name = _("収集日の規則")
        verbose_name_plural = _("収集日の規則")
        ordering = ["calendar_id", "category__sort_order"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "category"], name="chatbot_collectionrule_once_per_category"
            ),
        ]

    def __str__(self) -> str:
        return self.rule

    def clean(self) -> None:
        self.rule = jp.normalise_text(self.rule)
        try:
            parse_rule(self.rule)
        except RuleSyntaxError as exc:
            raise ValidationError({"rule": str(exc)}) from None


class GarbageReminder(TimeStampedModel, MunicipalityOwned):
    """The nightly reminder of one resident for one collection day, claimed before sending.

    The unique (resident, collection_on) row makes the reminder go out once per resident and day
    even when the beat task runs twice; ``sent_at`` stays empty until LINE accepted it.
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_reminders",
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.CASCADE,
        related_name="garbage_reminders",
    )
    collection_on = models.DateField(_("収集日"))
    categories = models.JSONField(_("分類"), default=list)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("ごみ収集日の通知")
        verbose_name_plural = _("ごみ収集日の通知")
        ordering = ["-collection_on", "resident_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "collection_on"], name="chatbot_garbagereminder_once_per_day"
            ),
        ]
        indexes = [
            # garbage_reminder_send_task re-runs: reminders claimed but not yet accepted by LINE.
            models.Index(
                fields=["collection_on"],
                condition=Q(sent_at__isnull=True),
                name="chatbot_reminder_unsent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.collection_on:%Y-%m-%d}"
