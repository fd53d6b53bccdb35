"""Submission services: submit once, workflow transitions, notices on commit, audit."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from applications.errors import ApplicationError
from applications.models import Submission
from applications.services import (
    form_close,
    form_copy,
    submission_cancel,
    submission_resubmit,
    submission_transition,
    submission_update,
)
from applications.workflow import SubmissionStatus as S
from municipalities.models import AuditEntry, SimulatedDelivery
from tests.applications.factories import FormFieldFactory, simple_form, submit
from tests.conftest import link_button, shown_text

pytestmark = pytest.mark.django_db


def pushes_to(resident) -> list[SimulatedDelivery]:
    return list(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id, endpoint="push").order_by("pk")
    )


def test_submit_creates_one_submission_with_reference_and_pushes_on_commit(
    form, resident, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submission = submit(form, resident)
    # then: nothing was pushed before the commit
    assert pushes_to(resident) == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert submission.status == S.RECEIVED
    assert submission.reference.startswith("A") and str(submission.pk) in submission.reference
    [push] = pushes_to(resident)
    assert submission.reference in shown_text(push.messages[0])
    assert form.completion_message in shown_text(push.messages[0])
    detail = reverse("applications:submission_detail", args=[submission.reference])
    assert link_button(push.messages[0]) == ("申請状況を見る", detail)
    assert push.messages[0]["altText"] == f"【{form.title}】申請を受け付けました。"
    assert AuditEntry.objects.filter(
        action="applications.submission.submitted", object_id=str(submission.pk)
    ).exists()


def test_submit_is_idempotent_per_token(form, resident, django_capture_on_commit_callbacks):
    token = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        first = submit(form, resident, token=token)
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        again = submit(form, resident, token=token)
    assert again.pk == first.pk
    assert Submission.objects.count() == 1
    assert second_callbacks == []  # no second notice
    assert len(pushes_to(resident)) == 1


def test_idempotency_is_backed_by_a_unique_constraint(form, resident):
    submission = submit(form, resident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.create(
            form=form, resident=resident, reference="X1", idempotency_token=submission.idempotency_token
        )


def test_closed_form_refuses_and_saves_nothing(form, resident, kenko_editor):
    form_close(form=form, actor=kenko_editor)
    with pytest.raises(ApplicationError, match="現在受け付けていません"):
        submit(form, resident)
    assert Submission.objects.count() == 0


def test_unpublished_form_refuses(kenko, resident):
    with pytest.raises(ApplicationError, match="現在受け付けていません"):
        submit(simple_form(kenko, is_published=False), resident)


def test_missing_required_answer_rolls_everything_back(form, resident):
    with pytest.raises(ApplicationError, match="「氏名」が入力されていません"):
        submit(form, resident, answers={"name": ""})
    assert Submission.objects.count() == 0
    assert not AuditEntry.objects.filter(action="applications.submission.submitted").exists()


def test_form_of_another_town_is_not_found(other_department, resident):
    with pytest.raises(ApplicationError, match="見つかりません"):
        submit(simple_form(other_department), resident)


def test_one_per_resident(kenko, resident, other_resident):
    form = simple_form(kenko, one_per_resident=True)
    first = submit(form, resident)
    with pytest.raises(ApplicationError, match="お一人 1 件まで"):
        submit(form, resident)
    submit(form, other_resident)  # someone else may
    submission_cancel(submission=first, resident=resident)
    submit(form, resident)  # after withdrawing, again


def test_one_live_per_resident_constraint(kenko, resident):
    form = simple_form(kenko, one_per_resident=True)
    submit(form, resident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.create(form=form, resident=resident, reference="X2", one_per_resident=True)


def test_status_check_constraint(form, resident):
    submission = submit(form, resident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(status="lost")


def test_fee_needs_an_accepted_payment_method(fee_form, resident):
    with pytest.raises(ApplicationError, match="支払方法を選んでください"):
        submit(fee_form, resident, payment_method="")
    with pytest.raises(ApplicationError, match="支払方法を選んでください"):
        submit(fee_form, resident, payment_method="bitcoin")


def test_fee_waits_for_payment(fee_form, resident):
    submission = submit(fee_form, resident, payment_method="counter")
    assert submission.status == S.AWAITING_PAYMENT
    [payment] = submission.payments.all()
    assert (payment.amount, payment.status, payment.provider) == (300, "pending", "counter")


def test_staff_workflow_audited_and_notified(
    form, resident, kenko_editor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submit(form, resident)
    # when: three changes commit before any notice task runs (a busy worker)
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(submission=submission, name="review", actor=kenko_editor)
        submission_transition(submission=submission, name="approve", actor=kenko_editor)
        submission_transition(submission=submission, name="complete", actor=kenko_editor)
    submission.refresh_from_db()
    assert submission.status == S.COMPLETED
    assert submission.assignee == kenko_editor  # who started the review
    assert submission.reviewed_at and submission.decided_at and submission.completed_at
    assert submission.version == 4
    actions = list(AuditEntry.objects.filter(object_id=str(submission.pk)).values_list("action", flat=True))
    assert {
        "applications.submission.review",
        "applications.submission.approve",
        "applications.submission.complete",
    } <= set(actions)
    texts = [shown_text(p.messages[0]) for p in pushes_to(resident)]
    assert len(texts) == 4
    assert "「審査中」" in texts[1] and "「承認」" in texts[2] and "「完了」" in texts[3]
    retry_keys = {p.retry_key for p in pushes_to(resident)}
    assert len(retry_keys) == 4


def test_refused_transition_changes_nothing(form, resident, kenko_editor):
    submission = submit(form, resident)
    with pytest.raises(ApplicationError, match="「受付」の申請は「承認」できません"):
        submission_transition(submission=submission, name="approve", actor=kenko_editor)
    submission.refresh_from_db()
    assert (submission.status, submission.version) == (S.RECEIVED, 1)


def test_reason_required_for_correction_and_rejection(form, resident, kenko_editor):
    submission = submit(form, resident)
    for name in ("request_correction", "reject"):
        with pytest.raises(ApplicationError, match="理由を入力してください"):
            submission_transition(submission=submission, name=name, actor=kenko_editor, reason=" ")


def test_viewer_and_other_department_may_not_process(form, resident, kenko_viewer, somu_editor):
    submission = submit(form, resident)
    for actor in (kenko_viewer, somu_editor):
        with pytest.raises(ApplicationError, match="権限がありません"):
            submission_transition(submission=submission, name="review", actor=actor)


def test_concurrent_change_loses_with_a_message(form, resident, kenko_editor, kenko_head):
    # given: two staff members opened the same submission
    submission = submit(form, resident)
    stale = Submission.objects.get(pk=submission.pk)
    submission_transition(submission=submission, name="review", actor=kenko_head)
    # when: the second one acts on what they saw (受付)
    with pytest.raises(ApplicationError, match="「審査中」の申請は「審査を開始」できません"):
        submission_transition(submission=stale, name="review", actor=kenko_editor)


def test_correction_then_resubmit(form, resident, kenko_editor, django_capture_on_commit_callbacks):
    # given
    submission = submit(form, resident)
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(
            submission=submission, name="request_correction", actor=kenko_editor, reason="氏名は戸籍どおりに"
        )
    notice = pushes_to(resident)[-1].messages[0]
    assert "氏名は戸籍どおりに" in shown_text(notice)
    # the signed link that reopens the form
    edit = reverse("applications:submission_edit", args=[submission.reference])
    assert link_button(notice) == ("フォームを開く", edit)
    # when
    token = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        resubmitted = submission_resubmit(
            submission=submission,
            resident=resident,
            answers={"name": "山田 花子", "note": "直しました"},
            attachment_ids={},
            token=token,
        )
        again = submission_resubmit(
            submission=submission,
            resident=resident,
            answers={"name": "山田 花子", "note": "直しました"},
            attachment_ids={},
            token=token,
        )
    # then
    assert resubmitted.status == S.RECEIVED and again.status == S.RECEIVED
    assert resubmitted.answers["note"] == "直しました"
    assert resubmitted.status_reason == ""
    entry = AuditEntry.objects.get(action="applications.submission.resubmit", object_id=str(submission.pk))
    assert entry.data["changed_fields"] == ["note"]


def test_resident_cannot_resubmit_someone_elses(form, resident, other_resident, kenko_editor):
    submission = submit(form, resident)
    submission_transition(submission=submission, name="request_correction", actor=kenko_editor, reason="x")
    with pytest.raises(ApplicationError, match="見つかりません"):
        submission_resubmit(
            submission=submission,
            resident=other_resident,
            answers={"name": "x"},
            attachment_ids={},
            token=uuid.uuid4(),
        )


def test_cancel_before_review_only(form, resident, kenko_editor):
    first = submit(form, resident)
    cancelled = submission_cancel(submission=first, resident=resident)
    assert cancelled.status == S.CANCELLED and cancelled.cancelled_at
    second = submit(form, resident)
    submission_transition(submission=second, name="review", actor=kenko_editor)
    with pytest.raises(ApplicationError, match="取下げ"):
        submission_cancel(submission=second, resident=resident)


def test_cancel_with_pending_payment_cancels_it(fee_form, resident):
    submission = submit(fee_form, resident, payment_method="sandbox")
    submission_cancel(submission=submission, resident=resident)
    assert list(submission.payments.values_list("status", flat=True)) == ["cancelled"]


def test_staff_memo_assignee_and_staff_only_answers(form, resident, kenko_editor, kenko_head, somu_editor):
    FormFieldFactory(form=form, key="office_no", label="処理番号", staff_only=True)
    submission = submit(form, resident)
    updated = submission_update(
        submission=submission,
        actor=kenko_editor,
        memo="電話で確認済み",
        assignee=kenko_head,
        staff_answers={"office_no": "123", "name": "改ざん"},
    )
    assert updated.memo == "電話で確認済み" and updated.assignee == kenko_head
    assert (
        updated.answers["office_no"] == "123" and updated.answers["name"] == "山田 花子"
    )  # resident answers untouched
    entry = AuditEntry.objects.get(action="applications.submission.updated")
    assert entry.data["memo"] == ["", "電話で確認済み"]
    with pytest.raises(ApplicationError, match="担当者には"):
        submission_update(submission=submission, actor=kenko_editor, assignee=somu_editor)


def test_form_copy_and_close_keep_submissions(form, resident, kenko_editor):
    submission = submit(form, resident)
    copy = form_copy(form=form, actor=kenko_editor)
    assert copy.title.endswith("（コピー）") and not copy.is_published
    assert [f.key for f in copy.fields.all()] == [f.key for f in form.fields.all()]
    closed = form_close(form=form, actor=kenko_editor)
    assert closed.closed_at is not None and not closed.is_accepting()
    assert Submission.objects.filter(pk=submission.pk).exists()
    with pytest.raises(ApplicationError, match="すでに締め切って"):
        form_close(form=form, actor=kenko_editor)


def test_resubmission_notice_says_so(form, resident, kenko_editor, django_capture_on_commit_callbacks):
    submission = submit(form, resident)
    submission_transition(submission=submission, name="request_correction", actor=kenko_editor, reason="x")
    with django_capture_on_commit_callbacks(execute=True):
        submission_resubmit(
            submission=submission,
            resident=resident,
            answers={"name": "山田 花子"},
            attachment_ids={},
            token=uuid.uuid4(),
        )
    assert "修正後の内容を受け付けました" in shown_text(pushes_to(resident)[-1].messages[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_with_one_token_make_one_submission(kenko, town):
    """A double tap that reaches two web processes at once: the UNIQUE constraint decides."""
    import threading

    from django.db import connection

    from tests.municipalities.factories import resident_in

    form = simple_form(kenko)
    resident = resident_in(town)
    token = uuid.uuid4()
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(submit(form, resident, token=token).pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert Submission.objects.filter(resident=resident).count() == 1
    assert len(set(results)) == 1


def test_acceptance_window_and_reopen(kenko, resident, kenko_editor):
    from datetime import timedelta

    from django.utils import timezone

    from applications.services.forms import form_reopen

    now = timezone.now()
    later = simple_form(kenko, opens_at=now + timedelta(days=1))
    over = simple_form(kenko, closes_at=now - timedelta(minutes=1), opens_at=now - timedelta(days=3))
    assert later.acceptance_label() == "受付前" and over.acceptance_label() == "受付終了"
    for form in (later, over):
        with pytest.raises(ApplicationError, match="現在受け付けていません"):
            submit(form, resident)
    open_form = simple_form(kenko)
    form_close(form=open_form, actor=kenko_editor)
    assert open_form.acceptance_label() == "締切済み"
    form_reopen(form=open_form, actor=kenko_editor)
    submit(open_form, resident)


def test_closes_after_opens_constraint(kenko):
    from django.utils import timezone

    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        simple_form(kenko, opens_at=now, closes_at=now)
