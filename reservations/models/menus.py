"""予約メニュー: what can be booked, by whom, with which questions and reminders."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities import jp
from municipalities.models import DepartmentOwned, TimeStampedModel
from reservations.questions import parse_question_line

IMPORT_EXPORT_PERMISSIONS = ("add", "change", "delete", "view", "import", "export")


@dataclass(frozen=True)
class ReminderOffset:
    """One line of 「リマインダー」: N日前 HH:MM (a fixed time) or N時間前 (relative)."""

    key: str  # stable id used in the delivery row and the retry key: "1d18:00", "2h"
    days: int = 0
    at: dt.time | None = None
    hours: int = 0

    def due_at(self, starts_at: dt.datetime) -> dt.datetime:
        if self.at is not None:
            local = timezone.localtime(starts_at)
            day = local.date() - dt.timedelta(days=self.days)
            return timezone.make_aware(dt.datetime.combine(day, self.at))
        return starts_at - dt.timedelta(hours=self.hours)

    @property
    def label(self) -> str:
        if self.at is not None:
            return f"{self.days}日前 {self.at:%H:%M}"
        return f"{self.hours}時間前"


_OFFSET_DAYS = re.compile(r"^(\d{1,2})\s*日前\s*(\d{1,2}):(\d{2})$")


_OFFSET_HOURS = re.compile(r"^(\d{1,3})\s*時間前$")


def parse_reminder_offsets(text: str) -> list[ReminderOffset]:
    offsets: list[ReminderOffset] = []
    for raw in text.splitlines():
        line = jp.normalise_text(raw).replace("前日", "1日前")
        if not line:
            continue
        m = _OFFSET_DAYS.match(line)
        if m:
            days, hour, minute = (int(g) for g in m.groups())
            if hour > 23 or minute > 59:
                raise ValidationError(
                    _("リマインダーの時刻「%(line)s」が正しくありません。"), params={"line": raw}
                )
            offsets.append(
                ReminderOffset(key=f"{days}d{hour:02d}:{minute:02d}", days=days, at=dt.time(hour, minute))
            )
            continue
        m = _OFFSET_HOURS.match(line)
        if m:
            offsets.append(ReminderOffset(key=f"{int(m.group(1))}h", hours=int(m.group(1))))
            continue
        raise ValidationError(
            _("リマインダー「%(line)s」を読み取れません（例: 「1日前 18:00」「2時間前」）。"),
            params={"line": raw},
        )
    return offsets


def parse_questions(text: str) -> list[dict[str, object]]:
    """One question a line; a leading ＊ or * makes it required; 「質問: 選択肢1/選択肢2」 gives choices;
    a tag at the end (「[かな]」「[数字]」「[日付]」) gives the kind (see reservations/questions.py)."""

    questions = []
    for i, raw in enumerate(text.splitlines()):
        line = jp.normalise_text(raw)
        if not line:
            continue
        required = line.startswith("*")
        line = line.lstrip("*").strip()
        label, _sep, rest = line.partition(":")
        choices = [c.strip() for c in rest.split("/") if c.strip()] if rest else []
        label, kind = parse_question_line(label.strip(), choices)
        questions.append(
            {"key": f"q{i}", "label": label, "required": required, "choices": choices, "kind": kind}
        )
    return questions


class Menu(TimeStampedModel, DepartmentOwned):
    """A service residents book (予約メニュー): 乳幼児歯科健診, 集団健診, 体育館 ….

    It belongs to one department and holds the booking rules: when booking opens and closes,
    until when a booking may be cancelled or changed, how many active bookings one resident
    may hold, the questions asked when booking and when reminders go out. Its slots
    (dates, times and capacity) are added by import, by a pattern, or one by one.
    """

    head_only_actions: ClassVar[frozenset[str]] = frozenset({"approve"})

    name = models.CharField(
        _("メニュー名"), max_length=100, help_text=_("住民に表示されます（例: 乳幼児歯科健診）。")
    )
    description = models.TextField(
        _("説明"), blank=True, help_text=_("対象者・持ち物など、予約前に住民が読む説明です。")
    )
    venues = models.TextField(
        _("会場"),
        blank=True,
        help_text=_("1 行に 1 会場。枠の取込ではこの名前と照合します（空欄ならどの会場でも可）。"),
    )
    opens_days_before = models.PositiveIntegerField(
        _("受付開始（何日前から）"), default=30, help_text=_("枠の日の何日前の 0:00 から予約できるか。")
    )
    closes_hours_before = models.PositiveIntegerField(
        _("受付締切（何時間前まで）"),
        default=24,
        help_text=_("開始時刻の何時間前で住民の予約を締め切るか。職員の代理予約は締切後も可能です。"),
    )
    window_in_business_days = models.BooleanField(
        _("受付開始を開庁日で数える"),
        default=False,
        help_text=_("オンにすると「何日前」を土日・祝日を除いた開庁日で数えます。"),
    )
    cancel_deadline_hours = models.PositiveIntegerField(
        _("キャンセル・変更の締切（何時間前まで）"),
        default=24,
        help_text=_("これを過ぎると住民は自分でキャンセル・変更できません。"),
    )
    max_active_per_resident = models.PositiveIntegerField(
        _("1 人が持てる予約数（このメニュー）"), default=1, help_text=_("これからの予約の上限。0 は無制限。")
    )
    max_per_resident_per_day = models.PositiveIntegerField(
        _("1 人 1 日あたりの予約数"), default=1, help_text=_("同じ日に持てる予約の上限。0 は無制限。")
    )
    questions = models.TextField(
        _("予約時の質問"),
        blank=True,
        help_text=_(
            "1 行に 1 問。先頭に * を付けると必須。「お子さんの月齢: 1歳半/3歳」のようにコロンの後に / 区切りで選択肢。"
        ),
    )
    reminder_offsets = models.TextField(
        _("リマインダー"),
        blank=True,
        default="1日前 18:00\n2時間前",
        help_text=_("1 行に 1 つ。「1日前 18:00」（前日の 18 時）や「2時間前」。空欄なら送りません。"),
    )
    confirmation_text = models.TextField(
        _("予約確定メッセージ"),
        blank=True,
        help_text=_("予約確定の LINE メッセージの最後に添える案内（持ち物など）。"),
    )
    is_suspended = models.BooleanField(
        _("受付を停止中"), default=False, help_text=_("オンの間は新しい予約を受け付けません。")
    )
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)
    eligible_age_from_months = models.PositiveIntegerField(
        _("対象年齢（から・月数）"),
        null=True,
        blank=True,
        help_text=_(
            "枠の日にこの月齢以上の人だけが予約できます（1歳6か月なら 18、65歳なら 780）。空欄なら制限なし。"
        ),
    )
    eligible_age_until_months = models.PositiveIntegerField(
        _("対象年齢（未満・月数）"),
        null=True,
        blank=True,
        help_text=_("枠の日にこの月齢未満の人だけが予約できます（2歳未満なら 24）。空欄なら制限なし。"),
    )
    eligible_areas = models.ManyToManyField(
        "municipalities.Area",
        verbose_name=_("対象地区"),
        related_name="eligible_menus",
        blank=True,
        help_text=_("選んだ地区の住民（とその家族）だけが予約できます。空欄ならどの地区でも可。"),
    )
    waitlist_enabled = models.BooleanField(
        _("キャンセル待ちを受け付ける"),
        default=True,
        help_text=_("満席の枠に住民がキャンセル待ちを登録できます。"),
    )
    waitlist_hold_minutes = models.PositiveIntegerField(
        _("キャンセル待ちの確保時間（分）"),
        default=30,
        help_text=_(
            "空きが出たとき、順番の来た人のためにこの時間だけ席を確保し、過ぎたら次の人に案内します。"
        ),
    )
    waitlist_auto_book = models.BooleanField(
        _("キャンセル待ちを自動で予約する"),
        default=False,
        help_text=_("オンにすると、空きが出たとき順番の来た人をそのまま予約し、LINE で知らせます。"),
    )

    class Meta:
        verbose_name = _("予約メニュー")
        verbose_name_plural = _("予約メニュー")
        ordering = ["department_id", "sort_order", "pk"]
        default_permissions = IMPORT_EXPORT_PERMISSIONS
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="reservations_menu_name_unique"),
            models.CheckConstraint(
                condition=Q(eligible_age_from_months__isnull=True)
                | Q(eligible_age_until_months__isnull=True)
                | Q(eligible_age_from_months__lt=F("eligible_age_until_months")),
                name="reservations_menu_age_range_valid",
            ),
            models.CheckConstraint(
                condition=Q(waitlist_hold_minutes__gte=1), name="reservations_menu_waitlist_hold_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Menu {self.pk} {self.name}>"

    def clean(self) -> None:
        errors = {}
        try:
            parse_reminder_offsets(self.reminder_offsets)
        except ValidationError as exc:
            errors["reminder_offsets"] = exc
        if errors:
            raise ValidationError(errors)

    @property
    def venue_list(self) -> list[str]:
        return [jp.normalise_text(v) for v in self.venues.splitlines() if jp.normalise_text(v)]

    @property
    def offsets(self) -> list[ReminderOffset]:
        try:
            return parse_reminder_offsets(self.reminder_offsets)
        except ValidationError:
            return []

    @property
    def question_list(self) -> list[dict[str, object]]:
        return parse_questions(self.questions)
