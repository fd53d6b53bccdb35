"""Calendar reservations: services (予約メニュー), their slots, and the bookings in them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities import jp
from municipalities.claims import ClaimedWork
from municipalities.models import DepartmentOwned, TimeStampedModel

from .questions import parse_question_line

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


class Slot(TimeStampedModel):
    """A bookable time at a venue with a number of places (枠).

    ``reserved`` counts the active bookings; it only changes by SQL ``F()`` updates in the
    booking services, the database refuses more than ``capacity`` (CHECK), and a reconciliation
    task recounts it every night. A closed slot keeps its bookings but takes no new ones.
    """

    municipality_path: ClassVar[str] = "menu__department__municipality"
    department_path: ClassVar[str | None] = "menu__department"

    menu = models.ForeignKey(
        Menu, verbose_name=_("予約メニュー"), on_delete=models.PROTECT, related_name="slots"
    )
    venue = models.CharField(_("会場"), max_length=100)
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    capacity = models.PositiveIntegerField(_("定員"))
    reserved = models.PositiveIntegerField(_("予約数"), default=0, editable=False)
    is_open = models.BooleanField(
        _("受付中"),
        default=True,
        help_text=_("オフにすると新しい予約を受け付けません（既存の予約は残ります）。"),
    )

    class Meta:
        verbose_name = _("予約枠")
        verbose_name_plural = _("予約枠")
        ordering = ["starts_at", "venue", "pk"]
        default_permissions = IMPORT_EXPORT_PERMISSIONS
        permissions = [("book_slot", _("代理予約・代理キャンセルができる"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved__lte=F("capacity")), name="reservations_slot_reserved_lte_capacity"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="reservations_slot_ends_after_start"
            ),
            # The natural key of the slot import: importing the same file twice creates nothing.
            models.UniqueConstraint(
                fields=["menu", "venue", "starts_at", "ends_at"], name="reservations_slot_natural_key"
            ),
        ]
        indexes = [
            # slots_for_menu / menu_availability: a menu's slots in a date range.
            models.Index(fields=["menu", "starts_at"], name="rsv_slot_menu_starts_idx"),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        end = timezone.localtime(self.ends_at)
        return f"{local:%Y/%m/%d %H:%M}–{end:%H:%M} {self.venue}"

    def __repr__(self) -> str:
        return f"<Slot {self.pk} menu={self.menu_id} {self.starts_at:%Y-%m-%d %H:%M} {self.reserved}/{self.capacity}>"

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.reserved, 0)


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


class ReminderStatus(models.TextChoices):
    PENDING = "pending", _("送信待ち")
    SENDING = "sending", _("送信中")
    SENT = "sent", _("送信済")
    SKIPPED = "skipped", _("送信せず")
    FAILED = "failed", _("失敗")


class ReminderDelivery(TimeStampedModel, ClaimedWork):
    """A reminder for one booking at one offset. The row is claimed before sending, so it goes out once.

    A worker that dies while sending leaves the row 送信中 with a heartbeat that stops; the
    minute's reminder run offers it again and the re-send carries the same retry key.
    """

    municipality_path: ClassVar[str] = "reservation__slot__menu__department__municipality"
    department_path: ClassVar[str | None] = "reservation__slot__menu__department"

    reservation = models.ForeignKey(
        Reservation, verbose_name=_("予約"), on_delete=models.CASCADE, related_name="reminders"
    )
    offset_key = models.CharField(_("タイミング"), max_length=16)
    due_at = models.DateTimeField(_("送信予定"))
    status = models.CharField(
        _("状態"), max_length=16, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    error = models.CharField(_("エラー"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("リマインダー送信")
        verbose_name_plural = _("リマインダー送信")
        ordering = ["-due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["reservation", "offset_key"], name="reservations_reminderdelivery_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReminderStatus.values),
                name="reservations_reminderdelivery_status_valid",
            ),
        ]
        indexes = [
            # reminder_claims_reoffer_stale(): the rows in 送信中 whose worker stopped heartbeating.
            models.Index(
                fields=["heartbeat_at"],
                name="reservations_reminder_sending",
                condition=Q(status="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offset_key} {self.get_status_display()}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("待機中")
    CHECKING = "checking", _("確認中")
    CHECKED = "checked", _("確認済")
    IMPORTING = "importing", _("取込中")
    DONE = "done", _("完了")
    FAILED = "failed", _("エラー")


class SlotImportJob(TimeStampedModel, DepartmentOwned, ClaimedWork):
    """An uploaded slot file: checked first (dry run), then imported on confirmation.

    Large files are processed by a Celery task that writes its progress here; the admin shows a
    progress bar from it. A worker that dies while checking or importing stops heartbeating;
    the job is then taken up again (the check from the start, the import from the checked file,
    whose transaction had rolled back), and after repeated failures it ends in エラー with
    「やり直す」 in the admin.
    """

    file = models.FileField(_("ファイル"), upload_to="reservations/imports/%Y/%m/")
    file_name = models.CharField(_("ファイル名"), max_length=255)
    status = models.CharField(
        _("状態"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("処理済み行数"), default=0)
    created_count = models.PositiveIntegerField(_("新規"), default=0)
    unchanged_count = models.PositiveIntegerField(_("変更なし"), default=0)
    errors = models.JSONField(_("エラー"), default=list, blank=True)
    preview = models.JSONField(_("プレビュー"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("取込した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
    )
    finished_at = models.DateTimeField(_("完了日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("枠の取込")
        verbose_name_plural = _("枠の取込")
        ordering = ["-created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="reservations_slotimportjob_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("順番待ち")
    OFFERED = "offered", _("案内中（席を確保）")
    BOOKED = "booked", _("予約済")
    EXPIRED = "expired", _("期限切れ")
    LEFT = "left", _("取り下げ")


WAITLIST_OPEN = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(TimeStampedModel):
    """A resident waiting for a place in a full slot (キャンセル待ち), for themselves or a family member.

    Entries are served in the order they were made. When a place frees up (a cancellation, a
    change away, more capacity), the first one waiting is offered it: the place is counted in
    the slot's ``reserved`` while the offer lasts (``hold_until``), so nobody else can take it,
    and the resident gets a LINE push with a button. Accepting turns the held place into a
    booking; when the hold runs out the beat marks the entry 期限切れ once and offers the place
    to the next in line (or frees it). With the menu's 自動予約 the place is booked at once.
    """

    municipality_path: ClassVar[str] = "slot__menu__department__municipality"
    department_path: ClassVar[str | None] = "slot__menu__department"

    Status = WaitlistStatus

    slot = models.ForeignKey(
        Slot, verbose_name=_("予約枠"), on_delete=models.PROTECT, related_name="waitlist"
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
    )
    member = models.ForeignKey(
        "municipalities.HouseholdMember",
        verbose_name=_("予約する家族"),
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        null=True,
        blank=True,
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
        ordering = ["slot_id", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WaitlistStatus.values), name="reservations_waitlistentry_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="offered") | Q(hold_until__isnull=False),
                name="reservations_waitlistentry_offer_has_hold",
            ),
            # One open entry per person and slot (the resident, or each member).
            models.UniqueConstraint(
                fields=["slot", "resident"],
                condition=Q(status__in=["waiting", "offered"], member__isnull=True),
                name="reservations_waitlistentry_one_open_per_resident",
            ),
            models.UniqueConstraint(
                fields=["slot", "member"],
                condition=Q(status__in=["waiting", "offered"], member__isnull=False),
                name="reservations_waitlistentry_one_open_per_member",
            ),
        ]
        indexes = [
            # waitlist_offer_freed(): the first one waiting for a slot.
            models.Index(
                fields=["slot", "created_at"], name="rsv_waitlist_waiting_idx", condition=Q(status="waiting")
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
        return f"<WaitlistEntry {self.pk} slot={self.slot_id} {self.status}>"
