"""Submissions: submit (idempotent), resubmit after 要修正, staff transitions, cancel, memo.

Every status change goes through ``workflow.check_transition`` and a conditional UPDATE on
the current status (two staff members acting at once: one wins, the other gets a message),
bumps ``version`` and enqueues the resident's LINE notice on commit with a retry key made
of (submission, version).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from applications import workflow
from applications.errors import ApplicationError
from applications.models import ApplicationForm, Attachment, FieldKind, Submission
from applications.workflow import SubmissionStatus as S
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.models import PaymentMethod, Resident, StaffUser
from municipalities.services.payments import payments_cancel_pending
from municipalities.tasks_queue import enqueue_on_commit

if TYPE_CHECKING:
    from applications.forms import CheckedFile

STAGED_MAX_AGE = timedelta(days=1)

# Timestamp set when a submission enters a status.
STAMPS = {
    S.RECEIVED: None,
    S.IN_REVIEW: "reviewed_at",
    S.APPROVED: "decided_at",
    S.REJECTED: "decided_at",
    S.COMPLETED: "completed_at",
    S.CANCELLED: "cancelled_at",
}


# A resident who submits and pays online in one go is sent to checkout at once: the 支払待ち
# notice waits this long and is dropped when the payment arrived first, so they get one
# message (「お支払いを確認しました。申請を受け付けました。」), not two within a minute.
PAYMENT_NOTICE_DELAY_SECONDS = 15 * 60


def _notify_on_commit(submission: Submission) -> None:
    online_payment = (
        submission.status == S.AWAITING_PAYMENT
        and submission.version == 1
        and submission.payment_method
        and submission.payment_method != PaymentMethod.COUNTER
    )
    enqueue_on_commit(
        "applications.tasks.submission_notify_task",
        submission.pk,
        submission.version,
        submission.status,
        countdown=PAYMENT_NOTICE_DELAY_SECONDS if online_payment else None,
    )


def _require_atomic() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("must run inside the service's transaction")


def _form_for_resident(form: ApplicationForm, resident: Resident) -> None:
    if form.department.municipality_id != resident.municipality_id:
        raise ApplicationError(_("このフォームは見つかりません。"))


def _check_required(form: ApplicationForm, answers: dict[str, Any], file_keys: set[str]) -> None:
    for field in form.fields.all():
        if field.staff_only or not field.required or not field.takes_input:
            continue
        present = (
            field.key in file_keys
            if field.kind == FieldKind.FILE
            else answers.get(field.key) not in (None, "", [], False)
        )
        if not present:
            raise ApplicationError(_("「%(label)s」が入力されていません。") % {"label": field.label})


@transaction.atomic(durable=True)
def attachment_stage(
    *, form: ApplicationForm, resident: Resident, files: dict[str, CheckedFile]
) -> dict[str, int]:
    """Keep checked uploads in private storage until the resident confirms (staged, no submission).

    Returns {field key: attachment id}. Staged files older than a day are purged by
    ``attachments_purge_stale``.
    """
    _form_for_resident(form, resident)
    staged: dict[str, int] = {}
    for key, checked in files.items():
        attachment = Attachment(
            form=form,
            resident=resident,
            field_key=key,
            original_name=(checked.upload.name or "file")[-255:],
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
        )
        extension = {
            "application/pdf": "pdf",
            "image/jpeg": "jpg",
            "image/png": "png",
            "image/heic": "heic",
            "image/gif": "gif",
        }
        attachment.file.save(
            f"{uuid.uuid4().hex}.{extension[checked.content_type]}", checked.upload, save=False
        )
        attachment.save()
        staged[key] = attachment.pk
    return staged


def _claim_attachments(
    *, submission: Submission, resident: Resident, attachment_ids: dict[str, int]
) -> set[str]:
    """Attach staged files to the submission; replaced files of the same field are removed."""
    _require_atomic()
    if not attachment_ids:
        return set()
    rows = list(
        Attachment.objects.filter(
            pk__in=attachment_ids.values(),
            resident=resident,
            form_id=submission.form_id,
            submission__isnull=True,
        )
    )
    if len(rows) != len(attachment_ids):
        raise ApplicationError(_("添付ファイルの有効期限が切れました。もう一度ファイルを選んでください。"))
    old = list(submission.attachments.filter(field_key__in=[r.field_key for r in rows]))
    for attachment in old:
        name = attachment.file.name
        storage = attachment.file.storage
        attachment.delete()
        transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))
    Attachment.objects.filter(pk__in=[r.pk for r in rows]).update(submission=submission)
    return {r.field_key for r in rows}


def _reference(submission: Submission) -> str:
    local = timezone.localtime(submission.submitted_at)
    return f"A{local:%y%m%d}-{submission.pk:05d}"


@transaction.atomic(durable=True)
def submission_submit(
    *,
    form: ApplicationForm,
    resident: Resident,
    answers: dict[str, Any],
    attachment_ids: dict[str, int],
    token: uuid.UUID,
    payment_method: str = "",
) -> tuple[Submission, bool]:
    """Submit a resident's application once. Returns (submission, created).

    The same ``token`` (one per filled-in form: a double tap, a retry, a reload) returns the
    submission made the first time (UNIQUE resident+token). Raises ApplicationError when the
    form is closed, a required answer is missing, the resident already has a live submission
    on a one-per-resident form, or the payment method is not accepted. A form with a fee
    creates a pending Payment and waits in 支払待ち. Enqueues the 受付番号 notice on commit.
    """
    existing = Submission.objects.filter(resident=resident, idempotency_token=token).first()
    if existing is not None:
        return existing, False
    form = ApplicationForm.objects.select_related("department").get(pk=form.pk)
    _form_for_resident(form, resident)
    if not form.is_accepting():
        raise ApplicationError(_("このフォームは現在受け付けていません。"))
    if form.fee and payment_method not in (form.payment_methods or []):
        raise ApplicationError(_("支払方法を選んでください。"), code="payment_method")
    has_live = Submission.objects.filter(
        form=form, resident=resident, status__in=workflow.LIVE_STATUSES
    ).exists()
    if form.one_per_resident and has_live:
        raise ApplicationError(
            _("このフォームはお一人 1 件までです。「申請状況」から申請中の内容をご確認ください。")
        )
    submission = Submission(
        form=form,
        resident=resident,
        reference=uuid.uuid4().hex[:20],
        idempotency_token=token,
        status=S.AWAITING_PAYMENT if form.fee else S.RECEIVED,
        answers=answers,
        fee=form.fee,
        payment_method=payment_method if form.fee else "",
        one_per_resident=form.one_per_resident,
    )
    try:
        with transaction.atomic():
            submission.save()
    except IntegrityError:
        existing = Submission.objects.filter(resident=resident, idempotency_token=token).first()
        if existing is not None:  # the same token won a race a moment ago
            return existing, False
        raise ApplicationError(
            _("このフォームはお一人 1 件までです。「申請状況」から申請中の内容をご確認ください。")
        ) from None
    submission.reference = _reference(submission)
    submission.save(update_fields=["reference"])
    file_keys = _claim_attachments(submission=submission, resident=resident, attachment_ids=attachment_ids)
    _check_required(form, answers, file_keys)
    if form.fee:
        from applications.services.payments import submission_payment_open  # payments imports this module

        submission_payment_open(submission=submission)
    audit_log(
        actor=None,
        actor_resident=resident,
        action="applications.submission.submitted",
        obj=submission,
        data={
            "form": form.pk,
            "status": submission.status,
            "fee": submission.fee,
            "payment_method": payment_method,
        },
    )
    _notify_on_commit(submission)
    return submission, True


def transition_apply(
    *,
    submission: Submission,
    name: str,
    by: str,
    actor: StaffUser | None,
    reason: str = "",
    data: dict | None = None,
) -> Submission:
    """Move ``submission`` along the workflow inside the caller's transaction (see module doc)."""
    _require_atomic()
    current = Submission.objects.get(pk=submission.pk)
    try:
        transition = workflow.check_transition(name=name, status=current.status, by=by, reason=reason)
    except workflow.TransitionRefused as exc:
        raise ApplicationError(exc.message) from None
    now = timezone.now()
    updates: dict[str, Any] = {"status": transition.target, "version": F("version") + 1, "updated_at": now}
    if transition.reason_required:
        updates["status_reason"] = reason.strip()
    elif transition.target in {S.IN_REVIEW, S.APPROVED, S.RECEIVED}:
        updates["status_reason"] = ""
    if stamp := STAMPS.get(transition.target):
        updates[stamp] = now
    if name == "pay":
        updates["paid_at"] = now
    if name == "review" and actor is not None and current.assignee_id is None:
        updates["assignee"] = actor
    changed = Submission.objects.filter(pk=current.pk, status=current.status).update(**updates)
    if not changed:
        raise ApplicationError(_("ほかの操作で状態が変わりました。画面を更新してください。"))
    submission.refresh_from_db()
    audit_log(
        actor=actor,
        actor_resident=submission.resident if by == workflow.RESIDENT and actor is None else None,
        action=f"applications.submission.{name}",
        obj=submission,
        data={
            "from": current.status,
            "to": transition.target,
            **({"reason": reason.strip()} if reason else {}),
            **(data or {}),
        },
    )
    _notify_on_commit(submission)
    return submission


