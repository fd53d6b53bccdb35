"""抽選: popular frames of a month are drawn among the groups that applied, not sold at 0:00."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import TimeStampedModel

from .bookings import FacilityBooking
from .facilities import Facility, Room, TimeFrame


class LotteryRoundStatus(models.TextChoices):
    DRAFT = "draft", _("準備中")
    OPEN = "open", _("受付中")
    CLOSED = "closed", _("締切（抽選前）")
    DRAWN = "drawn", _("抽選済み")
    FINISHED = "finished", _("終了（支払期限後）")


class LotteryRound(TimeStampedModel):
    """The lottery of one facility for one month (例: 6月分の抽選).

    Staff mark frames of the month as 抽選 (``LotteryFrame``), residents apply between
    ``applications_open_at`` and ``applications_close_at`` (one application per group and
    frame, at most ``max_applications_per_group`` in the round), and at ``draw_at`` the draw
    runs once: with the recorded ``seed`` the same applications always give the same winners
    (``draw_log`` keeps what went in and what came out). Winners must pay by
    ``payment_due_at``; unpaid wins lapse and their frames return to first come, first served.
    """

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    Status = LotteryRoundStatus

    facility = models.ForeignKey(
        Facility, verbose_name=_("施設"), on_delete=models.PROTECT, related_name="lottery_rounds"
    )
    month = models.DateField(_("対象月"), help_text=_("その月の1日（例: 2026-06-01 は 6月分）。"))
    applications_open_at = models.DateTimeField(_("申込開始"))
    applications_close_at = models.DateTimeField(_("申込締切"))
    draw_at = models.DateTimeField(_("抽選日時"))
    payment_due_at = models.DateTimeField(
        _("当選者の支払期限"), help_text=_("これを過ぎて未払いの当選は失効し、枠は先着順に戻ります。")
    )
    max_applications_per_group = models.PositiveSmallIntegerField(
        _("1団体の申込上限"), default=4, help_text=_("この回に1つの団体が申し込める枠の数（0 は上限なし）。")
    )
    status = models.CharField(
        _("状態"), max_length=16, choices=LotteryRoundStatus.choices, default=LotteryRoundStatus.DRAFT
    )
    seed = models.CharField(
        _("乱数の種"), max_length=64, blank=True, editable=False, help_text=_("抽選の再現に使います。")
    )
    drawn_at = models.DateTimeField(_("抽選実施日時"), null=True, blank=True, editable=False)
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("抽選を実行した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        help_text=_("空欄なら定時の自動実行です。"),
    )
    draw_log = models.JSONField(
        _("抽選の記録"), default=dict, blank=True, editable=False, help_text=_("入力（申込の一覧）と結果。")
    )

    class Meta:
        verbose_name = _("抽選")
        verbose_name_plural = _("抽選")
        ordering = ["-month", "facility_id", "pk"]
        permissions = [("draw_lotteryround", _("抽選を実行できる"))]
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "month"], name="facilities_lotteryround_one_per_month"
            ),
            models.CheckConstraint(
                condition=Q(status__in=LotteryRoundStatus.values), name="facilities_lotteryround_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(applications_close_at__gt=F("applications_open_at")),
                name="facilities_lotteryround_window_order",
            ),
            models.CheckConstraint(
                condition=Q(draw_at__gte=F("applications_close_at")),
                name="facilities_lotteryround_draw_after_close",
            ),
            models.CheckConstraint(
                condition=Q(payment_due_at__gt=F("draw_at")),
                name="facilities_lotteryround_due_after_draw",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["drawn", "finished"]) | ~Q(seed=""),
                name="facilities_lotteryround_drawn_has_seed",
            ),
        ]
        indexes = [
            # The beat tasks: rounds to open, close, draw or finish by time.
            models.Index(fields=["status", "draw_at"], name="fac_lottery_round_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y年%-m月}分"

    def __repr__(self) -> str:
        return f"<LotteryRound {self.pk} facility={self.facility_id} {self.month:%Y-%m} {self.status}>"


class LotteryFrameStatus(models.TextChoices):
    LOTTERY = "lottery", _("抽選対象")
    DRAWN = "drawn", _("抽選済み")
    RELEASED = "released", _("先着順に戻した")


class LotteryFrame(TimeStampedModel):
    """A frame (room × day × time frame) staff marked 抽選: nobody books it first come, first
    served until the draw has given it away or released it (no applicant, or the win lapsed)."""

    municipality_path: ClassVar[str] = "round__facility__department__municipality"
    department_path: ClassVar[str | None] = "round__facility__department"

    Status = LotteryFrameStatus

    round = models.ForeignKey(
        LotteryRound, verbose_name=_("抽選"), on_delete=models.CASCADE, related_name="frames"
    )
    room = models.ForeignKey(
        Room, verbose_name=_("部屋・コート"), on_delete=models.PROTECT, related_name="lottery_frames"
    )
    frame = models.ForeignKey(
        TimeFrame, verbose_name=_("時間枠"), on_delete=models.PROTECT, related_name="lottery_frames"
    )
    use_date = models.DateField(_("利用日"))
    starts_at = models.TimeField(_("開始時刻"), editable=False)
    ends_at = models.TimeField(_("終了時刻"), editable=False)
    status = models.CharField(
        _("状態"), max_length=16, choices=LotteryFrameStatus.choices, default=LotteryFrameStatus.LOTTERY
    )

    class Meta:
        verbose_name = _("抽選枠")
        verbose_name_plural = _("抽選枠")
        ordering = ["use_date", "starts_at", "room_id", "pk"]
        constraints = [
            # The booking service asks "is this frame a lottery frame?" by this key.
            models.UniqueConstraint(
                fields=["room", "use_date", "starts_at"], name="facilities_lotteryframe_one_per_frame"
            ),
            models.CheckConstraint(
                condition=Q(status__in=LotteryFrameStatus.values), name="facilities_lotteryframe_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.use_date:%m/%d} {self.starts_at:%H:%M}"

    def __repr__(self) -> str:
        return f"<LotteryFrame {self.pk} room={self.room_id} {self.use_date} {self.starts_at} {self.status}>"


class LotteryApplicationStatus(models.TextChoices):
    APPLIED = "applied", _("申込済み")
    WON = "won", _("当選")
    LOST = "lost", _("落選")
    LAPSED = "lapsed", _("失効（期限までに未払い）")
    WITHDRAWN = "withdrawn", _("取下げ")


class LotteryApplication(TimeStampedModel):
    """A group's application for one lottery frame.

    One application per group and frame (the group as ``group_key`` counts it, so 「ＡＢＣ」 and
    「abc」 are one group); the per-round limit is checked by the application service. A win
    becomes a booking (``booking``) that must be paid by the round's deadline.
    """

    municipality_path: ClassVar[str] = "round__facility__department__municipality"
    department_path: ClassVar[str | None] = "round__facility__department"

    Status = LotteryApplicationStatus

    round = models.ForeignKey(
        LotteryRound, verbose_name=_("抽選"), on_delete=models.PROTECT, related_name="applications"
    )
    lottery_frame = models.ForeignKey(
        LotteryFrame, verbose_name=_("抽選枠"), on_delete=models.PROTECT, related_name="applications"
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.PROTECT,
        related_name="lottery_applications",
        null=True,
        blank=True,
        help_text=_("LINE で申し込んだ住民。窓口で職員が入力した申込では空欄です。"),
    )
    group_name = models.CharField(_("団体名"), max_length=100)
    group_key = models.CharField(_("団体名（照合用）"), max_length=100, editable=False)
    representative = models.CharField(_("代表者"), max_length=100)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True)
    headcount = models.PositiveIntegerField(_("人数"), default=1)
    purpose = models.CharField(_("利用目的"), max_length=200)
    is_resident_rate = models.BooleanField(_("町内料金"), default=True)
    status = models.CharField(
        _("状態"),
        max_length=16,
        choices=LotteryApplicationStatus.choices,
        default=LotteryApplicationStatus.APPLIED,
    )
    draw_rank = models.PositiveIntegerField(
        _("抽選順位"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("この枠の抽選での順位（1 が当選）。"),
    )
    booking = models.OneToOneField(
        FacilityBooking,
        verbose_name=_("予約"),
        on_delete=models.SET_NULL,
        related_name="lottery_application",
        null=True,
        blank=True,
        editable=False,
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("入力した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    notified_at = models.DateTimeField(_("結果の通知日時"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("抽選の申込")
        verbose_name_plural = _("抽選の申込")
        ordering = ["round_id", "lottery_frame_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["lottery_frame", "group_key"],
                condition=~Q(status="withdrawn"),
                name="facilities_lotteryapplication_one_per_group_frame",
            ),
            models.CheckConstraint(
                condition=Q(status__in=LotteryApplicationStatus.values),
                name="facilities_lotteryapplication_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(group_key=""), name="facilities_lotteryapplication_group_key_set"
            ),
            models.CheckConstraint(
                condition=Q(headcount__gte=1), name="facilities_lotteryapplication_headcount_positive"
            ),
        ]
        indexes = [
            # The per-round limit and the draw: a round's applications by group and status.
            models.Index(fields=["round", "group_key", "status"], name="fac_lottery_app_group_idx"),
            # 「予約確認」: a resident's applications.
            models.Index(fields=["resident", "status"], name="fac_lottery_app_resident_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.group_name}（{self.get_status_display()}）"

    def __repr__(self) -> str:
        return f"<LotteryApplication {self.pk} frame={self.lottery_frame_id} {self.group_key} {self.status}>"
