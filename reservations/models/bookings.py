"""予約 and キャンセル待ち: a resident's (or a household member's) place in a slot, and the queue for a full one."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import TimeStampedModel
from reservations.models.menus import IMPORT_EXPORT_PERMISSIONS, Menu
from reservations.models.slots import Slot


class ReservationStatus(models.TextChoices):
    BOOKED = "booked", _("予約済")
    CANCELLED = "cancelled", _("キャンセル")
    ATTENDED = "attended", _("来場")
    NO_SHOW = "no_show", _("無断キャンセル")


ACTIVE_STATUSES = (ReservationStatus.BOOKED,)


class Reservation(TimeStampedModel):
    """One person's booking of one place in a slot.

    Booked by a resident in LINE, or by staff on the phone (代理予約): then ``booked_by`` is the
    staff member, and either a resident was picked or name/kana/phone were written down. The
    ``code`` is what residents read out on the phone. Only 予約済 bookings hold a place.
    """

    municipality_path: ClassVar[str] = "slot__menu__department__municipality"
    department_path: ClassVar[str | None] = "slot__menu__department"

    Status = ReservationStatus

    slot = models.ForeignKey(
        Slot, verbose_name=_("予約枠"), on_delete=models.PROTECT, related_name="reservations"
    )
    menu = models.ForeignKey(
        Menu,
        verbose_name=_("予約メニュー"),
        on_delete=models.PROTECT,
        related_name="reservations",
        editable=False,
        help_text=_("枠のメニュー（上限の集計用に複写）。"),
    )
    slot_date = models.DateField(
        _("予約日"), editable=False, help_text=_("枠の日付（1 日あたりの上限の集計用に複写）。")
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.PROTECT,
        related_name="reservations",
        null=True,
        blank=True,
    )
    member = models.ForeignKey(
        "municipalities.HouseholdMember",
        verbose_name=_("予約する家族"),
        on_delete=models.PROTECT,
        related_name="reservations",
        null=True,
        blank=True,
        editable=False,
        help_text=_("住民が家族（子どもなど）のために予約したとき、その家族。空欄なら住民本人の予約です。"),
    )
    name = models.CharField(_("氏名"), max_length=100, blank=True, help_text=_("電話予約のときの氏名。"))
    kana = models.CharField(_("フリガナ"), max_length=100, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True, help_text=_("数字のみで保存します。"))
    birth_date = models.DateField(
        _("生年月日"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("電話予約で対象年齢を確かめたときに伺った、来る方の生年月日。"),
    )
    code = models.CharField(_("予約番号"), max_length=12, editable=False)
    status = models.CharField(
        _("状態"), max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.BOOKED
    )
    answers = models.JSONField(_("質問への回答"), default=dict, blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("代理予約した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    cancelled_at = models.DateTimeField(_("キャンセル日時"), null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("キャンセルした職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    attendance_marked_at = models.DateTimeField(_("来場記録日時"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("予約")
        verbose_name_plural = _("予約")
        ordering = ["slot__starts_at", "pk"]
        default_permissions = IMPORT_EXPORT_PERMISSIONS
        constraints = [
            # One active booking per person and slot: the resident themselves, or each member.
            models.UniqueConstraint(
                fields=["slot", "resident"],
                condition=Q(status="booked", resident__isnull=False, member__isnull=True),
                name="reservations_reservation_one_active_per_resident_slot",
            ),
            models.UniqueConstraint(
                fields=["slot", "member"],
                condition=Q(status="booked", member__isnull=False),
                name="reservations_reservation_one_active_per_member_slot",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=True) | Q(resident__isnull=False),
                name="reservations_reservation_member_has_resident",
            ),
            models.UniqueConstraint(fields=["code"], name="reservations_reservation_code_unique"),
            models.CheckConstraint(
                condition=Q(status__in=ReservationStatus.values), name="reservations_reservation_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(resident__isnull=False) | ~Q(name=""),
                name="reservations_reservation_resident_or_name",
            ),
        ]
        indexes = [
            # per-resident limits and 「予約確認」: a resident's active bookings.
            models.Index(fields=["resident", "status", "slot_date"], name="rsv_res_resident_idx"),
            # per-phone limits for phone bookings.
            models.Index(fields=["phone", "status"], name="rsv_res_phone_idx", condition=~Q(phone="")),
            # the daily report's cancellations of a day (a booking enters it only when cancelled).
            models.Index(
                fields=["cancelled_at"], name="rsv_res_cancelled_idx", condition=Q(cancelled_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display_name}"

    def __repr__(self) -> str:
        return f"<Reservation {self.pk} {self.code} slot={self.slot_id} {self.status}>"

    @property
    def display_name(self) -> str:
        """Who comes: the caller's name, the household member, or the resident (select_related them)."""
        if self.name:
            return self.name
        if self.member_id is not None:
            return self.member.name
        if self.resident_id is not None:
            return self.resident.display_name
        return ""

    @property
    def is_active(self) -> bool:
        return self.status == ReservationStatus.BOOKED


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("順番待ち")
    OFFERED = "offered", _("案内中（席を確保）")
    BOOKED = "booked", _("予約済")
    EXPIRED = "expired", _("期限切れ")
    LEFT = "left", _("取り下げ")


