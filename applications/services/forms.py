"""Form builder services: save (with its fields), copy, close."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.errors import ApplicationError
from applications.models import ApplicationForm, FieldKind, FormField, PaymentMethod
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.models import StaffUser

CHOICE_KINDS = {FieldKind.SINGLE_CHOICE, FieldKind.MULTIPLE_CHOICE, FieldKind.DROPDOWN}


def _check_form(form: ApplicationForm) -> None:
    if form.fee and not form.payment_methods:
        raise ApplicationError(_("手数料があるときは支払方法を 1 つ以上選んでください。"))
    unknown = set(form.payment_methods or []) - set(PaymentMethod.values)
    if unknown:
        raise ApplicationError(_("支払方法が正しくありません。"))
    if form.opens_at and form.closes_at and form.closes_at <= form.opens_at:
        raise ApplicationError(_("受付終了は受付開始より後にしてください。"))


def _check_fields(form: ApplicationForm) -> None:
    """Give every field a key and check what a builder can get wrong. Inside the transaction."""
    fields = list(form.fields.order_by("position", "pk"))
    used = {f.key for f in fields if f.key}
    for index, field in enumerate(fields, start=1):
        if field.kind in CHOICE_KINDS and not field.choice_list:
            raise ApplicationError(
                _("「%(label)s」に選択肢を 1 行に 1 つ入力してください。") % {"label": field.label}
            )
        if (
            field.kind == FieldKind.MULTIPLE_CHOICE
            and field.max_choices
            and field.max_choices > len(field.choice_list)
        ):
            raise ApplicationError(
                _("「%(label)s」の最大選択数が選択肢の数より多くなっています。") % {"label": field.label}
            )
        if field.kind == FieldKind.FILE and field.staff_only:
            raise ApplicationError(
                _("「%(label)s」: ファイル添付は職員記入欄にできません。") % {"label": field.label}
            )
        if field.kind == FieldKind.EXPLANATION and field.required:
            field.required = False
            field.save(update_fields=["required", "updated_at"])
        if not field.key:
            key = f"q{index}"
            while key in used:
                index += 100
                key = f"q{index}"
            used.add(key)
            field.key = key
            field.save(update_fields=["key", "updated_at"])
        elif not re.fullmatch(r"[-a-zA-Z0-9_]+", field.key):
            raise ApplicationError(_("項目キーは半角英数字で入力してください。"))


@transaction.atomic(durable=True)
def form_save(
    *, form: ApplicationForm, formsets: list[Any], created: bool, actor: StaffUser | None
) -> ApplicationForm:
    """Save a form and its ordered fields from the admin (one transaction, audited).

    Fields without a key get one (``q1``, ``q2`` …); a fee needs a payment method; choice
    fields need choices. Raises ApplicationError (and nothing is saved).
    """
    if actor is not None:
        permissions.require_save(
            actor,
            form,
            created=created,
            error=ApplicationError,
            message=_("この課の申請フォームを変更する権限がありません。"),
        )
    _check_form(form)
    try:
        with transaction.atomic():
            form.save()
            for formset in formsets:
                formset.instance = form
                formset.save()
    except IntegrityError:
        raise ApplicationError(_("項目キーが重複しています。項目ごとに違うキーにしてください。")) from None
    _check_fields(form)
    audit_log(
        actor=actor,
        action="applications.applicationform." + ("created" if created else "changed"),
        obj=form,
        data={"title": form.title, "fee": form.fee, "fields": form.fields.count()},
    )
    return form


@transaction.atomic(durable=True)
def form_copy(*, form: ApplicationForm, actor: StaffUser | None) -> ApplicationForm:
    """Copy a form with its fields, unpublished, as 「…（コピー）」. Submissions stay with the original."""
    if actor is not None:
        permissions.require(
            actor,
            "add",
            form,
            error=ApplicationError,
            message=_("この課の申請フォームを作成する権限がありません。"),
        )
    copy = ApplicationForm.objects.create(
        department=form.department,
        title=(form.title + _("（コピー）"))[:100],
        description=form.description,
        is_published=False,
        opens_at=None,
        closes_at=None,
        fee=form.fee,
        payment_methods=list(form.payment_methods or []),
        completion_message=form.completion_message,
        one_per_resident=form.one_per_resident,
        copied_from=form,
    )
    FormField.objects.bulk_create(
        [
            FormField(
                form=copy,
                position=f.position,
                kind=f.kind,
                label=f.label,
                key=f.key,
                help_text=f.help_text,
                required=f.required,
                max_length=f.max_length,
                staff_only=f.staff_only,
                choices=f.choices,
                min_choices=f.min_choices,
                max_choices=f.max_choices,
                file_types=list(f.file_types or []),
                max_file_mb=f.max_file_mb,
            )
            for f in form.fields.all()
        ]
    )
    audit_log(actor=actor, action="applications.applicationform.copied", obj=copy, data={"from": form.pk})
    return copy


@transaction.atomic(durable=True)
def form_close(*, form: ApplicationForm, actor: StaffUser | None) -> ApplicationForm:
    """Stop accepting submissions now. Existing submissions and their workflow are untouched."""
    if actor is not None:
        permissions.require(
            actor,
            "change",
            form,
            error=ApplicationError,
            message=_("この課の申請フォームを変更する権限がありません。"),
        )
    if form.closed_at is not None:
        raise ApplicationError(_("「%(title)s」はすでに締め切っています。") % {"title": form.title})
    form.closed_at = timezone.now()
    form.save(update_fields=["closed_at", "updated_at"])
    audit_log(actor=actor, action="applications.applicationform.closed", obj=form)
    return form


@transaction.atomic(durable=True)
def form_reopen(*, form: ApplicationForm, actor: StaffUser | None) -> ApplicationForm:
    """Undo ``form_close``."""
    if actor is not None:
        permissions.require(
            actor,
            "change",
            form,
            error=ApplicationError,
            message=_("この課の申請フォームを変更する権限がありません。"),
        )
    form.closed_at = None
    form.save(update_fields=["closed_at", "updated_at"])
    audit_log(actor=actor, action="applications.applicationform.reopened", obj=form)
    return form
