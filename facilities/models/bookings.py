"""施設予約: a group's use of a room for a time frame on a day, its fee and its payment."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from municipalities import jp
from municipalities.models import PaymentMethod, TimeStampedModel

from .facilities import Facility, Room, TimeFrame
from .fees import Discount

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read out on the phone cannot be misheard or mistyped.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


def booking_code_new() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"F{raw[:4]}-{raw[4:]}"


def group_key_for(group_name: str) -> str:
    """The group as limits and the lottery count it: 「ＡＢＣ バレー部」 = 「abcバレー部」."""
    return jp.squash(group_name).casefold()


class BookingStatus(models.TextChoices):
    PENDING = "pending", _("申請中（承認待ち）")
    CONFIRMED = "confirmed", _("確定")
    REJECTED = "rejected", _("却下")
    CANCELLED = "cancelled", _("取消")
    LAPSED = "lapsed", _("失効")


# The statuses that hold the frame (a 申請中 booking holds it while staff decide).
ACTIVE_BOOKING_STATUSES = (BookingStatus.PENDING, BookingStatus.CONFIRMED)


class BookingPaymentState(models.TextChoices):
    NOT_REQUIRED = "none", _("支払不要（無料）")
    UNPAID = "unpaid", _("未払い")
    PAID = "paid", _("支払済み")
    REFUND_PENDING = "refund_pending", _("返金待ち")
    REFUNDED = "refunded", _("返金済み")


class BookingOrigin(models.TextChoices):
    LINE = "line", _("LINE")
    STAFF = "staff", _("窓口・電話（職員が入力）")
    BULK = "bulk", _("定期利用（一括登録）")
    LOTTERY = "lottery", _("抽選")


class FacilityBooking(TimeStampedModel):
    """One group's use of one room for one time frame on one day (施設予約).

    Booked by a resident in LINE, or entered by staff for a group that phoned or came to the
    counter (then ``resident`` may be empty), in bulk for a regular group (定期利用), or made
    from a lottery win. While 申請中 or 確定 it holds the frame: an exclusive room's frame is
    held by one booking at most (partial UNIQUE in the database), a shared room's frames by
    bookings whose people fit its capacity (checked under a row lock on the room).

    The fee is computed once when booking and stored with its breakdown (base, 減免 and its
    reason, extras, total), so a later change of rates does not change what the group owes.
    The fee is paid through the core's payments (``payments``: online or at the counter);
    ``payment_state`` is this booking's view of it. An unpaid booking whose ``payment_due_at``
    has passed lapses (失効) and the frame is free again. Cancelling follows the facility's
    rule: free until N days before, a fee after; what is to be refunded is recorded, and the
    refund itself goes through the core (所属長).
    """

    municipality_path: ClassVar[str] = "facility__department__municipality"
    department_path: ClassVar[str | None] = "facility__department"

    Status = BookingStatus
    PaymentState = BookingPaymentState
    Origin = BookingOrigin

    facility = models.ForeignKey(
        Facility,
        verbose_name=_("施設"),
        on_delete=models.PROTECT,
        related_name="bookings",
        editable=False,
        help_text=_("部屋の施設（絞り込みと集計のために複写）。"),
    )
    room = models.ForeignKey(
        Room, verbose_name=_("部屋・コート"), on_delete=models.PROTECT, related_name="bookings"
    )
    frame = models.ForeignKey(
        TimeFrame,
        verbose_name=_("時間枠"),
        on_delete=models.SET_NULL,
        related_name="bookings",
        null=True,
        blank=True,
        help_text=_("予約したときの時間枠（時刻は予約に複写してあります）。"),
    )
    use_date = models.DateField(_("利用日"))
    starts_at = models.TimeField(_("開始時刻"))
    ends_at = models.TimeField(_("終了時刻"))
    is_exclusive = models.BooleanField(
        _("専用"),
        default=True,
        editable=False,
        help_text=_("部屋が専用か（重複予約を防ぐ制約のために複写）。"),
    )
    code = models.CharField(_("予約番号"), max_length=12, editable=False)
    status = models.CharField(
        _("状態"), max_length=16, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    origin = models.CharField(
        _("受付方法"), max_length=10, choices=BookingOrigin.choices, default=BookingOrigin.LINE
    )
    series = models.CharField(
        _("定期利用の番号"),
        max_length=32,
        blank=True,
        editable=False,
        help_text=_("一括登録した定期利用の予約に共通の番号です。"),
    )

    # Who: a resident in LINE (optionally for a household member), or a group entered by staff.
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.PROTECT,
        related_name="facility_bookings",
        null=True,
        blank=True,
        help_text=_("LINE で予約した住民。窓口・電話の予約では空欄です。"),
    )
    member = models.ForeignKey(
        "municipalities.HouseholdMember",
        verbose_name=_("利用する家族"),
        on_delete=models.PROTECT,
        related_name="facility_bookings",
        null=True,
        blank=True,
        help_text=_("住民が家族の名前で予約したとき、その家族。"),
    )
    group_name = models.CharField(_("団体名"), max_length=100, blank=True, help_text=_("個人利用なら空欄。"))
    group_key = models.CharField(
        _("団体名（照合用）"),
        max_length=100,
        blank=True,
        editable=False,
        help_text=_("団体名の空白・全角半角・大文字小文字をそろえたもの（月の上限の集計用）。"),
    )
    representative = models.CharField(_("代表者"), max_length=100)
    representative_kana = models.CharField(_("代表者（フリガナ）"), max_length=100, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True, help_text=_("数字のみで保存します。"))
    headcount = models.PositiveIntegerField(_("人数"), default=1)
    purpose = models.CharField(_("利用目的"), max_length=200, help_text=_("例: バレーボールの練習"))
    is_resident_rate = models.BooleanField(
        _("町内料金"), default=True, help_text=_("オフなら町外料金で計算します。")
    )

    # The fee as computed when booking (see facilities.services.fees.fee_compute).
    base_fee = models.PositiveIntegerField(_("使用料（円）"), default=0, editable=False)
    discount = models.ForeignKey(
        Discount,
        verbose_name=_("減免"),
        on_delete=models.SET_NULL,
        related_name="bookings",
        null=True,
        blank=True,
        editable=False,
    )
    discount_name = models.CharField(_("減免の名前"), max_length=100, blank=True, editable=False)
    discount_percent = models.PositiveSmallIntegerField(_("減免率（%）"), default=0, editable=False)
    discount_reason = models.CharField(
        _("減免の理由"), max_length=200, blank=True, editable=False, help_text=_("確認した書類など。")
    )
    discount_amount = models.PositiveIntegerField(_("減免額（円）"), default=0, editable=False)
    extras_fee = models.PositiveIntegerField(_("付帯設備（円）"), default=0, editable=False)
    total_fee = models.PositiveIntegerField(_("合計（円）"), default=0, editable=False)
    fee_lines = models.JSONField(
        _("料金の内訳"), default=list, blank=True, editable=False, help_text=_("[{label, amount}, …]")
    )

    # Payment: the core's Payment rows (subject = this booking); the state is kept here too.
    payment_method = models.CharField(
        _("支払方法"), max_length=20, choices=PaymentMethod.choices, blank=True, help_text=_("無料なら空欄。")
    )
    payment_state = models.CharField(
        _("支払状況"), max_length=16, choices=BookingPaymentState.choices, default=BookingPaymentState.UNPAID
    )
    payment_due_at = models.DateTimeField(
        _("支払期限"), null=True, blank=True, help_text=_("この日時までに支払がなければ予約は失効します。")
    )
    paid_at = models.DateTimeField(_("支払日時"), null=True, blank=True, editable=False)
    payments = GenericRelation(
        "municipalities.Payment",
        content_type_field="subject_type",
        object_id_field="subject_id",
        related_query_name="facility_booking",
    )

    # Decisions and endings.
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("入力した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    decided_at = models.DateTimeField(_("承認・却下日時"), null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("承認・却下した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    rejection_reason = models.CharField(_("却下の理由"), max_length=200, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("取消日時"), null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("取り消した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    cancel_reason = models.CharField(_("取消の理由"), max_length=200, blank=True, editable=False)
    cancellation_fee = models.PositiveIntegerField(_("取消手数料（円）"), default=0, editable=False)
    refund_amount = models.PositiveIntegerField(_("返金額（円）"), default=0, editable=False)
    lapsed_at = models.DateTimeField(_("失効日時"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("施設予約")
        verbose_name_plural = _("施設予約")
        ordering = ["use_date", "starts_at", "room_id", "pk"]
        permissions = [
            ("book_facilitybooking", _("窓口・電話の予約と定期利用の一括登録ができる")),
            ("approve_facilitybooking", _("施設予約を承認・却下できる")),
        ]
        constraints = [
            # An exclusive room's frame is held by one booking at most (R4/R5: the database has
            # the last word; the booking service turns the IntegrityError into a clear message).
            models.UniqueConstraint(
                fields=["room", "use_date", "starts_at"],
                condition=Q(status__in=["pending", "confirmed"], is_exclusive=True),
                name="facilities_facilitybooking_one_active_per_exclusive_frame",
            ),
            models.UniqueConstraint(fields=["code"], name="facilities_facilitybooking_code_unique"),
            models.CheckConstraint(
                condition=Q(status__in=BookingStatus.values), name="facilities_facilitybooking_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(payment_state__in=BookingPaymentState.values),
                name="facilities_facilitybooking_payment_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(origin__in=BookingOrigin.values), name="facilities_facilitybooking_origin_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="facilities_facilitybooking_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(total_fee=F("base_fee") - F("discount_amount") + F("extras_fee")),
                name="facilities_facilitybooking_total_is_sum",
            ),
            models.CheckConstraint(
                condition=Q(discount_amount__lte=F("base_fee")),
                name="facilities_facilitybooking_discount_lte_base",
            ),
            models.CheckConstraint(
                condition=Q(discount_amount=0) | ~Q(discount_reason=""),
                name="facilities_facilitybooking_discount_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="facilities_facilitybooking_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=True) | Q(resident__isnull=False),
                name="facilities_facilitybooking_member_has_resident",
            ),
            models.CheckConstraint(
                condition=~Q(representative=""), name="facilities_facilitybooking_representative_set"
            ),
            models.CheckConstraint(
                condition=Q(headcount__gte=1), name="facilities_facilitybooking_headcount_positive"
            ),
            models.CheckConstraint(
                condition=Q(refund_amount__lte=F("total_fee")),
                name="facilities_facilitybooking_refund_lte_total",
            ),
        ]
        indexes = [
            # bookings_for_grid() and the shared-room capacity check: a facility's bookings of a day.
            models.Index(fields=["facility", "use_date"], name="fac_booking_day_idx"),
            # 「予約確認」: a resident's bookings.
            models.Index(fields=["resident", "use_date"], name="fac_booking_resident_idx"),
            # The monthly limit per group: a group's bookings at a facility in a month.
            models.Index(
                fields=["facility", "group_key", "use_date"],
                name="fac_booking_group_idx",
                condition=~Q(group_key=""),
            ),
            # bookings_lapse_unpaid() on beat: unpaid bookings whose payment deadline passed.
            models.Index(
                fields=["payment_due_at"],
                name="fac_booking_unpaid_due_idx",
                condition=Q(status__in=["pending", "confirmed"], payment_state="unpaid"),
            ),
            # the daily report's cancellations of a day (a booking enters it only when cancelled).
            models.Index(
                fields=["cancelled_at"],
                name="fac_booking_cancelled_idx",
                condition=Q(cancelled_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.use_date:%Y/%m/%d} {self.starts_at:%H:%M}"

    def __repr__(self) -> str:
        return f"<FacilityBooking {self.pk} {self.code} room={self.room_id} {self.use_date} {self.starts_at} {self.status}>"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_BOOKING_STATUSES

    @property
    def display_name(self) -> str:
        """Who uses the room: the group, or the representative."""
        return self.group_name or self.representative
