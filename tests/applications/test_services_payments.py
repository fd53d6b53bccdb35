"""A submission's fee through the core's payments: sandbox success / failure / cancel / forged and
stale callbacks, counter payments, refunds."""

from __future__ import annotations

import time

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from applications.errors import ApplicationError
from applications.services import payment_record_counter, payment_restart, submission_transition
from applications.workflow import SubmissionStatus as S
from municipalities.models import AuditEntry, Payment, PaymentStatus, SimulatedDelivery
from municipalities.payments import CallbackRequest, PaymentVerificationError
from municipalities.payments.sandbox import signed_result
from municipalities.services.payments import (
    PaymentError,
    payment_checkout_url,
    payment_record_callback,
    payment_refund,
)
from tests.applications.factories import submit
from tests.conftest import make_staff, shown_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def somu_head(town, somu):
    return make_staff("somu_head", town, "head", somu)


def opened(payment: Payment) -> Payment:
    """The resident is sent to the gateway: the checkout exists from then on."""
    payment_checkout_url(payment=payment, return_url="https://example.jp/back/")
    payment.refresh_from_db()
    return payment


def record(params: dict[str, str]) -> Payment | None:
    return payment_record_callback(
        provider_code="sandbox", municipality=None, request=CallbackRequest(params=params)
    )


@pytest.fixture
def online(fee_form, resident):
    submission = submit(fee_form, resident, payment_method="sandbox")
    return submission, opened(submission.payments.get())


def callback(payment: Payment, outcome: str, **overrides) -> Payment:
    params = signed_result(reference=payment.reference, outcome=outcome, amount=payment.amount)
    params.update(overrides)
    return record(params)


def test_an_online_payment_is_pending_until_the_resident_opens_the_checkout(fee_form, resident):
    # given
    submission = submit(fee_form, resident, payment_method="sandbox")
    payment = submission.payments.get()
    assert submission.status == S.AWAITING_PAYMENT
    assert (payment.status, payment.amount, payment.department, payment.resident) == (
        "pending",
        300,
        fee_form.department,
        resident,
    )
    assert payment.description == fee_form.title and not payment.detail.get("redirect_url")
    # when: the resident is sent to pay, twice (a double tap)
    first = payment_checkout_url(payment=payment, return_url="https://example.jp/back/")
    again = payment_checkout_url(
        payment=Payment.objects.get(pk=payment.pk), return_url="https://example.jp/back/"
    )
    # then: one checkout
    payment.refresh_from_db()
    assert payment.reference.startswith("SBX-")
    assert first == again == payment.detail["redirect_url"]
    assert first.endswith(f"/sandbox/checkout/{payment.reference}/")


def test_success_moves_to_received_once(online, resident, django_capture_on_commit_callbacks):
    submission, payment = online
    with django_capture_on_commit_callbacks(execute=True):
        paid = callback(payment, "paid")
        replay = callback(payment, "paid")  # the gateway notifies twice
    submission.refresh_from_db()
    assert paid.status == PaymentStatus.PAID and paid.paid_at
    assert replay.pk == paid.pk
    assert submission.status == S.RECEIVED and submission.paid_at
    assert (
        AuditEntry.objects.filter(action="applications.submission.pay", object_id=str(submission.pk)).count()
        == 1
    )
    texts = [
        shown_text(d.messages[0])
        for d in SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    ]
    assert any("お支払いを確認しました" in t for t in texts)


@pytest.mark.parametrize(
    ("outcome", "status"), [("failed", PaymentStatus.FAILED), ("cancelled", PaymentStatus.CANCELLED)]
)
def test_failure_and_cancel_keep_waiting_and_allow_a_retry(online, resident, outcome, status):
    submission, payment = online
    result = callback(payment, outcome)
    submission.refresh_from_db()
    assert result.status == status and result.failed_at
    assert submission.status == S.AWAITING_PAYMENT
    retry = payment_restart(submission=submission, resident=resident)
    assert retry.pk != payment.pk and retry.status == PaymentStatus.PENDING
    callback(opened(retry), "paid")
    submission.refresh_from_db()
    assert submission.status == S.RECEIVED


@pytest.mark.parametrize(
    "overrides",
    [
        {"signature": "0" * 64},  # forged
        {"amount": "1"},  # amount changed after signing
        {"outcome": "paid", "signature": ""},
        {"ts": str(int(time.time()) - 7200)},  # re-signed below with an old timestamp
    ],
)
def test_forged_or_stale_callback_changes_nothing(online, overrides):
    submission, payment = online
    if "ts" in overrides:
        params = signed_result(
            reference=payment.reference, outcome="paid", amount=payment.amount, ts=int(overrides["ts"])
        )
    else:
        params = {
            **signed_result(reference=payment.reference, outcome="paid", amount=payment.amount),
            **overrides,
        }
    with pytest.raises(PaymentVerificationError):
        record(params)
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert submission.status == S.AWAITING_PAYMENT


def test_missing_parameters_are_refused(online):
    with pytest.raises(PaymentVerificationError):
        record({"reference": "x"})


def test_signed_callback_for_an_unknown_payment(online):
    with pytest.raises(PaymentError, match="見つかりません"):
        record(signed_result(reference="SBX-nope", outcome="paid", amount=300))


def test_signed_callback_with_the_wrong_amount(online):
    _submission, payment = online
    params = signed_result(reference=payment.reference, outcome="paid", amount=1)
    with pytest.raises(PaymentError, match="金額が一致しません"):
        record(params)


