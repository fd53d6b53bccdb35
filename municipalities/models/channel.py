"""LINE channel records: webhook events received, the talk log, and the simulator's sent messages."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models.base import MunicipalityOwned, TimeStampedModel
from municipalities.models.residents import Resident
from municipalities.models.tenants import Department, Municipality


class WebhookEvent(TimeStampedModel, MunicipalityOwned):
    """One event LINE delivered to the webhook, stored once (keyed by webhookEventId)."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("受信")
        # taken by a drain run; a run that dies leaves it here, and the lane's next run offers it again
        PROCESSING = "processing", _("処理中")
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
    # db_default: the webhook's own INSERT (line.webhook._INSERT_SQL) leaves the column out.
    attempts = models.PositiveSmallIntegerField(
        _("再試行回数"),
        default=0,
        db_default=0,
        help_text=_("一時的な障害（Redis・データベース・LINE）で処理をやり直した回数。"),
    )
    # Set when an attempt given back after a transient fault wrote the resident's message to
    # the talk log: the next attempt does not write it again. db_default: as ``attempts``.
    inbound_logged = models.BooleanField(_("メッセージ記録済み"), default=False, db_default=False)
    retry_at = models.DateTimeField(
        _("再試行予定"),
        null=True,
        blank=True,
        help_text=_(
            "一時的な障害の後、この日時まで処理を待ちます（同じ方の後のメッセージも順番を守って待ちます）。"
        ),
    )

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
                condition=Q(status__in=["received", "processing", "processed", "failed", "skipped"]),
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
            # A lane's run offers again the events a dead run left 処理中, and the sweep finds
            # the lanes that have such events: only the few rows being processed are in it.
            models.Index(
                fields=["municipality", "lane", "processed_at"],
                condition=Q(status="processing"),
                name="munic_webhookevent_taken_idx",
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
