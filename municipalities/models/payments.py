"""Payments: fees that residents pay for what a department offers (an application, a booking).

A payment is a door to an outside service like LINE, so it lives in the core: one record, one
provider interface (``municipalities/payments/``), used by every feature app. What a payment is
*for* (its subject: a submission, a facility booking) is a generic reference, because the core
does not know the feature apps; the app that owns the subject registers what happens when it is
paid (``municipalities.payments.register_payable``).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models.base import DepartmentOwned, TimeStampedModel


class PaymentMethod(models.TextChoices):
    """How a resident may pay; the value names the provider in ``municipalities.payments``."""

    COUNTER = "counter", _("窓口払い")
    SANDBOX = "sandbox", _("オンライン決済（テスト環境）")
    STRIPE = "stripe", _("オンライン決済（クレジットカード・コンビニ・PayPay）")


# ``Payment.detail`` flag: paid at the provider after the payment was given up here (to refund).
PAID_AFTER_CANCEL = "paid_after_cancel"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("未払い")
    PAID = "paid", _("支払済み")
    FAILED = "failed", _("失敗")
    CANCELLED = "cancelled", _("キャンセル")
    REFUNDED = "refunded", _("返金済み")


class Payment(TimeStampedModel, DepartmentOwned):
    """One attempt to pay one fee through one provider (窓口, an online gateway).

    A subject (a submission, a booking) has at most one paid payment (partial UNIQUE); failed
    or cancelled attempts stay as records for reconciliation (入金の照合). Nobody edits a
    payment: the services record what the provider or the cashier reported, and a refund is an
    action of the department's head.
    """

    head_only_actions: ClassVar[frozenset[str]] = frozenset({"refund"})

    Status = PaymentStatus

    department = models.ForeignKey(
        "municipalities.Department",
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="payments",
        help_text=_("この料金を受け取る課です。"),
    )
    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("対象の種類"), on_delete=models.PROTECT, related_name="+"
    )
    subject_id = models.PositiveBigIntegerField(_("対象のID"))
    subject = GenericForeignKey("subject_type", "subject_id")
    resident = models.ForeignKey(
        "municipalities.Resident",
        verbose_name=_("支払う住民"),
        on_delete=models.PROTECT,
        related_name="payments",
        null=True,
        blank=True,
        help_text=_("LINE で申し込んだ住民（窓口で代理に記録した支払いでは空のこともあります）。"),
    )
    description = models.CharField(
        _("内容"),
        max_length=200,
        blank=True,
        help_text=_("何の料金か（例: 住民票の写しの請求）。入金の照合はこれで分けて集計します。"),
    )
    provider = models.CharField(_("支払方法"), max_length=20, choices=PaymentMethod.choices)
    amount = models.PositiveIntegerField(_("金額（円）"))
    status = models.CharField(
        _("状態"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    reference = models.CharField(
        _("決済番号"), max_length=255, help_text=_("決済事業者の取引番号、または窓口の領収番号。")
    )
    paid_at = models.DateTimeField(_("支払日時"), null=True, blank=True)
    failed_at = models.DateTimeField(_("失敗・キャンセル日時"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("返金日時"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("記録した職員"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    detail = models.JSONField(_("詳細"), default=dict, blank=True)

    class Meta:
        verbose_name = _("支払")
        verbose_name_plural = _("支払")
        ordering = ["-created_at", "-pk"]
        permissions = [("refund_payment", "返金できる")]
        default_permissions = ("add", "change", "delete", "view", "export")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="municipalities_payment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(provider__in=PaymentMethod.values), name="municipalities_payment_provider_valid"
            ),
            models.UniqueConstraint(
                fields=["provider", "reference"], name="municipalities_payment_reference_unique"
            ),
            models.UniqueConstraint(
                fields=["subject_type", "subject_id"],
                condition=Q(status="paid"),
                name="municipalities_payment_one_paid_per_subject",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="municipalities_payment_paid_has_time",
            ),
        ]
        indexes = [
            # payments_reconciliation(): payments of a period by day.
            models.Index(fields=["status", "paid_at"], name="mun_payment_paid_idx"),
            # A subject's payments (GenericRelation on the subject: submission.payments).
            models.Index(fields=["subject_type", "subject_id"], name="mun_payment_subject_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    def __repr__(self) -> str:
        return f"<Payment {self.pk} {self.provider} {self.reference} {self.status} {self.amount}>"

    @property
    def subject_label(self) -> str:
        """``app_label.model`` of the subject, the key of its registered handlers."""
        return f"{self.subject_type.app_label}.{self.subject_type.model}"
