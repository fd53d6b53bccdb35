"""Payments: open a payment, send the resident to the provider, record what the provider or the
cashier reports, refund.

Remote calls (Stripe) never run inside a transaction (STYLE R3): the pending row is written in
the feature's own transaction; the checkout is created when the resident is sent to pay, and a
refund is asked for before the record changes. Both calls carry an idempotency key derived from
the payment, so doing either twice (a double click, a retried request) charges or refunds once.
A callback is verified by the provider (signature, freshness) *before* the transaction, then
recorded under a row lock: a replayed callback changes nothing, and the subject's app hears
"paid" once (``Payable.on_paid``, inside the same transaction).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import ServiceError
from municipalities.models import (
    PAID_AFTER_CANCEL,
    Department,
    Municipality,
    Payment,
    PaymentStatus,
    Resident,
    StaffUser,
)
from municipalities.payments import (
    CallbackRequest,
    PaymentProviderError,
    PaymentVerificationError,
    get_provider,
    payable_for,
)

logger = logging.getLogger(__name__)


class PaymentError(ServiceError):
    """A payment that cannot be opened, recorded or refunded; the message says why in Japanese."""


def _subject_filter(subject: models.Model) -> dict[str, Any]:
    return {"subject_type": ContentType.objects.get_for_model(subject), "subject_id": subject.pk}


def payment_open(
    *,
    subject: models.Model,
    department: Department,
    resident: Resident | None,
    amount: int,
    provider_code: str,
    description: str,
) -> Payment:
    """A pending payment of ``amount`` for ``subject``, inside the caller's transaction.

    The counter gets its receipt number at once (nothing remote); an online provider gets its
    checkout when the resident is sent to pay (``payment_checkout_url``). Audited.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_open() runs inside the feature's transaction")
    provider = get_provider(provider_code)
    if not provider.is_configured(department.municipality):
        raise PaymentError(
            _("この支払方法は設定されていないため使えません。窓口にお問い合わせください。"),
            code="not_configured",
        )
    payment = Payment.objects.create(
        department=department,
        resident=resident,
        provider=provider_code,
        amount=amount,
        description=description[:200],
        reference=f"new-{uuid.uuid4().hex}",
        **_subject_filter(subject),
    )
    if not provider.online:
        checkout = provider.create_checkout(
            municipality=department.municipality,
            payment_id=payment.pk,
            amount=amount,
            description=description,
            return_url="",
        )
        payment.reference = checkout.reference
        payment.save(update_fields=["reference", "updated_at"])
    audit_log(
        actor=None,
        action="municipalities.payment.created",
        obj=payment,
        data={"provider": provider_code, "amount": amount},
    )
    return payment


def payment_checkout_url(*, payment: Payment, return_url: str) -> str:
    """Where to send the resident to pay ``payment`` (pending, online). Not a transaction.

    The provider's checkout is created once (its idempotency key is the payment's id, so a
    second call returns the same checkout), and its reference is recorded. Raises PaymentError.
    """
    if payment.status != PaymentStatus.PENDING:
        raise PaymentError(_("このお支払いは手続きが済んでいます。"), code="status")
    if payment.detail.get("redirect_url"):
        return payment.detail["redirect_url"]
    provider = get_provider(payment.provider)
    try:
        checkout = provider.create_checkout(
            municipality=payment.department.municipality,
            payment_id=payment.pk,
            amount=payment.amount,
            description=payment.description,
            return_url=return_url,
        )
    except PaymentProviderError:
        logger.exception("checkout of payment %s failed", payment.pk)
        raise PaymentError(
            _("決済サービスにつながりませんでした。しばらくしてからもう一度お試しください。"), code="provider"
        ) from None
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if not locked.detail.get("redirect_url"):
            locked.reference = checkout.reference
            locked.detail = {**locked.detail, **checkout.detail, "redirect_url": checkout.redirect_url or ""}
            locked.save(update_fields=["reference", "detail", "updated_at"])
    return checkout.redirect_url or ""