@transaction.atomic(durable=True)
def submission_transition(
    *, submission: Submission, name: str, actor: StaffUser, reason: str = ""
) -> Submission:
    """A staff action on the workflow (審査開始, 要修正, 承認, 却下, 完了). Audited; notifies on commit.

    Raises ApplicationError when the transition is not allowed from the current status, the
    reason is missing, or another change got there first, or without the process permission
    in the form's department.
    """
    permissions.require(
        actor,
        "process",
        submission,
        error=ApplicationError,
        message=_("この課の申請を処理する権限がありません。"),
    )
    return transition_apply(submission=submission, name=name, by=workflow.STAFF, actor=actor, reason=reason)


@transaction.atomic(durable=True)
def submission_cancel(*, submission: Submission, resident: Resident) -> Submission:
    """The resident withdraws (取下げ) before review; a pending payment is cancelled too."""
    if submission.resident_id != resident.pk:
        raise ApplicationError(_("この申請は見つかりません。"))
    result = transition_apply(submission=submission, name="cancel", by=workflow.RESIDENT, actor=None)
    payments_cancel_pending(subject=submission)
    return result


@transaction.atomic(durable=True)
def submission_resubmit(
    *,
    submission: Submission,
    resident: Resident,
    answers: dict[str, Any],
    attachment_ids: dict[str, int],
    token: uuid.UUID,
) -> Submission:
    """The resident sends corrected answers after 要修正; back to 受付. Idempotent per token.

    Staff-only answers are kept; a new file replaces the old one of the same field.
    """
    submission = Submission.objects.select_related("form__department").get(pk=submission.pk)
    if submission.resident_id != resident.pk:
        raise ApplicationError(_("この申請は見つかりません。"))
    if submission.idempotency_token == token:
        return submission
    staff_keys = {f.key for f in submission.form.fields.all() if f.staff_only}
    merged = {k: v for k, v in submission.answers.items() if k in staff_keys}
    merged.update({k: v for k, v in answers.items() if k not in staff_keys})
    before = submission.answers
    submission.answers = merged
    submission.idempotency_token = token
    submission.save(update_fields=["answers", "idempotency_token", "updated_at"])
    _claim_attachments(submission=submission, resident=resident, attachment_ids=attachment_ids)
    file_keys = set(submission.attachments.values_list("field_key", flat=True))
    _check_required(submission.form, merged, file_keys)
    changed = sorted(k for k in set(before) | set(merged) if before.get(k) != merged.get(k))
    return transition_apply(
        submission=submission,
        name="resubmit",
        by=workflow.RESIDENT,
        actor=None,
        data={"changed_fields": changed},
    )


