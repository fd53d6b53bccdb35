"""Generic admin writes: saving and deleting a row (and its inlines) of a model without a service of
its own, checked against the policy and audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import MunicipalityError
from municipalities.models import StaffUser


def _action_code(obj: Any, verb: str) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}.{verb}"


def _form_value(value: Any) -> Any:
    if hasattr(value, "all") and callable(value.all):  # a queryset of M2M choices
        return sorted(str(v) for v in value.all())
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@transaction.atomic(durable=True)
def admin_object_save(*, obj: Any, form: Any, formsets: Any, created: bool, actor: StaffUser) -> Any:
    """Save an admin form (and its inlines) for a model without a service of its own.

    Checks the policy on the row as stored (change) and on the object as it will be saved
    (add/change: a foreign key cannot move it out of the user's reach), and the same for every
    inline row that is added, changed or deleted (a forged inline POST cannot write into
    another department or town); saves everything in one transaction and records the changed
    fields with before/after values. Raises MunicipalityError when the user may not.
    """
    return _admin_object_save(obj=obj, form=form, formsets=formsets, created=created, actor=actor)


def require_formset_rows(*, actor: StaffUser | None, parent: Any, formsets: Any) -> None:
    """Check each inline row an admin save would write (added, changed or deleted) against the
    policy, as ``require_save`` does for the parent. Call inside the saving transaction, after
    the parent has its primary key. Raises MunicipalityError.
    """
    if actor is None:
        return
    refusal = _("この行を保存する権限がありません。")
    for formset in formsets:
        fk = getattr(formset, "fk", None)
        deleted = set(map(id, formset.deleted_forms)) if formset.can_delete else set()
        for row_form in formset.forms:
            row = row_form.instance
            if fk is not None:
                setattr(row, fk.name, parent)
            if id(row_form) in deleted:
                if row.pk is not None:
                    permissions.require(
                        actor,
                        "delete",
                        type(row)._default_manager.get(pk=row.pk),
                        error=MunicipalityError,
                        message=refusal,
                    )
            elif row.pk is None:
                if row_form.has_changed():
                    permissions.require_save(
                        actor, row, created=True, error=MunicipalityError, message=refusal
                    )
            elif row_form.has_changed():
                permissions.require_save(actor, row, created=False, error=MunicipalityError, message=refusal)


def _admin_object_save(*, obj: Any, form: Any, formsets: Any, created: bool, actor: StaffUser) -> Any:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("_admin_object_save() runs inside its caller's transaction")
    action = "add" if created else "change"
    before: dict[str, Any] = {}
    if not created:
        stored = type(obj)._default_manager.select_for_update(of=("self",)).get(pk=obj.pk)
        permissions.require(
            actor,
            "change",
            stored,
            error=MunicipalityError,
            message=_("この内容を保存する権限がありません。"),
        )
        before = {
            name: _form_value(getattr(stored, name, form.initial.get(name))) for name in form.changed_data
        }
    permissions.require(
        actor, action, obj, error=MunicipalityError, message=_("この内容を保存する権限がありません。")
    )
    obj.save()
    # The admin called form.save(commit=False), which provides save_m2m(); a bare form has _save_m2m().
    getattr(form, "save_m2m", form._save_m2m)()
    require_formset_rows(actor=actor, parent=obj, formsets=formsets)
    for formset in formsets:
        formset.instance = obj
        formset.save()
    after = {name: _form_value(form.cleaned_data.get(name)) for name in form.changed_data}
    data = after if created else {name: [before.get(name), after[name]] for name in after}
    audit_log(actor=actor, action=_action_code(obj, "created" if created else "changed"), obj=obj, data=data)
    return obj


@transaction.atomic(durable=True)
def admin_object_delete(*, obj: Any, actor: StaffUser) -> None:
    """Delete one object from the admin, checked against the policy and audited.

    Raises MunicipalityError without the "delete" permission, or when other records still refer
    to the object (PROTECT).
    """
    permissions.require(
        actor, "delete", obj, error=MunicipalityError, message=_("この記録を削除する権限がありません。")
    )
    audit_log(actor=actor, action=_action_code(obj, "deleted"), obj=obj, data={"repr": str(obj)})
    try:
        with transaction.atomic():
            obj.delete()
    except ProtectedError:
        raise MunicipalityError(
            _("「%(obj)s」は他の記録から参照されているため削除できません。") % {"obj": obj}
        ) from None