@transaction.atomic(durable=True)
def _record_outcome(
    *, provider_code: str, reference: str, outcome: str, amount: int, detail: dict
) -> Payment:
    payment = (
        # of=("self",): lock the payment only, not the joined department.
        Payment.objects.select_for_update(of=("self",))
        .select_related("department__municipality", "subject_type")
        .filter(provider=provider_code, reference=reference)
        .first()
    )
    if payment is None:
        raise PaymentError(_("お支払いの記録が見つかりません。"), code="unknown")
    if amount != payment.amount:
        raise PaymentError(_("お支払い金額が一致しません。窓口にお問い合わせください。"), code="amount")
    if outcome == "paid" and payment.status in (PaymentStatus.CANCELLED, PaymentStatus.FAILED):
        return _record_paid_after_cancel(payment, amount=amount, detail=detail)
    if payment.status != PaymentStatus.PENDING:
        return payment  # a replayed or late notification: already recorded
    payment.detail = {**payment.detail, **detail}
    if outcome == "pending":  # e.g. a konbini slip was issued; paid later
        payment.save(update_fields=["detail", "updated_at"])
        return payment
    now = timezone.now()
    if outcome == "paid":
        payment.status, payment.paid_at = PaymentStatus.PAID, now
    else:
        payment.status = PaymentStatus.FAILED if outcome == "failed" else PaymentStatus.CANCELLED
        payment.failed_at = now
    payment.save(update_fields=["status", "paid_at", "failed_at", "detail", "updated_at"])
    audit_log(
        actor=None, action=f"municipalities.payment.{payment.status}", obj=payment, data={"amount": amount}
    )
    if payment.status == PaymentStatus.PAID:
        payable_for(payment).on_paid(payment)
    return payment


def _record_paid_after_cancel(payment: Payment, *, amount: int, detail: dict) -> Payment:
    """The provider took the money for a payment given up here: its subject lapsed or was
    cancelled (or paid at the counter) while the resident was still paying, e.g. a konbini slip
    paid late. The money is recorded as paid, flagged ``paid_after_cancel``, and listed on the
    reconciliation page to refund; the subject is left as it is (its frame may be someone
    else's by now)."""
    payment.status, payment.paid_at = PaymentStatus.PAID, timezone.now()
    payment.detail = {**payment.detail, **detail, PAID_AFTER_CANCEL: True}
    payment.save(update_fields=["status", "paid_at", "detail", "updated_at"])
    audit_log(
        actor=None,
        action="municipalities.payment.paid_after_cancel",
        obj=payment,
        data={"amount": amount},
    )
    logger.warning("payment %s paid after it was given up: to refund", payment.reference)
    return payment


def payment_record_callback(
    *, provider_code: str, municipality: Municipality | None, request: CallbackRequest
) -> Payment | None:
    """Record a signed result notification from an online provider.

    Raises PaymentVerificationError for a forged, malformed or stale callback (nothing is
    written), PaymentError for an unknown payment or a wrong amount. Idempotent. Returns None
    for a notification that is not about a payment's outcome.
    """
    provider = get_provider(provider_code)
    if not provider.online:
        raise PaymentVerificationError("this provider has no callback")
    result = provider.verify_callback(municipality=municipality, request=request)
    if result is None:
        return None
    return _record_outcome(
        provider_code=provider_code,
        reference=result.reference,
        outcome=result.outcome,
        amount=result.amount,
        detail=result.detail,
    )