WAITLIST_OPEN = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(TimeStampedModel):
    """A person waiting for a place (キャンセル待ち): in one full slot, or in any slot of a full day.

    The person is a resident (or a household member they book for), who joins in LINE, or a
    caller that staff put on the list on the phone (name, kana, phone; no LINE account).
    Entries are served in the order they were made: when a place frees up in a slot (a
    cancellation, a change away, more capacity, a slot reopened), the first entry waiting for
    that slot or for its whole day (``whole_day``) is offered it. The place is counted in the
    slot's ``reserved`` while the offer lasts (``hold_until``), so nobody else can take it; a
    resident gets a LINE push with a button, a caller is phoned by staff (the entry shows 案内中
    on the roster). Accepting turns the held place into a booking; when the hold runs out the
    beat marks the entry 期限切れ once, tells the resident, and offers the place to the next in
    line (or frees it). With the menu's 自動予約 a resident's place is booked at once.
    """

    municipality_path: ClassVar[str] = "menu__department__municipality"
    department_path: ClassVar[str | None] = "menu__department"

    Status = WaitlistStatus

    menu = models.ForeignKey(
        Menu, verbose_name=_("予約メニュー"), on_delete=models.PROTECT, related_name="waitlist"
    )
    day = models.DateField(_("日付"), help_text=_("待っている枠の日付（その日のどの枠でもよい場合も）。"))
    whole_day = models.BooleanField(
        _("その日のどの枠でも"),
        default=False,
        help_text=_("オンの人は、その日のどの枠に空きが出ても順番に案内されます。"),
    )
    slot = models.ForeignKey(
        Slot,
        verbose_name=_("予約枠"),
        on_delete=models.PROTECT,
        related_name="waitlist",
        null=True,
        blank=True,
        help_text=_("「その日のどの枠でも」の人は、空きを案内した枠がここに入ります。"),
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        null=True,
        blank=True,
    )
    member = models.ForeignKey(
        "municipalities.HouseholdMember",
        verbose_name=_("予約する家族"),
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        null=True,
        blank=True,
    )
    name = models.CharField(_("氏名"), max_length=100, blank=True, help_text=_("電話で登録した方の氏名。"))
    kana = models.CharField(_("フリガナ"), max_length=100, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True, help_text=_("数字のみで保存します。"))
    birth_date = models.DateField(_("生年月日"), null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登録した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    status = models.CharField(
        _("状態"), max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    answers = models.JSONField(_("質問への回答"), default=dict, blank=True)
    offered_at = models.DateTimeField(_("案内日時"), null=True, blank=True)
    hold_until = models.DateTimeField(_("確保の期限"), null=True, blank=True)
    closed_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    reservation = models.ForeignKey(
        Reservation,
        verbose_name=_("予約"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("キャンセル待ち")
        verbose_name_plural = _("キャンセル待ち")
        ordering = ["day", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WaitlistStatus.values), name="reservations_waitlistentry_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="offered") | Q(hold_until__isnull=False),
                name="reservations_waitlistentry_offer_has_hold",
            ),
            # A slot entry names its slot; a whole-day entry gets one when a place is offered.
            models.CheckConstraint(
                condition=Q(whole_day=True) | Q(slot__isnull=False),
                name="reservations_waitlistentry_slot_unless_whole_day",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["offered", "booked"]) | Q(slot__isnull=False),
                name="reservations_waitlistentry_offer_has_slot",
            ),
            models.CheckConstraint(
                condition=Q(resident__isnull=False) | (~Q(name="") & Q(member__isnull=True)),
                name="reservations_waitlistentry_resident_or_caller",
            ),
            # One open entry per person and slot (the resident, each member, or a caller by phone) ...
            models.UniqueConstraint(
                fields=["slot", "resident"],
                condition=Q(status__in=["waiting", "offered"], member__isnull=True, whole_day=False),
                name="reservations_waitlistentry_one_open_per_resident",
            ),
            models.UniqueConstraint(
                fields=["slot", "member"],
                condition=Q(status__in=["waiting", "offered"], member__isnull=False, whole_day=False),
                name="reservations_waitlistentry_one_open_per_member",
            ),
            models.UniqueConstraint(
                fields=["slot", "phone"],
                condition=Q(status__in=["waiting", "offered"], resident__isnull=True, whole_day=False),
                name="reservations_waitlistentry_one_open_per_caller",
            ),
            # ... and one open whole-day entry per person, menu and day.
            models.UniqueConstraint(
                fields=["menu", "day", "resident"],
                condition=Q(status__in=["waiting", "offered"], member__isnull=True, whole_day=True),
                name="reservations_waitlistentry_one_open_day_per_resident",
            ),
            models.UniqueConstraint(
                fields=["menu", "day", "member"],
                condition=Q(status__in=["waiting", "offered"], member__isnull=False, whole_day=True),
                name="reservations_waitlistentry_one_open_day_per_member",
            ),
            models.UniqueConstraint(
                fields=["menu", "day", "phone"],
                condition=Q(status__in=["waiting", "offered"], resident__isnull=True, whole_day=True),
                name="reservations_waitlistentry_one_open_day_per_caller",
            ),
        ]
        indexes = [
            # waitlist_offer_freed(): the first one waiting for a slot.
            models.Index(
                fields=["slot", "created_at"], name="rsv_waitlist_waiting_idx", condition=Q(status="waiting")
            ),
            # waitlist_offer_freed(): the first one waiting for any slot of the slot's day.
            models.Index(
                fields=["menu", "day", "created_at"],
                name="rsv_waitlist_day_waiting_idx",
                condition=Q(status="waiting", whole_day=True),
            ),
            # waitlist_expire_holds() on beat: offers whose hold ran out.
            models.Index(
                fields=["hold_until"], name="rsv_waitlist_offered_idx", condition=Q(status="offered")
            ),
            # 「予約確認」: a resident's open entries.
            models.Index(fields=["resident", "status"], name="rsv_waitlist_resident_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} #{self.pk}"

    def __repr__(self) -> str:
        return f"<WaitlistEntry {self.pk} slot={self.slot_id} day={self.day} {self.status}>"

    @property
    def display_name(self) -> str:
        """Who waits: the caller, the household member, or the resident (select_related them)."""
        if self.name:
            return self.name
        if self.member_id is not None:
            return self.member.name
        return self.resident.display_name if self.resident_id is not None else ""