def test_counter_payment_recorded_by_staff(fee_form, resident, somu_editor):
    submission = submit(fee_form, resident, payment_method="counter")
    with pytest.raises(ApplicationError, match="「支払待ち」の申請は「審査を開始」できません"):
        submission_transition(submission=submission, name="review", actor=somu_editor)
    payment = payment_record_counter(submission=submission, actor=somu_editor, receipt_number="R-12")
    submission.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and payment.recorded_by == somu_editor
    assert payment.detail["receipt_number"] == "R-12"
    assert submission.status == S.RECEIVED
    with pytest.raises(ApplicationError, match="お支払い待ちではありません"):
        payment_record_counter(submission=submission, actor=somu_editor)


def test_counter_payment_of_another_department_is_denied(fee_form, resident, kenko_editor):
    submission = submit(fee_form, resident, payment_method="counter")
    with pytest.raises(ApplicationError, match="権限がありません"):
        payment_record_counter(submission=submission, actor=kenko_editor)


def test_one_paid_payment_per_submission_constraint(online):
    submission, payment = online
    callback(payment, "paid")
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            subject=submission,
            department=submission.form.department,
            provider="counter",
            amount=300,
            reference="dup",
            status="paid",
            paid_at=timezone.now(),
        )


def test_refund_is_for_heads_with_a_reason(online, somu_editor, somu_head):
    _submission, payment = online
    payment = callback(payment, "paid")
    with pytest.raises(PaymentError, match="権限がありません"):
        payment_refund(payment=payment, actor=somu_editor, reason="誤請求")
    with pytest.raises(PaymentError, match="理由"):
        payment_refund(payment=payment, actor=somu_head, reason="")
    refunded = payment_refund(payment=payment, actor=somu_head, reason="誤請求")
    assert refunded.status == PaymentStatus.REFUNDED and refunded.refunded_at
    assert AuditEntry.objects.filter(action="municipalities.payment.refunded").exists()
    with pytest.raises(PaymentError, match="返金できません"):
        payment_refund(payment=refunded, actor=somu_head, reason="二重")


def test_submit_and_pay_in_one_go_is_one_message(fee_form, resident, django_capture_on_commit_callbacks):
    from unittest import mock

    from applications.tasks import submission_notify_task

    # given the resident submits with an online payment: the 支払待ち notice is delayed, not sent
    with (
        mock.patch("municipalities.tasks_queue.enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        submission = submit(fee_form, resident, payment_method="sandbox")
    [(args, kwargs)] = [(c.args, c.kwargs) for c in enqueue.call_args_list if "notify" in c.args[0]]
    assert args[1:] == (submission.pk, 1, S.AWAITING_PAYMENT) and kwargs["countdown"] >= 600
    # when they pay at once, and the delayed notice runs afterwards
    with django_capture_on_commit_callbacks(execute=True):
        callback(opened(submission.payments.get()), "paid")
    assert submission_notify_task.apply(args=[submission.pk, 1, S.AWAITING_PAYMENT]).get() == "superseded"
    # then the resident got one message, which says both what was paid and that it was received
    texts = [
        shown_text(d.messages[0])
        for d in SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    ]
    assert len(texts) == 1 and "お支払いを確認しました。申請を受け付けました。" in texts[0]


def test_submit_and_pay_in_one_go_is_one_message_when_tasks_run_eagerly(
    fee_form, resident, django_capture_on_commit_callbacks
):
    """The demo runs tasks eagerly: the delayed 支払待ち notice runs at once, before the payment."""
    # given the resident submits with an online payment, tasks running in process (no mock)
    with django_capture_on_commit_callbacks(execute=True):
        submission = submit(fee_form, resident, payment_method="sandbox")
    # then nothing is pushed while they are at the checkout
    assert not SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).exists()
    # when they pay
    with django_capture_on_commit_callbacks(execute=True):
        callback(opened(submission.payments.get()), "paid")
    # then one message says both
    [delivery] = SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    assert "お支払いを確認しました。申請を受け付けました。" in shown_text(delivery.messages[0])


def test_a_resident_who_left_the_checkout_is_reminded_once_the_delay_passed(
    fee_form, resident, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from applications.models import Submission
    from applications.services.submissions import PAYMENT_NOTICE_DELAY_SECONDS
    from applications.tasks import submission_notify_task

    with django_capture_on_commit_callbacks(execute=True):
        submission = submit(fee_form, resident, payment_method="sandbox")
    assert submission_notify_task.apply(args=[submission.pk, 1, S.AWAITING_PAYMENT]).get() == "too-early"
    # when the worker runs it after the delay, and they have not paid
    Submission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - timedelta(seconds=PAYMENT_NOTICE_DELAY_SECONDS + 1)
    )
    assert submission_notify_task.apply(args=[submission.pk, 1, S.AWAITING_PAYMENT]).get() != "too-early"
    # then the 支払待ち notice goes out, once
    assert SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).count() == 1


def test_counter_payment_notice_is_not_delayed(fee_form, resident, django_capture_on_commit_callbacks):
    from unittest import mock

    with (
        mock.patch("municipalities.tasks_queue.enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        submission = submit(fee_form, resident, payment_method="counter")
    [kwargs] = [c.kwargs for c in enqueue.call_args_list if "notify" in c.args[0]]
    assert submission.status == S.AWAITING_PAYMENT and kwargs["countdown"] is None
