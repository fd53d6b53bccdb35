"""施設, 部屋/コート, 時間枠 and 休館: what can be booked, when it is open and when it is not."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import DepartmentOwned, TimeStampedModel

WEEKDAY_LABELS = "月火水木金土日"  # index = date.weekday()


class FrameKind(models.TextChoices):
    HOURLY = "hourly", _("1時間ごと")
    BLOCKS = "blocks", _("区分（午前・午後・夜間など）")


class Facility(TimeStampedModel, DepartmentOwned):
    """A public facility residents book for their group: a gym, a community hall, a sports field.

    The owning department (教育委員会, 施設管理 …) manages its rooms, time frames, fees, closures
    and bookings. A facility decides whether a booking needs staff approval (申請 → 承認/却下),
    how residents may pay (online and/or at the counter), how long they have to pay once a
    booking is approved or won in the lottery, how many bookings one group may hold per month,
    and its cancellation rule: free until N days before the day of use, a fee of a percentage of
    the total after that (the rest is refunded).
    """

    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="facilities",
        help_text=_("この施設を管理する課です。"),
    )
    name = models.CharField(_("施設名"), max_length=100)
    kana = models.CharField(_("施設名（フリガナ）"), max_length=100, blank=True)
    address = models.CharField(_("所在地"), max_length=200, blank=True)
    notes = models.TextField(
        _("利用上の注意"), blank=True, help_text=_("予約の画面で住民に表示します（駐車場、持ち物など）。")
    )
    is_published = models.BooleanField(
        _("公開"),
        default=True,
        help_text=_("オフにすると LINE の施設一覧に表示しません（既存の予約は残ります）。"),
    )
    sort_order = models.PositiveSmallIntegerField(_("表示順"), default=0)
    frame_kind = models.CharField(
        _("時間枠の種類"),
        max_length=10,
        choices=FrameKind.choices,
        default=FrameKind.BLOCKS,
        help_text=_(
            "1時間ごとに区切るか、午前・午後・夜間のような区分で貸すか。枠は「時間枠」で設定します。"
        ),
    )
    open_weekdays = models.CharField(
        _("開館曜日"),
        max_length=7,
        default="0123456",
        help_text=_("開館する曜日（0=月 … 6=日）。例: 火〜日曜開館なら 123456。"),
    )
    closed_on_holidays = models.BooleanField(_("祝日は休館"), default=False)
    closed_year_end = models.BooleanField(_("年末年始（12/29〜1/3）は休館"), default=True)
    requires_approval = models.BooleanField(
        _("承認が必要"),
        default=False,
        help_text=_("オンにすると、予約は「申請中」になり、職員が承認して確定します。"),
    )
    booking_opens_days_before = models.PositiveSmallIntegerField(
        _("予約の受付開始（何日前から）"), default=60, help_text=_("利用日の何日前から予約を受け付けるか。")
    )
    booking_closes_days_before = models.PositiveSmallIntegerField(
        _("予約の受付終了（何日前まで）"), default=1, help_text=_("0 にすると当日まで受け付けます。")
    )
    pay_online = models.BooleanField(_("オンライン決済で支払える"), default=True)
    pay_at_counter = models.BooleanField(_("窓口で支払える"), default=True)
    payment_due_days = models.PositiveSmallIntegerField(
        _("支払期限（日数）"),
        default=7,
        help_text=_(
            "承認・当選から何日以内に支払うか（利用日の前日を過ぎることはありません）。"
            "期限までに支払がない予約は失効し、枠は空きに戻ります。"
        ),
    )
    cancel_free_days_before = models.PositiveSmallIntegerField(
        _("無料で取り消せる期限（何日前まで）"),
        default=7,
        help_text=_("利用日のこの日数前までの取消は全額返金します。"),
    )
    cancel_fee_percent = models.PositiveSmallIntegerField(
        _("期限後の取消手数料（%）"),
        default=100,
        validators=[MaxValueValidator(100)],
        help_text=_("期限を過ぎた取消で返金しない割合。100 なら返金なし、50 なら半額を返金します。"),
    )
    monthly_limit_per_group = models.PositiveSmallIntegerField(
        _("1団体の月あたり予約上限"),
        default=0,
        help_text=_("1つの団体がこの施設で1か月に持てる予約の数（0 は上限なし）。抽選の申込にも使います。"),
    )

    class Meta:
        verbose_name = _("施設")
        verbose_name_plural = _("施設")
        ordering = ["sort_order", "name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(frame_kind__in=FrameKind.values), name="facilities_facility_frame_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(cancel_fee_percent__lte=100), name="facilities_facility_cancel_fee_lte_100"
            ),
            models.CheckConstraint(
                condition=Q(pay_online=True) | Q(pay_at_counter=True),
                name="facilities_facility_some_payment_method",
            ),
            models.UniqueConstraint(fields=["department", "name"], name="facilities_facility_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Facility {self.pk} {self.name}>"

    def is_open_weekday(self, day: dt.date) -> bool:
        return str(day.weekday()) in self.open_weekdays

    @property
    def open_weekdays_label(self) -> str:
        return "・".join(WEEKDAY_LABELS[int(d)] for d in sorted(set(self.open_weekdays)) if d.isdigit())


class Room(TimeStampedModel):
    """A room or court of a facility (アリーナA, 会議室 …): the unit a booking is for.

    An exclusive room (専用) is lent to one group per time frame; its ``capacity`` is the most
    people that group may bring. A shared room (共用, e.g. a training room) takes several bookings
    in the same frame until their people add up to ``capacity``.
    """

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    facility = models.ForeignKey(
        Facility, verbose_name=_("施設"), on_delete=models.PROTECT, related_name="rooms"
    )
    name = models.CharField(_("部屋・コート名"), max_length=100)
    is_exclusive = models.BooleanField(
        _("専用（1枠1団体）"),
        default=True,
        help_text=_("オフにすると共用になり、同じ枠に定員まで複数の予約を受け付けます。"),
    )
    capacity = models.PositiveIntegerField(
        _("定員（人）"),
        default=50,
        help_text=_("専用なら1団体の利用人数の上限、共用なら1枠の合計人数の上限。"),
    )
    is_active = models.BooleanField(_("受付中"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("部屋・コート")
        verbose_name_plural = _("部屋・コート")
        ordering = ["facility_id", "sort_order", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "name"], name="facilities_room_name_unique"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="facilities_room_capacity_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Room {self.pk} facility={self.facility_id} {self.name}>"


class TimeFrame(TimeStampedModel):
    """A time frame a facility lends its rooms in: 午前 9:00–12:00, or one hour 9:00–10:00.

    Frames are the same for every room of the facility. Fees are set per room and frame
    (``Rate``); a booking copies the frame's times, so changing a frame later does not move
    existing bookings.
    """

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    facility = models.ForeignKey(
        Facility, verbose_name=_("施設"), on_delete=models.PROTECT, related_name="frames"
    )
    name = models.CharField(_("区分名"), max_length=30, help_text=_("例: 午前、午後、夜間、9時"))
    starts_at = models.TimeField(_("開始時刻"))
    ends_at = models.TimeField(_("終了時刻"))
    is_active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("時間枠")
        verbose_name_plural = _("時間枠")
        ordering = ["facility_id", "starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="facilities_timeframe_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["facility", "starts_at"], name="facilities_timeframe_start_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"

    def __repr__(self) -> str:
        return f"<TimeFrame {self.pk} facility={self.facility_id} {self.starts_at}-{self.ends_at}>"


class ClosureStatus(models.TextChoices):
    PLANNED = "planned", _("予定（予約はまだ取り消していません）")
    CONFIRMED = "confirmed", _("確定（予約を取り消し、通知しました）")
    WITHDRAWN = "withdrawn", _("取りやめ")


class Closure(TimeStampedModel):
    """An ad-hoc closure of a facility or one room (点検・工事・行事): no bookings in the period.

    Entered as 予定: from then on nobody can book the period, but existing bookings stay until a
    member of staff confirms the closure; confirming cancels them (refunding what was paid) and
    tells the residents by LINE. Public holidays and 年末年始 are not entered here: they are the
    facility's settings.
    """

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    Status = ClosureStatus

    facility = models.ForeignKey(
        Facility, verbose_name=_("施設"), on_delete=models.PROTECT, related_name="closures"
    )
    room = models.ForeignKey(
        Room,
        verbose_name=_("部屋・コート"),
        on_delete=models.PROTECT,
        related_name="closures",
        null=True,
        blank=True,
        help_text=_("空欄なら施設全体が休館です。"),
    )
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了日"))
    reason = models.CharField(
        _("理由"), max_length=200, help_text=_("住民への通知にも使います（例: 床の改修工事）。")
    )
    status = models.CharField(
        _("状態"), max_length=16, choices=ClosureStatus.choices, default=ClosureStatus.PLANNED
    )
    confirmed_at = models.DateTimeField(_("確定日時"), null=True, blank=True, editable=False)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("確定した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    cancelled_bookings = models.PositiveIntegerField(_("取り消した予約の数"), default=0, editable=False)

    class Meta:
        verbose_name = _("臨時休館")
        verbose_name_plural = _("臨時休館")
        ordering = ["-starts_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ClosureStatus.values), name="facilities_closure_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="facilities_closure_ends_after_start"
            ),
        ]
        indexes = [
            # facility_closed_reason() / frames_for_week(): closures of a facility around a date.
            models.Index(fields=["facility", "ends_on"], name="fac_closure_facility_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on:%Y/%m/%d}–{self.ends_on:%m/%d} {self.reason}"

    def __repr__(self) -> str:
        return (
            f"<Closure {self.pk} facility={self.facility_id} {self.starts_on}..{self.ends_on} {self.status}>"
        )
