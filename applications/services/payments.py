"""A submission's fee, through the core's payments: open it, try again online, record a counter
payment, and move the submission on when it is paid.

The payment record, the providers, callbacks and refunds are the core's
(``municipalities/services/payments.py``); this module is what paying means for a submission.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from applications import workflow
from applications.errors import ApplicationError
from applications.models import PaymentStatus, Submission
from applications.services.submissions import transition_apply
from applications.workflow import SubmissionStatus as S
from municipalities import permissions
from municipalities.models import Payment, Resident, StaffUser
from municipalities.services.payments import PaymentError, payment_open, payment_record_at_counter


def _description(submission: Submission) -> str:
    # What the fee is for, as the reconciliation groups it; the submission itself is the subject.
    return submission.form.title


def submission_payment_open(*, submission: Submission, provider_code: str | None = None) -> Payment:
    """A pending payment of the submission's fee. Inside the submitting service's transaction."""
    try:
        return payment_open(
            subject=submission,
            department=submission.form.department,
            resident=submission.resident,
            amount=submission.fee,
            provider_code=provider_code or submission.payment_method,
            description=_description(submission),
        )
    except PaymentError as exc:
        raise ApplicationError(exc.message, code=exc.code) from None


@transaction.atomic(durable=True)
def payment_restart(*, submission: Submission, resident: Resident) -> Payment:
    """The resident tries an online payment again after a failure or cancel: the pending
    payment of the submission's method, or a new one. Raises ApplicationError."""
    submission = Submission.objects.select_related("form__department__municipality", "resident").get(
        pk=submission.pk
    )
    if submission.resident_id != resident.pk:
        raise ApplicationError(_("この申請は見つかりません。"))
    if submission.status != S.AWAITING_PAYMENT:
        raise ApplicationError(_("この申請はお支払いを待っていません。"))
    pending = submission.payments.filter(
        status=PaymentStatus.PENDING, provider=submission.payment_method
    ).first()
    if pending is not None:
        return pending
    return submission_payment_open(submission=submission)


def submission_paid(payment: Payment) -> None:
    """The core recorded a paid payment of a submission (``Payable.on_paid``, inside its
    transaction): 支払待ち → 受付, once."""
    submission = Submission.objects.select_for_update().get(pk=payment.subject_id)
    if submission.status == S.AWAITING_PAYMENT:
        transition_apply(
            submission=submission,
            name="pay",
            by=workflow.SYSTEM,
            actor=None,
            data={"payment": payment.reference},
        )


def submission_resident_path(submission: Submission) -> str:
    return reverse("applications:submission_detail", kwargs={"reference": submission.reference})


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
    submission = Submission.objects.select_related("form__department__municipality", "resident").get(
        pk=submission.pk
    )
    if submission.status != S.AWAITING_PAYMENT:
        raise ApplicationError(_("%(ref)s はお支払い待ちではありません。") % {"ref": submission.reference})
    payment = payment_record_at_counter(
        subject=submission,
        department=submission.form.department,
        resident=submission.resident,
        amount=submission.fee,
        description=_description(submission),
        actor=actor,
        receipt_number=receipt_number,
    )
    transition_apply(
        submission=submission, name="pay", by=workflow.STAFF, actor=actor, data={"payment": payment.reference}
    )
    return payment
