"""The chatbot: garbage dictionary and collection calendars (5374 format), FAQ, keyword rules,
unanswered questions, per-resident chat state and the staff hand-off.

Garbage data belongs to the municipality as a whole (it is imported from one 5374 folder and
replaced as a whole); FAQ entries and keyword rules belong to the department that answers them.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chatbot.collection import RuleSyntaxError, parse_rule
from municipalities import jp
from municipalities.models import DepartmentOwned, MunicipalityOwned, Resident, TimeStampedModel

# --- Garbage (5374) ------------------------------------------------------------------------


class GarbageCategory(TimeStampedModel, MunicipalityOwned):
    """A garbage category (可燃ごみ, 不燃ごみ, 資源 …) as in the town's 5374 ``description.csv``.

    Items are sorted into categories; an area's calendar says on which days each category is
    collected. A category without a calendar column (粗大ごみ, 受入れできないもの) has no
    regular collection day.
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_categories",
    )
    label = models.CharField(_("分類名"), max_length=100)
    sublabel = models.CharField(_("補足"), max_length=100, blank=True)
    description = models.TextField(_("説明"), blank=True)
    color = models.CharField(_("色"), max_length=16, blank=True, help_text=_("#RRGGBB 形式。"))
    sort_order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("ごみの分類")
        verbose_name_plural = _("ごみの分類")
        ordering = ["municipality_id", "sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "label"], name="chatbot_garbagecategory_label_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class GarbageItem(TimeStampedModel, MunicipalityOwned):
    """One entry of the sorting dictionary (``target.csv``): 「乾電池」→ 有害ごみ, with a notice.

    ``kana`` is the reading in hiragana used by the chatbot to match 「かんでんち」; it is
    generated at import (the 5374 furigana column is usually just the index letter).
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_items",
    )
    category = models.ForeignKey(
        GarbageCategory, verbose_name=_("分類"), on_delete=models.CASCADE, related_name="items"
    )
    name = models.CharField(_("品目"), max_length=200)
    notice = models.TextField(_("注意事項"), blank=True)
    kana = models.CharField(
        _("よみ"), max_length=400, blank=True, help_text=_("ひらがなの読み。チャットでの照合に使います。")
    )
    index_letter = models.CharField(_("索引"), max_length=8, blank=True)

    class Meta:
        verbose_name = _("ごみの品目")
        verbose_name_plural = _("ごみの品目")
        ordering = ["municipality_id", "kana", "pk"]
        # "import" is the right to replace the town's garbage data (5374 files).
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        constraints = [
            # An item may be listed under two categories (紙製 / プラ製), but once per category.
            models.UniqueConstraint(
                fields=["municipality", "category", "name"], name="chatbot_garbageitem_once_per_category"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GarbageRemark(TimeStampedModel, MunicipalityOwned):
    """A numbered remark (``remarks.csv``) referred to from a calendar cell as ``*1``."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_remarks",
    )
    number = models.PositiveIntegerField(_("番号"))
    text = models.TextField(_("内容"))

    class Meta:
        verbose_name = _("収集日の注意事項")
        verbose_name_plural = _("収集日の注意事項")
        ordering = ["municipality_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "number"], name="chatbot_garbageremark_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"*{self.number}"


class CenterHoliday(TimeStampedModel, MunicipalityOwned):
    """A period in which a collection center (清掃センター) does not collect (``center.csv``).

    As in the 5374 app, collection days inside the period are cancelled; a town that moves them
    to the first day after the period instead sets the policy to 「振替」.
    """

    class Policy(models.TextChoices):
        CANCEL = "cancel", _("休止（収集なし）")
        SHIFT = "shift", _("振替（休止明けに収集）")

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_center_holidays",
    )
    center = models.CharField(_("センター"), max_length=100)
    starts_on = models.DateField(_("休止開始日"))
    ends_on = models.DateField(_("休止終了日"))
    policy = models.CharField(_("休止中の扱い"), max_length=8, choices=Policy.choices, default=Policy.CANCEL)

    class Meta:
        verbose_name = _("センターの休止期間")
        verbose_name_plural = _("センターの休止期間")
        ordering = ["municipality_id", "center", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="chatbot_centerholiday_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(policy__in=["cancel", "shift"]), name="chatbot_centerholiday_policy_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.center} {self.starts_on:%Y/%m/%d}〜{self.ends_on:%Y/%m/%d}"


