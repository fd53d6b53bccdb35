"""The conversation with a person: hand-offs to staff, staff replies, the chat state per resident, the talk thread."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import DepartmentOwned, MunicipalityOwned, Resident, TimeStampedModel


class Handoff(TimeStampedModel, MunicipalityOwned):
    """A resident asked to talk with a person (「職員と話す」): the conversation waits in the inbox
    of the department that owns the topic, or in the town-wide inbox (no department).

    While it is open the bot tells the resident once that 「担当者が対応中です」 and still answers
    garbage and FAQ questions, unless staff paused it (``ChatState.silenced_until``). Staff close it
    with 「対応完了」; a resident has at most one open hand-off.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("職員の返事待ち")
        ACTIVE = "active", _("職員が対応中")
        DONE = "done", _("対応完了")

    # Read by permissions.Scope: a hand-off of a department is that department's (and 自治体管理者's);
    # one in the town-wide inbox belongs to every role that answers residents.
    department_path: ClassVar[str | None] = "department"
    town_wide_rows_perm: ClassVar[str] = "municipalities.reply_talkmessage"

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="handoffs",
    )
    resident = models.ForeignKey(
        "municipalities.Resident", verbose_name=_("住民"), on_delete=models.CASCADE, related_name="handoffs"
    )
    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs",
        help_text=_("空欄は自治体全体の窓口です。"),
    )
    status = models.CharField(_("状態"), max_length=8, choices=Status.choices, default=Status.WAITING)
    topic = models.CharField(
        _("用件"), max_length=300, blank=True, help_text=_("住民が直前に尋ねたことです。")
    )
    requested_at = models.DateTimeField(_("呼び出し日時"))
    unread = models.PositiveIntegerField(_("未読のメッセージ"), default=0)
    busy_notice_sent = models.BooleanField(_("「担当者が対応中です」を伝えた"), default=False)
    closed_at = models.DateTimeField(_("対応完了日時"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("対応完了にした職員"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("職員対応の依頼")
        verbose_name_plural = _("職員対応の依頼")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "active", "done"]), name="chatbot_handoff_status_valid"
            ),
            models.UniqueConstraint(
                fields=["resident"],
                condition=~Q(status="done"),
                name="chatbot_handoff_one_open_per_resident",
            ),
        ]
        indexes = [
            # handoffs_open_for_staff(): the open hand-offs of a town (the staff notices).
            models.Index(
                fields=["municipality", "requested_at"],
                condition=~Q(status="done"),
                name="chatbot_handoff_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.topic[:40] or str(self.requested_at)


class HandoffRoute(TimeStampedModel, DepartmentOwned):
    """Which 課 receives the hand-offs about a topic (「住民票・戸籍」→ 市民課).

    When a resident asks for a person, the question they asked just before is read for the
    route's words; the first route (in ``sort_order``) whose word it contains sends the hand-off
    to its department's inbox. Without a route, the department that owns the matching FAQ gets
    it, else the town-wide inbox.
    """

    topic = models.CharField(_("話題"), max_length=100, help_text=_("例: 住民票・戸籍、粗大ごみ、予防接種"))
    keywords = models.TextField(
        _("言葉"),
        help_text=_(
            "住民の質問にこの言葉が入っていれば、この課におつなぎします。1 行に 1 つ"
            "（全角・半角、かなの違いは無視します）。"
        ),
    )
    sort_order = models.PositiveIntegerField(
        _("優先順"), default=0, help_text=_("複数の話題に当てはまるときは、小さい数の話題が優先です。")
    )
    is_active = models.BooleanField(_("有効"), default=True)

    class Meta:
        verbose_name = _("問い合わせの振り分け")
        verbose_name_plural = _("問い合わせの振り分け")
        ordering = ["sort_order", "topic"]
        constraints = [
            models.UniqueConstraint(fields=["department", "topic"], name="chatbot_handoffroute_topic_unique"),
        ]

    def __str__(self) -> str:
        return self.topic

    def keyword_list(self) -> list[str]:
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]


class ChatState(TimeStampedModel, MunicipalityOwned):
    """What the chatbot remembers about one resident: the nightly reminder switch, a question
    waiting for an answer (「地区名を教えてください」) and the silence after a staff reply."""

    class Pending(models.TextChoices):
        NONE = "", _("なし")
        AREA = "area", _("地区名を待っている")

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="chat_states",
    )
    resident = models.OneToOneField(
        "municipalities.Resident", verbose_name=_("住民"), on_delete=models.CASCADE, related_name="chat_state"
    )
    garbage_reminder = models.BooleanField(_("ごみ収集日の前夜通知"), default=False)
    pending = models.CharField(_("返事待ち"), max_length=8, choices=Pending.choices, blank=True, default="")
    pending_text = models.CharField(_("保留中の質問"), max_length=300, blank=True)
    silenced_until = models.DateTimeField(
        _("自動応答の停止期限"),
        null=True,
        blank=True,
        help_text=_("職員が返信した後、この時刻まで自動応答しません。"),
    )

    class Meta:
        verbose_name = _("チャットの状態")
        verbose_name_plural = _("チャットの状態")
        ordering = ["municipality_id", "resident_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pending__in=["", "area"]), name="chatbot_chatstate_pending_valid"
            ),
        ]
        indexes = [
            # garbage_reminders_due(): residents who asked for the nightly reminder.
            models.Index(
                fields=["municipality"], condition=Q(garbage_reminder=True), name="chatbot_state_reminder_idx"
            ),
        ]

    def __str__(self) -> str:
        return str(self.resident_id)


class StaffReply(TimeStampedModel, MunicipalityOwned):
    """A reply a member of staff sent to a resident from the talk log (有人対応)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="staff_replies",
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.CASCADE,
        related_name="staff_replies",
    )
    text = models.TextField(_("内容"), max_length=4000)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("送信した職員"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("職員からの返信")
        verbose_name_plural = _("職員からの返信")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:40]


class TalkThread(Resident):
    """The talk of one resident, as staff see it for the hand-off (a view of Resident)."""

    class Meta:
        proxy = True
        verbose_name = _("トーク（有人対応）")
        verbose_name_plural = _("トーク（有人対応）")
        default_permissions = ("view", "reply")