def payment_record_at_counter(
    *,
    subject: models.Model,
    department: Department,
    resident: Resident | None,
    amount: int,
    description: str,
    actor: StaffUser,
    receipt_number: str = "",
) -> Payment:
    """The fee of ``subject`` was paid at the counter: its pending payment (or a new one) becomes
    paid, other pending attempts are cancelled. Inside the caller's transaction (the feature's
    service checks the staff member's right on the subject). Audited."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_record_at_counter() runs inside the feature's transaction")
    pending = Payment.objects.select_for_update().filter(
        status=PaymentStatus.PENDING, **_subject_filter(subject)
    )
    payment = pending.order_by("pk").first()
    if payment is None:
        payment = payment_open(
            subject=subject,
            department=department,
            resident=resident,
            amount=amount,
            provider_code="counter",
            description=description,
        )
    now = timezone.now()
    payment.status, payment.paid_at, payment.recorded_by = PaymentStatus.PAID, now, actor
    payment.provider = "counter"
    payment.detail = {**payment.detail, "receipt_number": receipt_number}
    payment.save(update_fields=["status", "paid_at", "recorded_by", "provider", "detail", "updated_at"])
    pending.exclude(pk=payment.pk).update(status=PaymentStatus.CANCELLED, failed_at=now, updated_at=now)
    audit_log(
        actor=actor,
        action="municipalities.payment.paid",
        obj=payment,
        data={"amount": payment.amount, "receipt_number": receipt_number},
    )
    return payment


def payments_cancel_pending(*, subject: models.Model) -> int:
    """Cancel the subject's pending payments (the resident withdrew). Inside the caller's transaction."""
    now = timezone.now()
    return Payment.objects.filter(status=PaymentStatus.PENDING, **_subject_filter(subject)).update(
        status=PaymentStatus.CANCELLED, failed_at=now, updated_at=now
    )


def payment_refund(*, payment: Payment, actor: StaffUser, reason: str, amount: int | None = None) -> Payment:
    """Refund a paid payment through its provider (所属長). Reason required; audited.

    ``amount`` refunds part of it (a facility keeps a cancellation fee); default all of it.
    The provider is asked first, outside any transaction, with the idempotency key
    ``refund-<payment id>`` (asking twice refunds once); then the record changes under a lock.
    Raises PaymentError.
    """
    permissions.require(
        actor,
        "refund",
        payment,
        error=PaymentError,
        message=_("この課の支払いを返金する権限がありません（所属長が行います）。"),
    )
    if not reason.strip():
        raise PaymentError(_("返金の理由を入力してください。"), code="reason")
    payment = Payment.objects.select_related("department__municipality").get(pk=payment.pk)
    if payment.status != PaymentStatus.PAID:
        raise PaymentError(
            _("%(ref)s は支払済みではないため返金できません。") % {"ref": payment.reference}, code="status"
        )
    refund_amount = payment.amount if amount is None else amount
    if not 0 < refund_amount <= payment.amount:
        raise PaymentError(_("返金額が正しくありません。"), code="amount")
    try:
        result = get_provider(payment.provider).refund(
            municipality=payment.department.municipality,
            reference=payment.reference,
            amount=refund_amount,
            detail=payment.detail,
            key=f"refund-{payment.pk}",
        )
    except PaymentProviderError:
        logger.exception("refund of payment %s failed", payment.pk)
        raise PaymentError(
            _("決済サービスで返金できませんでした。時間をおいてもう一度お試しください。"), code="provider"
        ) from None
    return _refund_record(
        payment=payment, actor=actor, reason=reason.strip(), detail=result.detail, amount=refund_amount
    )


@transaction.atomic(durable=True)
def _refund_record(
    *, payment: Payment, actor: StaffUser, reason: str, detail: dict[str, Any], amount: int
) -> Payment:
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == PaymentStatus.REFUNDED:
        return payment  # refunded by a concurrent request with the same key
    payment.status, payment.refunded_at = PaymentStatus.REFUNDED, timezone.now()
    payment.detail = {**payment.detail, "refund": detail, "refund_reason": reason, "refund_amount": amount}
    payment.save(update_fields=["status", "refunded_at", "detail", "updated_at"])
    audit_log(
        actor=actor,
        action="municipalities.payment.refunded",
        obj=payment,
        data={"amount": amount, "reason": reason},
    )
    return payment
