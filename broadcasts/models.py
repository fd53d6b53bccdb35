"""Segment broadcasts: what a department sends to which residents, and how it went out.

A broadcast is composed by staff (1–5 messages, a category or 緊急, a segment and a time),
approved by the department head, and sent by Celery in batches of at most 500 LINE user ids
(LINE's multicast limit). Each batch row is the delivery record of its recipients: it holds
their user ids, its deterministic retry key and the result LINE gave. One row per resident per
broadcast would be two million rows for a city-wide notice; the batch row says the same thing
(each recipient is in exactly one batch of a broadcast, because the recipients come from one
query) at 1/500 of the size.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.claims import ClaimedWork
from municipalities.models import Area, DepartmentOwned, Interest, TimeStampedModel

BATCH_SIZE = 500  # LINE's multicast limit; the fan-out never writes a larger batch


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("下書き")
    PENDING = "pending", _("承認待ち")
    APPROVED = "approved", _("承認済み")
    SCHEDULED = "scheduled", _("予約済み")
    SENDING = "sending", _("配信中")
    SENT = "sent", _("配信完了")
    PARTIAL = "partial", _("一部失敗")
    CANCELLED = "cancelled", _("取消")


class SendMode(models.TextChoices):
    NOW = "now", _("承認後すぐに配信")
    AT = "at", _("日時を指定して配信")


class Recurrence(models.TextChoices):
    NONE = "", _("繰り返さない")
    WEEKLY = "weekly", _("毎週")
    MONTHLY = "monthly", _("毎月")


class Broadcast(TimeStampedModel, DepartmentOwned):
    """A notice a department sends through LINE to the residents who asked for it.

    Residents receive it when they follow the account, have not paused notices and chose its
    category (分野), and when they match the segment (地区, 年代; empty = no filter). An
    emergency notice (緊急) goes to every follower regardless of their settings.

    Staff edit it only as a draft (下書き). Submitting (承認待ち) freezes it; the head's
    approval makes it 承認済み (send now) or 予約済み (at a time). At that time it becomes 配信中,
    then 配信完了, or 一部失敗 when LINE refused some batches. It can be cancelled (取消) until
    the last batch has gone out. A weekly or monthly broadcast creates its next occurrence, as a
    scheduled copy, when it starts.
    """

    head_only_actions: ClassVar[frozenset[str]] = frozenset({"approve"})

    Status = BroadcastStatus

    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="broadcasts",
        help_text=_("この配信を作成・承認する課です。"),
    )
    title = models.CharField(
        _("件名"), max_length=100, help_text=_("職員向けの管理用の名前です。住民には表示されません。")
    )
    status = models.CharField(
        _("状態"),
        max_length=16,
        choices=BroadcastStatus.choices,
        default=BroadcastStatus.DRAFT,
        editable=False,
    )
    is_emergency = models.BooleanField(
        _("緊急"),
        default=False,
        help_text=_(
            "緊急のお知らせは受信設定にかかわらず、友だち全員に届きます（分野・地区・年代は使いません）。"
        ),
    )
    category = models.ForeignKey(
        Interest,
        verbose_name=_("分野"),
        on_delete=models.PROTECT,
        related_name="broadcasts",
        null=True,
        blank=True,
        help_text=_("この分野を受け取ると設定した住民に届きます。緊急のときは空欄にします。"),
    )
    areas = models.ManyToManyField(
        Area,
        verbose_name=_("地区"),
        related_name="broadcasts",
        blank=True,
        help_text=_("空欄はすべての地区です。"),
    )
    age_bands = models.JSONField(_("年代"), default=list, blank=True, help_text=_("空欄はすべての年代です。"))
    send_mode = models.CharField(
        _("配信タイミング"), max_length=8, choices=SendMode.choices, default=SendMode.NOW
    )
    scheduled_at = models.DateTimeField(
        _("配信日時"), null=True, blank=True, help_text=_("「日時を指定して配信」のときの配信日時です。")
    )
    recurrence = models.CharField(
        _("繰り返し"), max_length=8, choices=Recurrence.choices, default=Recurrence.NONE, blank=True
    )
    recurrence_until = models.DateField(
        _("繰り返しの終了日"), null=True, blank=True, help_text=_("この日までの配信を繰り返します。")
    )
    series_parent = models.ForeignKey(
        "self",
        verbose_name=_("繰り返し元の配信"),
        on_delete=models.SET_NULL,
        related_name="occurrences",
        null=True,
        blank=True,
        editable=False,
    )
    rendered_messages = models.JSONField(
        _("送信するメッセージ"),
        default=list,
        blank=True,
        editable=False,
        help_text=_("提出時に確定した、LINE に送る形のメッセージです。"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("作成者"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申請者"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    submitted_at = models.DateTimeField(_("申請日時"), null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("承認者"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    approved_at = models.DateTimeField(_("承認日時"), null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("取消した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    cancelled_at = models.DateTimeField(_("取消日時"), null=True, blank=True, editable=False)
    review_comment = models.TextField(
        _("差し戻しの理由"), blank=True, editable=False, help_text=_("所属長が差し戻したときのコメントです。")
    )
    started_at = models.DateTimeField(_("配信開始日時"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("配信終了日時"), null=True, blank=True, editable=False)
    # The fan-out writes the batches a few thousand recipients per transaction, in resident
    # order, and the first batches go out while it writes the rest: where it has got to, and
    # when it wrote the last ones (a broadcast is finished only after that).
    fanout_after_resident_id = models.BigIntegerField(null=True, blank=True, editable=False)
    fanned_out_at = models.DateTimeField(_("配信対象の確定日時"), null=True, blank=True, editable=False)
    # Batches seq < this have their send task in the queue: a fan-out killed between a step's
    # commit and its enqueue leaves it behind batch_count, and the sweep enqueues the rest.
    enqueued_batch_count = models.PositiveIntegerField(_("送信を依頼したバッチ数"), default=0, editable=False)
    recipient_count = models.PositiveIntegerField(_("配信対象数"), default=0, editable=False)
    batch_count = models.PositiveIntegerField(_("バッチ数"), default=0, editable=False)
    delivered_count = models.PositiveIntegerField(_("配信成功数"), default=0, editable=False)
    failed_count = models.PositiveIntegerField(_("配信失敗数"), default=0, editable=False)
    unfollow_count = models.PositiveIntegerField(
        _("24時間以内のブロック数"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("配信後 24 時間以内にブロックした配信対象者の数です。"),
    )
    unfollows_counted_at = models.DateTimeField(
        _("ブロック数の集計日時"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("配信")
        verbose_name_plural = _("配信")
        ordering = ["-created_at", "-pk"]
        permissions = [("approve_broadcast", "配信を承認できる")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BroadcastStatus.values), name="broadcasts_broadcast_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(send_mode__in=SendMode.values), name="broadcasts_broadcast_send_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(recurrence__in=Recurrence.values), name="broadcasts_broadcast_recurrence_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_emergency=False) | Q(category__isnull=True),
                name="broadcasts_broadcast_emergency_has_no_category",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="broadcasts_broadcast_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(recurrence="") | Q(recurrence_until__isnull=False),
                name="broadcasts_broadcast_recurrence_has_end",
            ),
        ]
        indexes = [
            # broadcasts_due(): scheduled broadcasts whose time has come (beat, every minute).
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status__in=["approved", "scheduled"]),
                name="bc_broadcast_due_idx",
            ),
            # broadcast_unfollows_count_task(): broadcasts finished in the last day.
            models.Index(
                fields=["finished_at"],
                condition=Q(unfollows_counted_at__isnull=True),
                name="bc_broadcast_unfollows_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return f"<Broadcast {self.pk} {self.status} dept={self.department_id}>"

    @property
    def is_editable(self) -> bool:
        return self.status == BroadcastStatus.DRAFT


class MessageKind(models.TextChoices):
    TEXT = "text", _("テキスト")
    IMAGE = "image", _("画像")
    CARD = "card", _("カード（タイトル・本文・リンクボタン）")


def broadcast_image_path(instance: BroadcastMessage, filename: str) -> str:
    ext = "png" if filename.lower().endswith(".png") else "jpg"
    return f"broadcasts/{uuid.uuid4().hex}.{ext}"


class BroadcastMessage(TimeStampedModel):
    """One speech bubble of a broadcast (a broadcast has 1 to 5, LINE's limit per send)."""

    municipality_path: ClassVar[str] = "broadcast__department__municipality"
    department_path: ClassVar[str | None] = "broadcast__department"

    broadcast = models.ForeignKey(
        Broadcast, verbose_name=_("配信"), on_delete=models.CASCADE, related_name="messages"
    )
    position = models.PositiveSmallIntegerField(_("順番"), default=0)
    kind = models.CharField(_("種類"), max_length=8, choices=MessageKind.choices, default=MessageKind.TEXT)
    text = models.TextField(
        _("本文"),
        blank=True,
        help_text=_("テキストは 5,000 文字まで（絵文字は 2 文字と数えます）。カードでは本文です。"),
    )
    image = models.ImageField(
        _("画像ファイル"),
        upload_to=broadcast_image_path,
        blank=True,
        help_text=_("JPEG または PNG、10MB まで。"),
    )
    preview_image = models.ImageField(
        _("プレビュー画像"),
        upload_to=broadcast_image_path,
        blank=True,
        editable=False,
        help_text=_("トーク一覧に出す縮小画像です（提出時に自動で作ります）。"),
    )
    image_url = models.URLField(
        _("画像の URL"),
        max_length=1000,
        blank=True,
        help_text=_("ファイルの代わりに https の URL を指定できます。"),
    )
    card_title = models.CharField(_("カードのタイトル"), max_length=40, blank=True)
    link_label = models.CharField(_("ボタンの文字"), max_length=20, blank=True)
    link_url = models.URLField(_("ボタンのリンク先"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("メッセージ")
        verbose_name_plural = _("メッセージ")
        ordering = ["broadcast_id", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MessageKind.values), name="broadcasts_broadcastmessage_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.position + 1}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("送信待ち")
    SENDING = "sending", _("送信中")
    SENT = "sent", _("送信済み")
    FAILED = "failed", _("失敗")
    CANCELLED = "cancelled", _("取消")


class DeliveryBatch(TimeStampedModel, ClaimedWork):
    """Up to 500 recipients of a broadcast, sent in one multicast with one retry key.

    The batch is claimed by a status flip before it is sent, so a task that runs twice sends it
    once; the retry key is derived from (broadcast, seq), so a resend after a crash is answered
    409 by LINE and counted as delivered. The claim records the worker and a heartbeat
    (``municipalities.claims``): a batch whose worker stopped answering is offered again within
    seconds. ``attempts`` counts requests to LINE, ``claim_count`` the claims.
    """

    municipality_path: ClassVar[str] = "broadcast__department__municipality"
    department_path: ClassVar[str | None] = "broadcast__department"

    Status = BatchStatus

    broadcast = models.ForeignKey(
        Broadcast, verbose_name=_("配信"), on_delete=models.CASCADE, related_name="batches"
    )
    seq = models.PositiveIntegerField(_("番号"))
    retry_key = models.UUIDField(_("リトライキー"), unique=True)
    line_user_ids = models.JSONField(_("宛先"))
    size = models.PositiveSmallIntegerField(_("宛先数"))
    status = models.CharField(
        _("状態"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("試行回数"), default=0)
    next_attempt_at = models.DateTimeField(_("次の再試行"), null=True, blank=True)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    already_accepted = models.BooleanField(
        _("受付済み（409）"),
        default=False,
        help_text=_("再送に LINE が「受付済み」と答えました。配信済みです。"),
    )
    request_id = models.CharField(_("リクエストID"), max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP ステータス"), null=True, blank=True)
    error_message = models.TextField(_("エラー"), blank=True)

    class Meta:
        verbose_name = _("配信バッチ")
        verbose_name_plural = _("配信バッチ")
        ordering = ["broadcast_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "seq"], name="broadcasts_deliverybatch_one_per_seq"),
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="broadcasts_deliverybatch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(size__gte=1) & Q(size__lte=BATCH_SIZE),
                name="broadcasts_deliverybatch_size_lte_500",
            ),
        ]
        indexes = [
            # batches_stuck(): batches left in sending (or pending) by a dead worker.
            models.Index(
                fields=["claimed_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="bc_batch_open_idx",
            ),
            # broadcast_progress(): counts per status of one broadcast.
            models.Index(fields=["broadcast", "status"], name="bc_batch_progress_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq}"