class AreaCalendar(TimeStampedModel, MunicipalityOwned):
    """The collection calendar of one area (one row of ``area_days.csv``)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_area_calendars",
    )
    area = models.OneToOneField(
        "municipalities.Area",
        verbose_name=_("地区"),
        on_delete=models.CASCADE,
        related_name="garbage_calendar",
    )
    center = models.CharField(
        _("センター"), max_length=100, blank=True, help_text=_("休止期間を適用するセンター名。")
    )

    class Meta:
        verbose_name = _("地区の収集日")
        verbose_name_plural = _("地区の収集日")
        ordering = ["municipality_id", "area__sort_order", "area__name"]

    def __str__(self) -> str:
        return str(self.area_id)


class CollectionRule(TimeStampedModel, MunicipalityOwned):
    """When one category is collected in one area: the 5374 cell as written (「火2 金4:4 6 8」)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_collection_rules",
    )
    calendar = models.ForeignKey(
        AreaCalendar, verbose_name=_("地区"), on_delete=models.CASCADE, related_name="rules"
    )
    category = models.ForeignKey(
        GarbageCategory, verbose_name=_("分類"), on_delete=models.CASCADE, related_name="rules"
    )
    rule = models.CharField(
        _("収集日"),
        max_length=300,
        help_text=_(
            "5374 形式: 曜日「月 木」、第n曜日「火2」「2土」、月指定「金4:4 6 8」、日付「20240301」。"
        ),
    )

    class Meta:
        verbose_name = _("収集日の規則")
        verbose_name_plural = _("収集日の規則")
        ordering = ["calendar_id", "category__sort_order"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "category"], name="chatbot_collectionrule_once_per_category"
            ),
        ]

    def __str__(self) -> str:
        return self.rule

    def clean(self) -> None:
        self.rule = jp.normalise_text(self.rule)
        try:
            parse_rule(self.rule)
        except RuleSyntaxError as exc:
            raise ValidationError({"rule": str(exc)}) from None


# --- FAQ, keyword rules, unanswered questions -------------------------------------------------


class Faq(TimeStampedModel, DepartmentOwned):
    """A question residents ask and the department's answer (よくある質問).

    ``variants`` lists other ways to ask the same question, one per line; the chatbot matches
    the question and every variant. Only published entries are answered.
    """

    question = models.CharField(_("質問"), max_length=200)
    variants = models.TextField(
        _("言い換え"), blank=True, help_text=_("同じ意味の別の聞き方を 1 行に 1 つ。")
    )
    answer = models.TextField(_("回答"), max_length=4000)
    link_label = models.CharField(
        _("ボタンの文言"), max_length=20, blank=True, help_text=_("例: 詳しくはこちら（20 文字まで）")
    )
    link_url = models.URLField(_("ボタンのリンク先"), blank=True)
    is_published = models.BooleanField(
        _("公開"), default=True, help_text=_("オフにするとチャットボットは答えません。")
    )

    class Meta:
        verbose_name = _("よくある質問")
        verbose_name_plural = _("よくある質問")
        ordering = ["department_id", "question"]
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        constraints = [
            models.UniqueConstraint(fields=["department", "question"], name="chatbot_faq_question_unique"),
            models.CheckConstraint(
                condition=Q(link_url="") | ~Q(link_label=""), name="chatbot_faq_link_has_label"
            ),
        ]

    def __str__(self) -> str:
        return self.question

    def variant_list(self) -> list[str]:
        return [line.strip() for line in self.variants.splitlines() if line.strip()]


