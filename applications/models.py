"""Electronic applications (電子申請): forms and their fields, submissions, attachments.

A submission's fee is paid through the core's payments (``municipalities.models.Payment``).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.storage import get_private_storage
from applications.workflow import LIVE_STATUSES, SubmissionStatus
from municipalities.models import DepartmentOwned, PaymentMethod, PaymentStatus, TimeStampedModel


class ApplicationForm(TimeStampedModel, DepartmentOwned):
    """An application form (申請フォーム) that residents fill in on LINE.

    It belongs to a department, is open between its dates while published, may charge a fee
    (paid online or at the counter before staff review it), and has ordered fields. Closing a
    form stops new submissions and keeps the existing ones.
    """

    head_only_actions: ClassVar[frozenset[str]] = frozenset()

    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="application_forms",
        help_text=_("このフォームと申請を管理する課です。"),
    )
    title = models.CharField(_("フォーム名"), max_length=100)
    description = models.TextField(
        _("説明"), blank=True, help_text=_("フォームの先頭に表示します。必要なもの・注意事項など。")
    )
    is_published = models.BooleanField(
        _("公開する"), default=False, help_text=_("オンで、受付期間中は住民が申請できます。")
    )
    opens_at = models.DateTimeField(_("受付開始"), null=True, blank=True, help_text=_("空欄はすぐに開始。"))
    closes_at = models.DateTimeField(_("受付終了"), null=True, blank=True, help_text=_("空欄は期限なし。"))
    closed_at = models.DateTimeField(
        _("締切日時"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("「受付を締め切る」操作をした日時。"),
    )
    fee = models.PositiveIntegerField(
        _("手数料（円）"), default=0, help_text=_("0 は無料。有料のときは支払いを確認してから審査します。")
    )
    payment_methods = models.JSONField(
        _("支払方法"), default=list, blank=True, help_text=_("有料のとき、住民が選べる支払方法。")
    )
    completion_message = models.TextField(
        _("申請後のメッセージ"),
        blank=True,
        help_text=_("申請完了の画面と LINE のお知らせに表示します（例: 交付までの日数、受け取り方法）。"),
    )
    one_per_resident = models.BooleanField(
        _("1人1件まで"),
        default=False,
        help_text=_("オンにすると、取下げ・却下以外の申請がある住民は新しく申請できません。"),
    )
    copied_from = models.ForeignKey(
        "self",
        verbose_name=_("コピー元"),
        on_delete=models.SET_NULL,
        related_name="copies",
        null=True,
        blank=True,
        editable=False,
    )

    class Meta:
        verbose_name = _("申請フォーム")
        verbose_name_plural = _("申請フォーム")
        ordering = ["department_id", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__isnull=True)
                | Q(opens_at__isnull=True)
                | Q(closes_at__gt=models.F("opens_at")),
                name="applications_applicationform_closes_after_opens",
            ),
        ]
        indexes = [
            # forms_open_for_resident(): published forms of a town.
            models.Index(fields=["department", "is_published"], name="app_form_published_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return f"<ApplicationForm {self.pk} {self.title!r}>"

    def is_accepting(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.is_published
            and self.closed_at is None
            and (self.opens_at is None or self.opens_at <= now)
            and (self.closes_at is None or now < self.closes_at)
        )

    def acceptance_label(self) -> str:
        now = timezone.now()
        if self.closed_at is not None:
            return str(_("締切済み"))
        if not self.is_published:
            return str(_("非公開"))
        if self.opens_at and now < self.opens_at:
            return str(_("受付前"))
        if self.closes_at and now >= self.closes_at:
            return str(_("受付終了"))
        return str(_("受付中"))


class FieldKind(models.TextChoices):
    SHORT_TEXT = "short_text", _("1行テキスト")
    LONG_TEXT = "long_text", _("複数行テキスト")
    NUMBER = "number", _("数値")
    EMAIL = "email", _("メールアドレス")
    PHONE = "phone", _("電話番号")
    POSTAL_CODE = "postal_code", _("郵便番号")
    ADDRESS = "address", _("住所")
    DATE = "date", _("日付")
    SINGLE_CHOICE = "single_choice", _("単一選択（ラジオボタン）")
    MULTIPLE_CHOICE = "multiple_choice", _("複数選択（チェックボックス）")
    DROPDOWN = "dropdown", _("プルダウン")
    FILE = "file", _("ファイル添付")
    FURIGANA = "furigana", _("フリガナ")
    CONSENT = "consent", _("同意チェック")
    EXPLANATION = "explanation", _("説明文（入力なし）")


class DateRange(models.TextChoices):
    ANY = "", _("制限なし")
    PAST = "past", _("今日以前（生年月日など）")
    FUTURE = "future", _("今日より後（収集日・希望日など）")


class FileType(models.TextChoices):
    PDF = "pdf", _("PDF")
    JPEG = "jpeg", _("JPEG 画像")
    PNG = "png", _("PNG 画像")
    HEIC = "heic", _("HEIC 画像（iPhone）")
    GIF = "gif", _("GIF 画像")


class FormField(TimeStampedModel):
    """One question of a form, in order. Staff-only fields are hidden from residents."""

    municipality_path: ClassVar[str] = "form__department__municipality"
    department_path: ClassVar[str | None] = "form__department"
    head_only_actions: ClassVar[frozenset[str]] = frozenset()

    form = models.ForeignKey(
        ApplicationForm, verbose_name=_("フォーム"), on_delete=models.CASCADE, related_name="fields"
    )
    position = models.PositiveIntegerField(_("順番"), default=0)
    kind = models.CharField(_("種類"), max_length=20, choices=FieldKind.choices, default=FieldKind.SHORT_TEXT)
    label = models.CharField(_("項目名"), max_length=200)
    key = models.SlugField(
        _("項目キー"),
        max_length=50,
        blank=True,
        help_text=_(
            "回答の保存と出力に使う半角英数字。空欄なら自動で付けます。"
            "申請が届いた後に変えると、それまでの回答がこの項目に表示されなくなります。"
        ),
    )
    help_text = models.TextField(_("説明"), blank=True, help_text=_("入力欄の下に表示します。"))
    required = models.BooleanField(_("必須"), default=False)
    max_length = models.PositiveIntegerField(
        _("最大文字数"),
        null=True,
        blank=True,
        help_text=_("テキスト系の項目の上限。空欄は標準（1行 200、複数行 2000）。"),
    )
    staff_only = models.BooleanField(
        _("職員記入欄"), default=False, help_text=_("住民には表示せず、職員が申請の詳細画面で記入します。")
    )
    choices = models.TextField(
        _("選択肢"), blank=True, help_text=_("選択・プルダウンの選択肢を 1 行に 1 つ。")
    )
    min_choices = models.PositiveIntegerField(_("最少選択数"), null=True, blank=True)
    max_choices = models.PositiveIntegerField(_("最大選択数"), null=True, blank=True)
    file_types = models.JSONField(
        _("受け付けるファイル形式"),
        default=list,
        blank=True,
        help_text=_("ファイル添付のとき。空欄は PDF・JPEG・PNG。"),
    )
    max_file_mb = models.PositiveIntegerField(
        _("最大ファイルサイズ（MB）"), default=5, help_text=_("ファイル添付のとき、1 ファイルの上限。")
    )
    date_range = models.CharField(
        _("選べる日付"),
        max_length=8,
        choices=DateRange.choices,
        blank=True,
        default="",
        help_text=_("日付のとき。生年月日は「今日以前」、収集日・希望日は「今日より後」にします。"),
    )
    allowed_weekdays = models.CharField(
        _("選べる曜日"),
        max_length=7,
        blank=True,
        help_text=_("日付のとき、その曜日だけを受け付けます（例: 火金）。空欄はすべての曜日。"),
    )

    class Meta:
        verbose_name = _("項目")
        verbose_name_plural = _("項目")
        ordering = ["form_id", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=FieldKind.values), name="applications_formfield_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["form", "key"], condition=~Q(key=""), name="applications_formfield_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(date_range__in=DateRange.values), name="applications_formfield_date_range_valid"
            ),
            models.CheckConstraint(
                condition=Q(min_choices__isnull=True)
                | Q(max_choices__isnull=True)
                | Q(min_choices__lte=models.F("max_choices")),
                name="applications_formfield_min_lte_max",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]

    @property
    def takes_input(self) -> bool:
        return self.kind != FieldKind.EXPLANATION

    @property
    def allowed_file_types(self) -> list[str]:
        return list(self.file_types or [FileType.PDF, FileType.JPEG, FileType.PNG])


class Submission(TimeStampedModel):
    """A resident's application (申請) to one form, with its 受付番号 and status.

    Answers are stored as they were normalised (one key per field). A fee is snapshotted at
    submission; a submission with a fee waits in 支払待ち until the payment is confirmed.
    The status changes only through the workflow (workflow.py) in the services.
    """

    municipality_path: ClassVar[str] = "form__department__municipality"
    department_path: ClassVar[str | None] = "form__department"
    # Submissions are records: 編集者 process them; only 所属長 may delete one (e.g. a test entry).
    head_only_actions: ClassVar[frozenset[str]] = frozenset({"delete"})

    Status = SubmissionStatus

    form = models.ForeignKey(
        ApplicationForm, verbose_name=_("フォーム"), on_delete=models.PROTECT, related_name="submissions"
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("申請者"),
        on_delete=models.PROTECT,
        related_name="submissions",
    )
    reference = models.CharField(_("受付番号"), max_length=20, unique=True, editable=False)
    idempotency_token = models.UUIDField(
        _("送信キー"), default=uuid.uuid4, editable=False, help_text=_("二重送信を防ぐための値。")
    )
    status = models.CharField(
        _("状態"), max_length=20, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED
    )
    version = models.PositiveIntegerField(
        _("版"), default=1, editable=False, help_text=_("状態が変わるたびに増えます（通知の重複防止）。")
    )
    answers = models.JSONField(_("回答"), default=dict, blank=True)
    fee = models.PositiveIntegerField(_("手数料（円）"), default=0, editable=False)
    payment_method = models.CharField(
        _("支払方法"), max_length=20, choices=PaymentMethod.choices, blank=True, editable=False
    )
    one_per_resident = models.BooleanField(_("1人1件"), default=False, editable=False)
    submitted_at = models.DateTimeField(_("申請日時"), default=timezone.now, db_index=True, editable=False)
    paid_at = models.DateTimeField(_("支払日時"), null=True, blank=True, editable=False)
    reviewed_at = models.DateTimeField(_("審査開始日時"), null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(_("決定日時"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("完了日時"), null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("取下げ日時"), null=True, blank=True, editable=False)
    status_reason = models.TextField(
        _("理由"), blank=True, editable=False, help_text=_("要修正・却下の理由（住民に通知されます）。")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("担当者"),
        on_delete=models.SET_NULL,
        related_name="assigned_submissions",
        null=True,
        blank=True,
    )
    memo = models.TextField(_("職員メモ"), blank=True, help_text=_("住民には表示されません。"))
    # The fee's payments (a core record: municipalities.models.Payment, subject = this submission).
    payments = GenericRelation(
        "municipalities.Payment",
        content_type_field="subject_type",
        object_id_field="subject_id",
        related_query_name="submission",
    )

    class Meta:
        verbose_name = _("申請")
        verbose_name_plural = _("申請")
        ordering = ["-submitted_at", "-pk"]
        permissions = [("process_submission", "申請を処理できる")]
        default_permissions = ("add", "change", "delete", "view", "export")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubmissionStatus.values), name="applications_submission_status_valid"
            ),
            models.UniqueConstraint(
                fields=["resident", "idempotency_token"], name="applications_submission_idempotent"
            ),
            models.UniqueConstraint(
                fields=["form", "resident"],
                condition=Q(one_per_resident=True, status__in=sorted(LIVE_STATUSES)),
                name="applications_submission_one_live_per_resident",
            ),
            models.CheckConstraint(
                condition=Q(payment_method__in=[*PaymentMethod.values, ""]),
                name="applications_submission_payment_method_valid",
            ),
        ]
        indexes = [
            # submissions_for_staff() / the changelist: one form's submissions by status.
            models.Index(fields=["form", "status", "-submitted_at"], name="app_sub_form_status_idx"),
            # submissions_for_resident(): "My applications".
            models.Index(fields=["resident", "-submitted_at"], name="app_sub_resident_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    def __repr__(self) -> str:
        return f"<Submission {self.pk} {self.reference} {self.status}>"


class Attachment(TimeStampedModel):
    """A file a resident uploaded for a file field, kept in private storage.

    It is staged (no submission yet) between the form and the confirm step and attached when
    the resident submits; stale staged files are purged daily.
    """

    municipality_path: ClassVar[str] = "form__department__municipality"
    department_path: ClassVar[str | None] = "form__department"

    form = models.ForeignKey(
        ApplicationForm, verbose_name=_("フォーム"), on_delete=models.PROTECT, related_name="attachments"
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.PROTECT,
        related_name="attachments",
    )
    submission = models.ForeignKey(
        Submission,
        verbose_name=_("申請"),
        on_delete=models.CASCADE,
        related_name="attachments",
        null=True,
        blank=True,
    )
    field_key = models.CharField(_("項目キー"), max_length=50)
    file = models.FileField(_("ファイル"), storage=get_private_storage, upload_to="%Y/%m/")
    original_name = models.CharField(_("元のファイル名"), max_length=255)
    content_type = models.CharField(_("形式"), max_length=100)
    size = models.PositiveIntegerField(_("サイズ（バイト）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("添付ファイル")
        verbose_name_plural = _("添付ファイル")
        ordering = ["submission_id", "field_key", "pk"]
        indexes = [
            # attachments_purge_stale_task(): staged files left behind.
            models.Index(
                fields=["created_at"], condition=Q(submission__isnull=True), name="app_att_staged_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


__all__ = [
    "ApplicationForm",
    "Attachment",
    "FieldKind",
    "FileType",
    "FormField",
    "PaymentMethod",  # the core's, re-exported: forms and submissions name their methods with it
    "PaymentStatus",
    "Submission",
]
