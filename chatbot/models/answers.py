"""よくある質問 and keyword rules, and the questions the bot could not answer (with who asked)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import DepartmentOwned, MunicipalityOwned, TimeStampedModel


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
