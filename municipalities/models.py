"""The tenant, its channel, its staff and its residents.

Everything else in the project hangs off these: feature apps import this module, it never
imports them.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities.fields import EncryptedTextField


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("作成日時"), default=timezone.now, db_index=True, editable=False)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        abstract = True


class MunicipalityOwned(models.Model):
    """Owned by one municipality as a whole (not by a department)."""

    # Lookup path from this model to its Municipality; read by permissions.py.
    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = None

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_set",
    )

    class Meta:
        abstract = True


class DepartmentOwned(models.Model):
    """Owned by one department (課/係); its staff manage it, others do not see it."""

    municipality_path: ClassVar[str] = "department__municipality"
    department_path: ClassVar[str | None] = "department"

    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_set",
        help_text=_("この情報を管理する課です。"),
    )

    class Meta:
        abstract = True


class Municipality(TimeStampedModel):
    """A town or city and its LINE Official Account (one channel per municipality).

    The channel secret verifies webhooks; the access token sends messages. Both are stored
    encrypted and never shown in full.
    """

    municipality_path: ClassVar[str] = ""
    department_path: ClassVar[str | None] = None

    name = models.CharField(_("自治体名"), max_length=100)
    slug = models.SlugField(
        _("識別子"),
        max_length=50,
        unique=True,
        help_text=_("URL に使う半角英数字（例: midori）。Webhook URL の一部になります。"),
    )
    prefecture = models.CharField(_("都道府県"), max_length=10, blank=True)
    line_channel_id = models.CharField(
        _("チャネルID"),
        max_length=20,
        blank=True,
        help_text=_("LINE Developers コンソールの「チャネル基本設定」にある数字です。"),
    )
    channel_secret = EncryptedTextField(
        _("チャネルシークレット"),
        blank=True,
        help_text=_("Webhook の署名検証に使います。保存後は末尾 4 文字だけ表示されます。"),
    )
    channel_access_token = EncryptedTextField(
        _("チャネルアクセストークン"),
        blank=True,
        help_text=_("メッセージ送信に使う長期トークンです。保存後は末尾 4 文字だけ表示されます。"),
    )
    liff_id = models.CharField(
        _("LIFF ID"),
        max_length=64,
        blank=True,
        help_text=_("住民向けページを LINE 内で開くための LIFF アプリの ID です。"),
    )
    require_two_factor = models.BooleanField(
        _("職員に二段階認証を必須にする"),
        default=False,
        help_text=_("オンにすると、この自治体の職員は認証アプリのワンタイムパスワードが必要になります。"),
    )
    talk_log_retention_days = models.PositiveIntegerField(
        _("トーク履歴の保存日数"),
        default=365,
        help_text=_("これより古いトーク履歴（受信した Webhook イベントを含む）は毎日自動で削除されます。"),
    )
    follow_greeting = models.TextField(
        _("友だち追加時のあいさつ"),
        blank=True,
        help_text=_("空欄のときは標準のあいさつを送ります。"),
    )
    broadcast_needs_second_approver = models.BooleanField(
        _("お知らせの承認は申請者以外が行う"),
        default=True,
        help_text=_(
            "オンにすると、お知らせを申請した職員は自分で承認できません（二人確認）。"
            "所属長による緊急のお知らせは一人で承認でき、操作履歴に記録されます。"
        ),
    )

    class Meta:
        verbose_name = _("自治体")
        verbose_name_plural = _("自治体")
        ordering = ["name"]
        permissions = [("use_simulator_municipality", _("LINE シミュレーターを使える"))]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Municipality {self.pk} {self.slug}>"


class Department(TimeStampedModel):
    """A department (課/係). It owns broadcasts, calendars, forms and FAQ; its head grants roles."""

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = ""

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="departments"
    )
    code = models.SlugField(
        _("課コード"), max_length=50, help_text=_("半角英数字の短い名前（例: kenko）。CLI と取込で使います。")
    )
    name = models.CharField(_("課名"), max_length=100)
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("課")
        verbose_name_plural = _("課")
        ordering = ["municipality_id", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "code"], name="municipalities_department_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Department {self.pk} {self.municipality_id}/{self.code}>"


class StaffUserManager(UserManager["StaffUser"]):
    pass


class StaffUser(AbstractUser):
    """A member of staff who signs in to the admin.

    A staff user belongs to one municipality; what they may do there comes from their roles
    (StaffRole). Superusers operate the whole deployment and belong to none.
    """

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("所属自治体"),
        on_delete=models.PROTECT,
        related_name="staff_users",
        null=True,
        blank=True,
        help_text=_("空欄はシステム運用者（全自治体）です。"),
    )
    line_user_id = models.CharField(
        _("LINE ユーザーID"),
        max_length=33,
        blank=True,
        help_text=_("配信のテスト送信先です。自分の LINE アカウントの ID（U で始まる 33 文字）。"),
    )

    objects = StaffUserManager()

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = None

    class Meta:
        verbose_name = _("職員")
        verbose_name_plural = _("職員")
        ordering = ["username"]
        constraints = [
            # A system operator acts on every town, so no town's administrator may manage one.
            models.CheckConstraint(
                condition=Q(is_superuser=False) | Q(municipality__isnull=True),
                name="municipalities_staffuser_superuser_no_municipality",
            ),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full}（{self.username}）" if full else self.username

    def get_full_name(self) -> str:
        """Family name first, as Japanese names are written."""
        return f"{self.last_name} {self.first_name}".strip()


class Role(models.TextChoices):
    MUNICIPALITY_ADMIN = "municipality_admin", _("自治体管理者")
    HEAD = "head", _("所属長")
    EDITOR = "editor", _("編集者")
    VIEWER = "viewer", _("閲覧者")


class StaffRole(TimeStampedModel):
    """A staff user's role in one department (or, for 自治体管理者, in the whole municipality).

    The role's permissions are those of the Django group of the same name; this row says where
    they apply.
    """

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = "department"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("職員"),
        on_delete=models.CASCADE,
        related_name="staff_roles",
    )
    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="staff_roles"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("課"),
        on_delete=models.PROTECT,
        related_name="staff_roles",
        null=True,
        blank=True,
        help_text=_("自治体管理者は課を指定しません（全課が対象）。"),
    )
    role = models.CharField(_("役割"), max_length=32, choices=Role.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("付与した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )

    class Meta:
        verbose_name = _("職員の役割")
        verbose_name_plural = _("職員の役割")
        ordering = ["municipality_id", "department_id", "user_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="municipalities_staffrole_role_valid"
            ),
            models.CheckConstraint(
                condition=(Q(role=Role.MUNICIPALITY_ADMIN) & Q(department__isnull=True))
                | (~Q(role=Role.MUNICIPALITY_ADMIN) & Q(department__isnull=False)),
                name="municipalities_staffrole_department_iff_not_admin",
            ),
            models.UniqueConstraint(
                fields=["user", "department"],
                condition=Q(department__isnull=False),
                name="municipalities_staffrole_one_per_user_department",
            ),
            models.UniqueConstraint(
                fields=["user", "municipality"],
                condition=Q(role=Role.MUNICIPALITY_ADMIN),
                name="municipalities_staffrole_one_admin_per_user_municipality",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}"

    def __repr__(self) -> str:
        return f"<StaffRole {self.pk} user={self.user_id} dept={self.department_id} {self.role}>"


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


class AuditEntry(models.Model):
    """One staff-visible change: who did what to which object, when, with before/after values.

    Written by services in the same transaction as the change (see audit.py); never edited.
    """

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = "department"

    created_at = models.DateTimeField(_("日時"), default=timezone.now, db_index=True)
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="audit_entries",
        null=True,
        blank=True,
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("課"),
        on_delete=models.PROTECT,
        related_name="audit_entries",
        null=True,
        blank=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    actor_label = models.CharField(
        _("操作者"), max_length=150, help_text=_("職員名、または「住民」「システム」。")
    )
    actor_resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("操作した住民"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("住民が自分で行った操作のとき、その住民です。"),
    )
    action = models.CharField(_("操作"), max_length=100, db_index=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("種類"), on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.CharField(_("対象ID"), max_length=64)
    object_repr = models.CharField(_("対象"), max_length=200)
    data = models.JSONField(_("内容"), default=dict, blank=True)

    class Meta:
        verbose_name = _("操作履歴")
        verbose_name_plural = _("操作履歴")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # history_view(): the entries of one object, newest first.
            models.Index(
                fields=["content_type", "object_id", "-created_at"],
                name="munic_audit_object_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"


# --- LINE channel records -------------------------------------------------------------------


class WebhookEvent(TimeStampedModel, MunicipalityOwned):
    """One event LINE delivered to the webhook, stored once (keyed by webhookEventId)."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("受信")
        PROCESSED = "processed", _("処理済み")
        FAILED = "failed", _("失敗")
        SKIPPED = "skipped", _("対象外")

    # No index of its own: the unique constraint below starts with it.
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="webhook_events",
        db_index=False,
    )
    webhook_event_id = models.CharField(_("イベントID"), max_length=64)
    event_type = models.CharField(_("種類"), max_length=32)
    mode = models.CharField(_("モード"), max_length=16, default="active")
    is_redelivery = models.BooleanField(_("再送"), default=False)
    line_user_id = models.CharField(_("LINE ユーザーID"), max_length=64, blank=True)
    reply_token = models.CharField(_("応答トークン"), max_length=255, blank=True)
    occurred_at = models.DateTimeField(_("発生日時"), null=True, blank=True)
    payload = models.JSONField(_("内容"))
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    processed_at = models.DateTimeField(_("処理日時"), null=True, blank=True)
    error = models.TextField(_("エラー"), blank=True)
    # Which of the town's drain tasks processes the event: the same for every event of one
    # resident (see line.webhook.lane_of), so each resident is answered in order while
    # several workers process the town's events at once.
    lane = models.SmallIntegerField(_("処理レーン"), default=0)

    class Meta:
        verbose_name = _("Webhook イベント")
        verbose_name_plural = _("Webhook イベント")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "webhook_event_id"],
                name="municipalities_webhookevent_once",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "processed", "failed", "skipped"]),
                name="municipalities_webhookevent_status_valid",
            ),
        ]
        indexes = [
            # The simulator backend resolves a reply token to the resident it answers.
            models.Index(
                fields=["reply_token"],
                condition=~Q(reply_token=""),
                name="munic_webhookevent_reply_idx",
            ),
            # The drain (a lane of a town's unprocessed events in arrival order) and the sweep:
            # only rows waiting to be processed are in it, so it stays small however many
            # events the town has received.
            models.Index(
                fields=["municipality", "lane", "created_at", "id"],
                condition=Q(status="received"),
                name="munic_webhookevent_lane_idx",
            ),
            # A broadcast's unfollow count looks its recipients up among the unfollow events.
            # Every webhook post writes this table, so the message events, nearly all of them,
            # are kept out of the index.
            models.Index(
                fields=["municipality", "line_user_id"],
                condition=Q(event_type="unfollow"),
                name="munic_webhookevent_unfol_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_event_id}"


class TalkMessage(TimeStampedModel, MunicipalityOwned):
    """One message in the talk between a resident and the account (inbound or outbound).

    Kept for ``Municipality.talk_log_retention_days``; read-only for staff except the hand-off
    reply, which is sent through a service.
    """

    class Direction(models.TextChoices):
        INBOUND = "in", _("住民から")
        OUTBOUND = "out", _("自治体から")

    # Read by permissions.Scope: a notice a feature sent for a department (booking, application)
    # is that department's and 自治体管理者's; a row without a department (the general chat, the
    # hand-off) is town-wide, for the roles that answer residents (holding this permission).
    department_path: ClassVar[str | None] = "department"
    town_wide_rows_perm: ClassVar[str] = "municipalities.reply_talkmessage"

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="talk_messages"
    )
    resident = models.ForeignKey(
        Resident, verbose_name=_("住民"), on_delete=models.CASCADE, related_name="talk_messages"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="talk_messages",
        null=True,
        blank=True,
        help_text=_(
            "課の機能が住民に送ったお知らせ（予約・申請の通知）はその課と自治体管理者だけが見られます。"
            "空欄は一般のトーク（問い合わせ・職員の返信）です。"
        ),
    )
    direction = models.CharField(_("方向"), max_length=3, choices=Direction.choices)
    kind = models.CharField(
        _("種類"), max_length=32, help_text=_("text, postback, image, template, flex など。")
    )
    text = models.TextField(_("内容"), blank=True)
    payload = models.JSONField(_("データ"), default=dict, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("送信した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("トーク履歴")
        verbose_name_plural = _("トーク履歴")
        ordering = ["-created_at", "-pk"]
        permissions = [("reply_talkmessage", _("住民に返信できる"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction__in=["in", "out"]),
                name="municipalities_talkmessage_direction_valid",
            ),
        ]
        indexes = [
            # The talk of one resident, newest first (admin, simulator, hand-off).
            models.Index(fields=["resident", "-created_at"], name="munic_talk_resident_idx"),
        ]

    def __str__(self) -> str:
        return self.text[:40]


class SimulatedDelivery(TimeStampedModel, MunicipalityOwned):
    """One outgoing LINE request as the simulator backend recorded it, per recipient.

    Stands in for LINE itself in the demo and the tests: a retry key is accepted once per
    recipient, exactly as LINE answers 409 to a reused key.
    """

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="simulated_deliveries",
    )
    endpoint = models.CharField(_("API"), max_length=16)
    line_user_id = models.CharField(_("宛先"), max_length=64)
    retry_key = models.UUIDField(_("リトライキー"), null=True, blank=True)
    messages = models.JSONField(_("メッセージ"))

    class Meta:
        verbose_name = _("シミュレーター送信記録")
        verbose_name_plural = _("シミュレーター送信記録")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "retry_key", "line_user_id"],
                condition=Q(retry_key__isnull=False),
                name="municipalities_simulateddelivery_retry_key_once",
            ),
        ]
        indexes = [
            # The simulator page: the messages of one resident in order.
            models.Index(
                fields=["municipality", "line_user_id", "created_at"],
                name="munic_simdelivery_user_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} → {self.line_user_id}"


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