@transaction.atomic(durable=True)
def submission_update(
    *,
    submission: Submission,
    actor: StaffUser,
    memo: str | None = None,
    assignee: StaffUser | None | bool = False,
    staff_answers: dict[str, Any] | None = None,
) -> Submission:
    """Staff notes on a submission: memo, assignee, answers of staff-only fields. Audited."""
    permissions.require(
        actor,
        "change",
        submission,
        error=ApplicationError,
        message=_("この課の申請を変更する権限がありません。"),
    )
    submission = Submission.objects.select_related("form__department").get(pk=submission.pk)
    data: dict[str, Any] = {}
    fields: list[str] = []
    if memo is not None and memo != submission.memo:
        data["memo"] = [submission.memo, memo]
        submission.memo = memo
        fields.append("memo")
    if assignee is not False and getattr(assignee, "pk", None) != submission.assignee_id:
        if assignee is not None and not permissions.policy_for(Submission).user_has_permission_for_instance(
            assignee, "change", submission
        ):
            raise ApplicationError(_("担当者には、この課で申請を扱える職員を選んでください。"))
        data["assignee"] = [str(submission.assignee or ""), str(assignee or "")]
        submission.assignee = assignee  # type: ignore[assignment]
        fields.append("assignee")
    if staff_answers:
        staff_keys = {f.key for f in submission.form.fields.all() if f.staff_only}
        answers = dict(submission.answers)
        for key, value in staff_answers.items():
            if key in staff_keys and answers.get(key) != value:
                data.setdefault("staff_answers", {})[key] = [answers.get(key), value]
                answers[key] = value
        if "staff_answers" in data:
            submission.answers = answers
            fields.append("answers")
    if fields:
        submission.save(update_fields=[*fields, "updated_at"])
        audit_log(actor=actor, action="applications.submission.updated", obj=submission, data=data)
    return submission


@transaction.atomic(durable=True)
def attachments_purge_stale(*, older_than: timedelta = STAGED_MAX_AGE) -> int:
    """Delete staged uploads nobody submitted (their files go on commit). Returns the count."""
    cutoff = timezone.now() - older_than
    stale = list(Attachment.objects.filter(submission__isnull=True, created_at__lt=cutoff))
    for attachment in stale:
        name, storage = attachment.file.name, attachment.file.storage
        transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))
    Attachment.objects.filter(pk__in=[a.pk for a in stale]).delete()
    return len(stale)


@transaction.atomic(durable=True)
def submission_delete(*, submission: Submission, actor: StaffUser) -> None:
    """Delete a submission without payments (所属長; e.g. a test entry). Audited; files go on commit.

    A submission with payment records cannot be deleted (they are accounting records).
    """
    permissions.require(
        actor,
        "delete",
        submission,
        error=ApplicationError,
        message=_("この課の申請を削除する権限がありません。"),
    )
    if submission.payments.exists():
        raise ApplicationError(_("支払の記録がある申請は削除できません。取下げか却下にしてください。"))
    audit_log(
        actor=actor,
        action="applications.submission.deleted",
        obj=submission,
        data={"reference": submission.reference, "form": submission.form_id, "status": submission.status},
    )
    for attachment in submission.attachments.all():
        name, storage = attachment.file.name, attachment.file.storage
        transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))
    submission.delete()