class KeywordRule(TimeStampedModel, DepartmentOwned):
    """An exact keyword and its fixed reply, checked before any matching (リッチメニューのボタン等)."""

    keyword = models.CharField(
        _("キーワード"),
        max_length=100,
        help_text=_("この言葉と完全に一致したときだけ返信します（全角・半角、かなの違いは無視）。"),
    )
    reply = models.TextField(_("返信"), max_length=4000)
    is_active = models.BooleanField(_("有効"), default=True)

    class Meta:
        verbose_name = _("キーワード応答")
        verbose_name_plural = _("キーワード応答")
        ordering = ["department_id", "keyword"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "keyword"], name="chatbot_keywordrule_keyword_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.keyword


class UnansweredQuestion(TimeStampedModel, MunicipalityOwned):
    """A question the chatbot could not answer, counted per normalised text.

    Staff turn it into a new FAQ or a variant of an existing one; then it is marked resolved.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("未対応")
        RESOLVED = "resolved", _("FAQ に登録済み")

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="unanswered_questions",
    )
    normalized = models.CharField(_("正規化した質問"), max_length=300, editable=False)
    text = models.CharField(_("質問"), max_length=300, help_text=_("住民が最後に送った文面です。"))
    count = models.PositiveIntegerField(_("回数"), default=1)
    last_asked_at = models.DateTimeField(_("最後に聞かれた日時"))
    status = models.CharField(_("状態"), max_length=10, choices=Status.choices, default=Status.OPEN)
    faq = models.ForeignKey(
        Faq,
        verbose_name=_("登録した FAQ"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("答えられなかった質問")
        verbose_name_plural = _("答えられなかった質問")
        ordering = ["status", "-count", "-last_asked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "normalized"], name="chatbot_unansweredquestion_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "resolved"]), name="chatbot_unansweredquestion_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40]


class UnansweredAsk(TimeStampedModel, MunicipalityOwned):
    """One resident who asked an unanswered question, so that staff can see who asked and, once
    the question has an FAQ, send them the answer (``answered_at`` is set when it went out)."""

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="unanswered_asks",
    )
    question = models.ForeignKey(
        UnansweredQuestion, verbose_name=_("質問"), on_delete=models.CASCADE, related_name="asks"
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.CASCADE,
        related_name="unanswered_asks",
    )
    text = models.CharField(_("送られた文面"), max_length=300)
    asked_at = models.DateTimeField(_("聞かれた日時"))
    answered_at = models.DateTimeField(_("回答を送った日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("質問した住民")
        verbose_name_plural = _("質問した住民")
        ordering = ["question_id", "-asked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "resident"], name="chatbot_unansweredask_once_per_resident"
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40]


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


# --- Per-resident state -----------------------------------------------------------------------


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


class GarbageReminder(TimeStampedModel, MunicipalityOwned):
    """The nightly reminder of one resident for one collection day, claimed before sending.

    The unique (resident, collection_on) row makes the reminder go out once per resident and day
    even when the beat task runs twice; ``sent_at`` stays empty until LINE accepted it.
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="garbage_reminders",
    )
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.CASCADE,
        related_name="garbage_reminders",
    )
    collection_on = models.DateField(_("収集日"))
    categories = models.JSONField(_("分類"), default=list)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("ごみ収集日の通知")
        verbose_name_plural = _("ごみ収集日の通知")
        ordering = ["-collection_on", "resident_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "collection_on"], name="chatbot_garbagereminder_once_per_day"
            ),
        ]
        indexes = [
            # garbage_reminder_send_task re-runs: reminders claimed but not yet accepted by LINE.
            models.Index(
                fields=["collection_on"],
                condition=Q(sent_at__isnull=True),
                name="chatbot_reminder_unsent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.collection_on:%Y-%m-%d}"


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
