"""The tenant: a municipality with its LINE channel, and its departments (課/係)."""

from __future__ import annotations

import datetime
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from municipalities.fields import EncryptedTextField
from municipalities.models.base import TimeStampedModel


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

    garbage_collection_time = models.TimeField(
        _("ごみの収集時刻"),
        default=datetime.time(8, 30),
        help_text=_(
            "この時刻を過ぎると、チャットボットは今日の収集を「次の収集日」として案内しません（例: 8:30）。"
        ),
    )
    office_hours = models.CharField(
        _("職員が対応する時間"),
        max_length=200,
        default="平日 8:30〜17:15（土日祝日・年末年始を除く）",
        help_text=_("「職員と話す」を選んだ住民に、いつ返事が来るかとして伝えます。"),
    )
    handoff_notify_email = models.EmailField(
        _("職員呼び出しの通知先メール"),
        blank=True,
        help_text=_(
            "住民が「職員と話す」を選んだときに知らせるメールアドレス（空欄なら管理画面の表示だけ）。"
        ),
    )
    handoff_pause_minutes = models.PositiveIntegerField(
        _("職員対応中に自動応答を止める時間（分）"),
        default=30,
        help_text=_("職員が自動応答を止めたとき、対応完了にしなくてもこの時間が過ぎると自動応答に戻ります。"),
    )
    monthly_push_budget = models.PositiveIntegerField(
        _("月間メッセージ通数の上限"),
        default=0,
        help_text=_(
            "LINE の料金プランで送れる 1 か月のメッセージ通数（例: 5000）。0 は上限なし。"
            "お知らせの送信前に、超えそうなときは警告します。"
        ),
    )

    stripe_secret_key = EncryptedTextField(
        _("Stripe シークレットキー"),
        blank=True,
        help_text=_(
            "オンライン決済（Stripe）を使うときに、自治体の Stripe アカウントのシークレットキー（sk_…）を"
            "入れます。保存後は末尾 4 文字だけ表示されます。"
        ),
    )
    stripe_webhook_secret = EncryptedTextField(
        _("Stripe Webhook 署名シークレット"),
        blank=True,
        help_text=_("Stripe の Webhook 設定に表示される署名シークレット（whsec_…）です。"),
    )
    stripe_payment_methods = models.JSONField(
        _("Stripe で受け付ける支払手段"),
        default=list,
        blank=True,
        help_text=_(
            "card（クレジットカード）、konbini（コンビニ）、paypay のうち、Stripe アカウントで使えるもの。"
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
