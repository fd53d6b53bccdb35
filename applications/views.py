"""Resident pages (LIFF): the forms, confirm, submit once, My applications, correction, pay.

Every object is looked up through ``request.resident``: another resident's submission or a
form of another town is a 404. Services do the writes; these views parse and report.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from applications import selectors
from applications.errors import ApplicationError
from applications.forms import AnswersForm, CheckedFile, display_value
from applications.models import (
    ApplicationForm,
    Attachment,
    FieldKind,
    PaymentMethod,
    PaymentStatus,
    Submission,
)
from applications.services import (
    attachment_stage,
    payment_restart,
    submission_cancel,
    submission_resubmit,
    submission_submit,
)
from applications.workflow import NEXT_STEP
from applications.workflow import SubmissionStatus as S
from municipalities import jp
from municipalities.line.liff import resident_required
from municipalities.payments import get_provider

DRAFT_PREFIX = "applications.draft."


def _draft_key(token: str) -> str:
    return DRAFT_PREFIX + token


def _is_uuid(token: str) -> bool:
    try:
        uuid.UUID(token)
    except ValueError:
        return False
    return True


def _get_draft(request: HttpRequest, token: str) -> dict[str, Any] | None:
    return request.session.get(_draft_key(token)) if _is_uuid(token) else None


def _answer_rows(
    form: ApplicationForm, answers: dict[str, Any], files: dict[str, list[Attachment]], *, staff: bool = False
) -> list[dict[str, Any]]:
    rows = []
    for field in form.fields.all():
        if not field.takes_input or (field.staff_only and not staff):
            continue
        rows.append(
            {
                "field": field,
                "value": display_value(field, answers.get(field.key)),
                "files": files.get(field.key, []),
            }
        )
    return rows


def _files_by_key(attachments: list[Attachment]) -> dict[str, list[Attachment]]:
    out: dict[str, list[Attachment]] = {}
    for a in attachments:
        out.setdefault(a.field_key, []).append(a)
    return out


@resident_required
def form_list(request: HttpRequest) -> HttpResponse:
    forms = selectors.forms_open_for_resident(municipality=request.resident.municipality)
    return render(request, "liff/applications/form_list.html", {"forms": forms, "page_title": "電子申請"})


def render_form_page(
    request: HttpRequest,
    *,
    form: ApplicationForm,
    answers_form: AnswersForm,
    preview: bool = False,
    submission: Submission | None = None,
    staged: dict[str, list[Attachment]] | None = None,
    carried: dict[str, Attachment] | None = None,
) -> HttpResponse:
    """The resident form. ``staged``: files already on the submission (correction);
    ``carried``: files chosen earlier in this filling-in, kept so they need not be chosen again."""
    context = {
        "form_obj": form,
        "answers_form": answers_form,
        "preview": preview,
        "submission": submission,
        "staged": staged or {},
        "carried": {key: [a] for key, a in (carried or {}).items()},
        "page_title": form.title,
        "accepting": form.is_accepting(),
    }
    return render(request, "liff/applications/form.html", context)


def _carried_files(request: HttpRequest, form: ApplicationForm, ids: dict[str, Any]) -> dict[str, Attachment]:
    """Staged uploads of this resident and form, by field key (ids from the page or a draft)."""
    wanted = {key: int(value) for key, value in ids.items() if str(value).isdigit()}
    if not wanted:
        return {}
    rows = Attachment.objects.filter(
        pk__in=wanted.values(), resident=request.resident, form=form, submission__isnull=True
    )
    return {a.field_key: a for a in rows if wanted.get(a.field_key) == a.pk}


def _handle_form_post(
    request: HttpRequest, *, form: ApplicationForm, submission: Submission | None
) -> HttpResponse:
    fields = list(form.fields.all())
    existing = _files_by_key(list(submission.attachments.all())) if submission else {}
    carried = _carried_files(
        request,
        form,
        {f.key: request.POST.get(f"_staged_{f.key}", "") for f in fields if f.kind == FieldKind.FILE},
    )
    available = {**existing, **{key: [a] for key, a in carried.items()}}
    answers_form = AnswersForm(request.POST, request.FILES, form_fields=fields, existing_files=available)
    valid = answers_form.is_valid()
    checked = {k: v for k, v in answers_form.cleaned_data.items() if isinstance(v, CheckedFile)}
    try:
        staged_ids = attachment_stage(form=form, resident=request.resident, files=checked) if checked else {}
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return render_form_page(
            request, form=form, answers_form=answers_form, submission=submission, staged=existing
        )
    carried.update(_carried_files(request, form, staged_ids))
    if not valid:
        # Files that passed their own checks stay chosen while the resident fixes the rest.
        return render_form_page(
            request,
            form=form,
            answers_form=answers_form,
            submission=submission,
            staged=existing,
            carried=carried,
        )
    answers, _files = answers_form.answers()
    token = str(uuid.uuid4())
    request.session[_draft_key(token)] = {
        "form": form.pk,
        "answers": answers,
        "attachments": {key: a.pk for key, a in carried.items()},
        "submission": submission.reference if submission else "",
    }
    return redirect("applications:confirm", token=token)


@resident_required
def form_view(request: HttpRequest, form_id: int) -> HttpResponse:
    form = selectors.form_for_resident(resident=request.resident, form_id=form_id)
    if form is None or not form.is_published:
        raise Http404
    if not form.is_accepting():
        return render(
            request, "liff/applications/closed.html", {"form_obj": form, "page_title": form.title}, status=200
        )
    if form.one_per_resident:
        live = selectors.live_submission_for_resident(resident=request.resident, form=form)
        if live is not None:
            messages.info(request, "このフォームはお一人 1 件までです。申請中の内容はこちらです。")
            return redirect("applications:submission_detail", reference=live.reference)
    if request.method == "POST":
        return _handle_form_post(request, form=form, submission=None)
    initial: dict[str, Any] = {}
    carried: dict[str, Attachment] = {}
    draft = _get_draft(request, request.GET.get("draft", ""))
    if draft and draft.get("form") == form.pk and not draft.get("submission"):
        initial = draft["answers"]
        carried = _carried_files(request, form, draft["attachments"])
    fields = list(form.fields.all())
    answers_form = AnswersForm(
        initial=initial, form_fields=fields, existing_files={key: [a] for key, a in carried.items()}
    )
    return render_form_page(request, form=form, answers_form=answers_form, carried=carried)


@resident_required
def confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    draft = _get_draft(request, token)
    if draft is None:
        # A retry or double tap after the first submit went through: show that submission.
        done = (
            Submission.objects.filter(resident=request.resident, idempotency_token=token).first()
            if _is_uuid(token)
            else None
        )
        if done is not None:
            return redirect("applications:submission_detail", reference=done.reference)
        messages.error(request, "入力内容の有効期限が切れました。もう一度入力してください。")
        return redirect("applications:form_list")
    form = selectors.form_for_resident(resident=request.resident, form_id=draft["form"])
    if form is None:
        raise Http404
    submission = (
        selectors.submission_for_resident(resident=request.resident, reference=draft["submission"])
        if draft["submission"]
        else None
    )
    staged = _files_by_key(
        list(Attachment.objects.filter(pk__in=draft["attachments"].values(), resident=request.resident))
    )
    files = {**(_files_by_key(list(submission.attachments.all())) if submission else {}), **staged}
    error = method_error = ""
    if request.method == "POST":
        method = request.POST.get("payment_method", "")
        try:
            if submission is None:
                result, _created = submission_submit(
                    form=form,
                    resident=request.resident,
                    answers=draft["answers"],
                    attachment_ids=draft["attachments"],
                    token=uuid.UUID(token),
                    payment_method=method,
                )
            else:
                result = submission_resubmit(
                    submission=submission,
                    resident=request.resident,
                    answers=draft["answers"],
                    attachment_ids=draft["attachments"],
                    token=uuid.UUID(token),
                )
        except ApplicationError as exc:
            if exc.code == "payment_method":
                method_error = exc.message  # shown next to the choice, not at the top
            else:
                error = exc.message
        else:
            request.session.pop(_draft_key(token), None)
            if result.status == S.AWAITING_PAYMENT and result.payment_method != PaymentMethod.COUNTER:
                payment = result.payments.filter(status=PaymentStatus.PENDING).order_by("-pk").first()
                if payment is not None:  # to the online provider's checkout
                    return redirect("payments:checkout", pk=payment.pk)
            return redirect(
                reverse("applications:submission_detail", kwargs={"reference": result.reference}) + "?done=1"
            )
    method_choices = [
        (m, PaymentMethod(m).label)
        for m in (form.payment_methods or [])
        if m in PaymentMethod.values and get_provider(m).is_configured(request.resident.municipality)
    ]
    context = {
        "form_obj": form,
        "rows": _answer_rows(form, draft["answers"], files),
        "token": token,
        "submission": submission,
        "error": error,
        "method_error": method_error,
        "method_choices": method_choices if submission is None and form.fee else [],
        "selected_method": request.POST.get(
            "payment_method", method_choices[0][0] if len(method_choices) == 1 else ""
        ),
        "back_url": (
            reverse("applications:submission_edit", kwargs={"reference": submission.reference})
            if submission
            else reverse("applications:form", kwargs={"form_id": form.pk}) + "?" + urlencode({"draft": token})
        ),
        "page_title": "入力内容の確認",
    }
    return render(request, "liff/applications/confirm.html", context, status=400 if error else 200)


@resident_required
def submission_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"submission": s, "next_step": NEXT_STEP[s.status]}
        for s in selectors.submissions_for_resident(resident=request.resident)
    ]
    return render(request, "liff/applications/submission_list.html", {"rows": rows, "page_title": "申請状況"})


def _own_submission(request: HttpRequest, reference: str) -> Submission:
    submission = selectors.submission_for_resident(resident=request.resident, reference=reference)
    if submission is None:
        raise Http404
    return submission


@resident_required
def submission_detail(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _own_submission(request, reference)
    files = _files_by_key(list(submission.attachments.all()))
    payments = list(submission.payments.all())
    context = {
        "submission": submission,
        "form_obj": submission.form,
        "rows": _answer_rows(submission.form, submission.answers, files),
        "next_step": NEXT_STEP[submission.status],
        "payments": payments,
        "can_cancel": submission.status in (S.AWAITING_PAYMENT, S.RECEIVED),
        "can_edit": submission.status == S.NEEDS_CORRECTION,
        "can_pay_online": submission.status == S.AWAITING_PAYMENT
        and submission.payment_method != PaymentMethod.COUNTER,
        "pays_at_counter": submission.status == S.AWAITING_PAYMENT
        and submission.payment_method == PaymentMethod.COUNTER,
        "just_submitted": request.GET.get("done") == "1",
        "page_title": "申請の内容",
    }
    return render(request, "liff/applications/submission_detail.html", context)


@resident_required
def submission_edit(request: HttpRequest, reference: str) -> HttpResponse:
    """The form again, filled in with the answers, when staff asked for a correction."""
    submission = _own_submission(request, reference)
    if submission.status != S.NEEDS_CORRECTION:
        messages.error(request, "この申請は現在修正できません。")
        return redirect("applications:submission_detail", reference=reference)
    form = submission.form
    if request.method == "POST":
        return _handle_form_post(request, form=form, submission=submission)
    existing = _files_by_key(list(submission.attachments.all()))
    answers_form = AnswersForm(
        initial=submission.answers, form_fields=list(form.fields.all()), existing_files=existing
    )
    return render_form_page(
        request, form=form, answers_form=answers_form, submission=submission, staged=existing
    )


@resident_required
@require_POST
def submission_cancel_view(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _own_submission(request, reference)
    try:
        submission_cancel(submission=submission, resident=request.resident)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "申請を取り下げました。")
    return redirect("applications:submission_detail", reference=reference)


@resident_required
@require_POST
def submission_pay(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _own_submission(request, reference)
    try:
        payment = payment_restart(submission=submission, resident=request.resident)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("applications:submission_detail", reference=reference)
    return redirect("payments:checkout", pk=payment.pk)


@resident_required
def attachment_download(request: HttpRequest, reference: str, attachment_id: int) -> HttpResponse:
    submission = _own_submission(request, reference)
    attachment = submission.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    return attachment_response(attachment)


@resident_required
def staged_download(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = Attachment.objects.filter(
        pk=attachment_id, resident=request.resident, submission__isnull=True
    ).first()
    if attachment is None:
        raise Http404
    return attachment_response(attachment)


def attachment_response(attachment: Attachment) -> FileResponse:
    """Stream a private attachment; only called after a permission check."""
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=True,
        filename=attachment.original_name,
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def postal_lookup(request: HttpRequest, code: str) -> JsonResponse:
    """Address completion from the offline postal-code dataset (public data; no session)."""
    found = jp.lookup_postal_code(code)
    if found is None:
        return JsonResponse({"found": False, "message": "この郵便番号は見つかりません。"}, status=404)
    return JsonResponse({"found": True, "code": found.code, "address": found.address})
