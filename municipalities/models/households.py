"""Household members (世帯の家族): the people a resident books or applies for besides themselves."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities import jp
from municipalities.models.base import MunicipalityOwned, TimeStampedModel
from municipalities.models.residents import Resident
from municipalities.models.tenants import Municipality


class Relationship(models.TextChoices):
    SELF = "self", _("本人")
    CHILD = "child", _("子")
    SPOUSE = "spouse", _("配偶者")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孫")
    GRANDPARENT = "grandparent", _("祖父母")
    SIBLING = "sibling", _("兄弟姉妹")
    OTHER = "other", _("その他")


def age_on(birth_date: dt.date, day: dt.date) -> tuple[int, int]:
    """(years, months) completed on ``day``, as checkup notices count 月齢.

    A child born on 2024-05-10 is 1歳6か月 from 2025-11-10 on; on 2025-11-09 still 1歳5か月.
    """
    months = (day.year - birth_date.year) * 12 + (day.month - birth_date.month)
    if day.day < birth_date.day:
        months -= 1
    months = max(months, 0)
    return months // 12, months % 12


def format_age(years: int, months: int) -> str:
    return f"{years}歳{months}か月" if months else f"{years}歳"


class HouseholdMember(TimeStampedModel, MunicipalityOwned):
    """A family member a resident registered once in LINE (氏名, フリガナ, 生年月日, 続柄).

    A booking can be made for the resident or for one of these members: a child's checkup is
    booked for the child, and the child's age on the day is computed from the birth date here,
    not typed again. Only the resident adds, corrects or removes their members; staff see them on
    rosters and exports.
    """

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="household_members"
    )
    resident = models.ForeignKey(
        Resident, verbose_name=_("登録した住民"), on_delete=models.CASCADE, related_name="household_members"
    )
    name = models.CharField(_("氏名"), max_length=100)
    kana = models.CharField(_("フリガナ"), max_length=100, help_text=_("カタカナで保存します。"))
    birth_date = models.DateField(_("生年月日"))
    relationship = models.CharField(
        _("続柄"), max_length=16, choices=Relationship.choices, help_text=_("登録した住民から見た続柄です。")
    )
    is_active = models.BooleanField(
        _("登録中"),
        default=True,
        editable=False,
        help_text=_("住民が削除すると「いいえ」になります（過去の予約の記録は残ります）。"),
    )

    class Meta:
        verbose_name = _("世帯の家族")
        verbose_name_plural = _("世帯の家族")
        ordering = ["resident_id", "birth_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(relationship__in=Relationship.values),
                name="municipalities_householdmember_relationship_valid",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="municipalities_householdmember_name_set"),
            # The resident's own entry (for menus with an age rule) exists once.
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(relationship="self", is_active=True),
                name="municipalities_householdmember_one_self",
            ),
        ]
        indexes = [
            # household_members_for_resident(): a resident's registered members.
            models.Index(
                fields=["resident", "birth_date"],
                condition=Q(is_active=True),
                name="munic_household_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_relationship_display()}）"

    def __repr__(self) -> str:
        return f"<HouseholdMember {self.pk} resident={self.resident_id}>"

    def age_on(self, day: dt.date) -> tuple[int, int]:
        return age_on(self.birth_date, day)

    @property
    def birth_date_wareki(self) -> str:
        return jp.format_wareki(self.birth_date)
