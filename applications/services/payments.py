"""Payments: create a checkout, record a gateway callback or a counter payment, refund.

A callback is verified by the provider (signature, freshness) *before* the transaction, then
recorded under a row lock on the payment: a replayed callback changes nothing, and the
submission moves from 支払待ち to 受付 once.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications import workflow
from applications.errors import ApplicationError
from applications.models import Payment, PaymentStatus, Submission
from applications.payments import Checkout, PaymentVerificationError, get_provider
from applications.services.submissions import transition_apply
from applications.workflow import SubmissionStatus as S
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.models import Resident, StaffUser

FINAL = {PaymentStatus.PAID, PaymentStatus.REFUNDED}


def payment_create(*, submission: Submission, provider_code: str | None = None) -> tuple[Payment, Checkout]:
    """A pending Payment for the submission's fee. Inside the caller's transaction.

    The sandbox and counter providers make no network call here; a real gateway whose
    checkout creation is remote would be called before the transaction and passed in.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_create() runs inside the service's transaction")
    code = provider_code or submission.payment_method
    provider = get_provider(code)
    payment = Payment.objects.create(
        submission=submission,
        provider=code,
        amount=submission.fee,
        reference=f"tmp-{submission.pk}-{timezone.now().timestamp()}",
    )
    checkout = provider.create_checkout(
        payment_id=payment.pk, amount=payment.amount, description=submission.form.title
    )
    payment.reference = checkout.reference
    payment.detail = {"redirect_url": checkout.redirect_url or ""}
    payment.save(update_fields=["reference", "detail", "updated_at"])
    audit_log(
        actor=None,
        action="applications.payment.created",
        obj=payment,
        data={"provider": code, "amount": payment.amount},
    )
    return payment, checkout


@transaction.atomic(durable=True)
def payment_restart(*, submission: Submission, resident: Resident) -> Payment:
    """The resident tries an online payment again after a failure or cancel."""
    submission = Submission.objects.select_related("form").get(pk=submission.pk)
    if submission.resident_id != resident.pk:
        raise ApplicationError(_("この申請は見つかりません。"))
    if submission.status != S.AWAITING_PAYMENT:
        raise ApplicationError(_("この申請はお支払いを待っていません。"))
    pending = submission.payments.filter(
        status=PaymentStatus.PENDING, provider=submission.payment_method
    ).first()
    if pending is not None:
        return pending
    payment, _checkout = payment_create(submission=submission)
    return payment


@transaction.atomic(durable=True)
def _record_outcome(
    *, provider_code: str, reference: str, outcome: str, amount: int, detail: dict
) -> Payment:
    payment = (
        # of=("self",): lock the payment only, not the joined submission, form and department.
        Payment.objects.select_for_update(of=("self",))
        .select_related("submission__form__department")
        .filter(provider=provider_code, reference=reference)
        .first()
    )
    if payment is None:
        raise ApplicationError(_("お支払いの記録が見つかりません。"))
    if amount != payment.amount:
        raise ApplicationError(_("お支払い金額が一致しません。窓口にお問い合わせください。"))
    if payment.status != PaymentStatus.PENDING:
        return payment  # a replayed or late notification: already recorded
    now = timezone.now()
    if outcome == "paid":
        payment.status, payment.paid_at = PaymentStatus.PAID, now
    else:
        payment.status = PaymentStatus.FAILED if outcome == "failed" else PaymentStatus.CANCELLED
        payment.failed_at = now
    payment.detail = {**payment.detail, **detail}
    payment.save(update_fields=["status", "paid_at", "failed_at", "detail", "updated_at"])
    audit_log(
        actor=None, action=f"applications.payment.{payment.status}", obj=payment, data={"amount": amount}
    )
    if outcome == "paid" and payment.submission.status == S.AWAITING_PAYMENT:
        transition_apply(
            submission=payment.submission,
            name="pay",
            by=workflow.SYSTEM,
            actor=None,
            data={"payment": payment.reference},
        )
    return payment


def payment_record_callback(*, provider_code: str, params: dict[str, str]) -> Payment:
    """Record a signed result notification from an online gateway.

    Raises PaymentVerificationError for a forged, malformed or stale callback (nothing is
    written), ApplicationError for an unknown payment or a wrong amount. Idempotent.
    """
    provider = get_provider(provider_code)
    if not provider.online:
        raise PaymentVerificationError("this provider has no callback")
    result = provider.verify_callback(params)
    return _record_outcome(
        provider_code=provider_code,
        reference=result.reference,
        outcome=result.outcome,
        amount=result.amount,
        detail=result.detail,
    )


@transaction.atomic(durable=True)
def payment_record_counter(*, submission: Submission, actor: StaffUser, receipt_number: str = "") -> Payment:
    """Staff record a fee paid at the counter (窓口払い); the submission goes to 受付."""
    permissions.require(
        actor,
        "process",
        submission,
        error=ApplicationError,
        message=_("この課の申請を処理する権限がありません。"),
    )
    submission = Submission.objects.select_related("form__department").get(pk=submission.pk)
    if submission.status != S.AWAITING_PAYMENT:
        raise ApplicationError(_("%(ref)s はお支払い待ちではありません。") % {"ref": submission.reference})
    payment = (
        Payment.objects.select_for_update()
        .filter(submission=submission, status=PaymentStatus.PENDING)
        .order_by("pk")
        .first()
    )
    if payment is None:
        payment, _checkout = payment_create(submission=submission, provider_code="counter")
    now = timezone.now()
    payment.status, payment.paid_at, payment.recorded_by = PaymentStatus.PAID, now, actor
    payment.provider = "counter"
    payment.detail = {**payment.detail, "receipt_number": receipt_number}
    payment.save(update_fields=["status", "paid_at", "recorded_by", "provider", "detail", "updated_at"])
    Payment.objects.filter(submission=submission, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.CANCELLED, failed_at=now
    )
    audit_log(
        actor=actor,
        action="applications.payment.paid",
        obj=payment,
        data={"amount": payment.amount, "receipt_number": receipt_number},
    )
    transition_apply(
        submission=submission, name="pay", by=workflow.STAFF, actor=actor, data={"payment": payment.reference}
    )
    return payment


@transaction.atomic(durable=True)
def payment_refund(*, payment: Payment, actor: StaffUser, reason: str) -> Payment:
    """Refund a paid payment through its provider (所属長). Reason required; audited."""
    permissions.require(
        actor,
        "refund",
        payment,
        error=ApplicationError,
        message=_("この課の支払いを返金する権限がありません（所属長が行います）。"),
    )
    if not reason.strip():
        raise ApplicationError(_("返金の理由を入力してください。"))
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != PaymentStatus.PAID:
        raise ApplicationError(
            _("%(ref)s は支払済みではないため返金できません。") % {"ref": payment.reference}
        )
    result = get_provider(payment.provider).refund(reference=payment.reference, amount=payment.amount)
    payment.status, payment.refunded_at = PaymentStatus.REFUNDED, timezone.now()
    payment.detail = {**payment.detail, "refund": result.detail, "refund_reason": reason.strip()}
    payment.save(update_fields=["status", "refunded_at", "detail", "updated_at"])
    audit_log(
        actor=actor,
        action="applications.payment.refunded",
        obj=payment,
        data={"amount": payment.amount, "reason": reason.strip()},
    )
    return payment
