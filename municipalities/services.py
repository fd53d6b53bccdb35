"""Writes of the core app: municipalities, departments, staff roles and residents."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from axes.utils import reset as axes_reset
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from municipalities import permissions
from municipalities.audit import audit_log, changes, snapshot
from municipalities.errors import MunicipalityError, full_clean_or
from municipalities.models import (
    AgeBand,
    Area,
    Department,
    Interest,
    Municipality,
    Resident,
    Role,
    StaffRole,
    StaffUser,
)

_MUNICIPALITY_FIELDS = ["name", "prefecture", "line_channel_id", "channel_secret", "channel_access_token"]
# What municipality_update() may change. The slug is part of the webhook URL LINE calls: only
# create_or_update (CLI, superuser) sets it.
MUNICIPALITY_UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "prefecture",
        "line_channel_id",
        "channel_secret",
        "channel_access_token",
        "liff_id",
        "require_two_factor",
        "talk_log_retention_days",
        "follow_greeting",
        "broadcast_needs_second_approver",
    }
)


_MUNICIPALITY_DENIED = gettext_lazy("この自治体の設定を変更する権限がありません。")


@transaction.atomic(durable=True)
def municipality_create_or_update(
    *,
    slug: str,
    name: str,
    channel_secret: str,
    channel_access_token: str,
    channel_id: str | None = "",
    prefecture: str | None = None,
    actor: StaffUser | None = None,
    settings_data: dict[str, Any] | None = None,
) -> tuple[Municipality, bool]:
    """Create the municipality ``slug`` or update its name and channel credentials.

    Idempotent (the CLI may run it again). Returns (municipality, created). ``channel_id`` and
    ``prefecture`` left as None keep their value; ``settings_data`` sets further fields of
    MUNICIPALITY_UPDATABLE_FIELDS (the admin's add form). Only a superuser (or the system,
    ``actor=None``) creates a town; changing one needs the "change" permission. Raises
    MunicipalityError for invalid values (slug, name). Audited with the secrets masked. Locks the
    row while updating.
    """
    municipality = Municipality.objects.select_for_update().filter(slug=slug).first()
    created = municipality is None
    if actor is not None and not actor.is_superuser:
        if created:
            raise MunicipalityError(_("自治体を作成できるのはシステム運用者だけです。"))
        permissions.require(
            actor, "change", municipality, error=MunicipalityError, message=_MUNICIPALITY_DENIED
        )
    if created:
        municipality = Municipality(slug=slug)
    extra = dict(settings_data or {})
    unknown = set(extra) - MUNICIPALITY_UPDATABLE_FIELDS
    if unknown:
        raise MunicipalityError(
            _("変更できない項目です: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    fields = [*_MUNICIPALITY_FIELDS, *[f for f in extra if f not in _MUNICIPALITY_FIELDS]]
    before = snapshot(municipality, fields)
    municipality.name = name
    municipality.channel_secret = channel_secret
    municipality.channel_access_token = channel_access_token
    if channel_id is not None:
        municipality.line_channel_id = channel_id
    if prefecture is not None:
        municipality.prefecture = prefecture
    for field, value in extra.items():
        setattr(municipality, field, value)
    full_clean_or(municipality, error=MunicipalityError)
    municipality.save()
    audit_log(
        actor=actor,
        action="municipalities.municipality." + ("created" if created else "updated"),
        obj=municipality,
        data=changes(municipality, fields, before),
    )
    return municipality, created


@transaction.atomic(durable=True)
def municipality_update(
    *, municipality: Municipality, actor: StaffUser | None, data: dict[str, Any]
) -> Municipality:
    """Change the settings of a municipality (自治体管理者 of the town, or a superuser).

    ``data`` maps fields of MUNICIPALITY_UPDATABLE_FIELDS to new values. Raises
    MunicipalityError without the "change" permission, for another field or an invalid value.
    Audited with before/after (secrets masked); nothing is written when
    nothing changes.
    """
    if actor is not None:
        permissions.require(
            actor, "change", municipality, error=MunicipalityError, message=_MUNICIPALITY_DENIED
        )
    unknown = set(data) - MUNICIPALITY_UPDATABLE_FIELDS
    if unknown:
        raise MunicipalityError(
            _("変更できない項目です: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    fields = list(data)
    current = Municipality.objects.select_for_update().get(pk=municipality.pk)
    before = snapshot(current, fields)
    for name, value in data.items():
        setattr(municipality, name, value)
    diff = changes(municipality, fields, before)
    if not diff:
        return municipality
    full_clean_or(municipality, error=MunicipalityError)
    municipality.save(update_fields=[*diff, "updated_at"])
    audit_log(actor=actor, action="municipalities.municipality.updated", obj=municipality, data=diff)
    return municipality


@transaction.atomic(durable=True)
def department_create(
    *, municipality: Municipality, code: str, name: str, actor: StaffUser | None = None, sort_order: int = 0
) -> Department:
    """Create a department (課) in ``municipality``.

    Only its 自治体管理者 or a superuser (or the system). Raises MunicipalityError when the code
    is taken or a value is invalid. Audited.
    """
    department = Department(municipality=municipality, code=code, name=name, sort_order=sort_order)
    if actor is not None and not actor.is_superuser:
        if (
            municipality.pk
            not in permissions.Scope(actor, "municipalities.add_department").admin_municipality_ids
        ):
            raise MunicipalityError(_("この自治体に課を追加する権限がありません。"))
    if Department.objects.filter(municipality=municipality, code=code).exists():
        raise MunicipalityError(_("課コード「%(code)s」はすでに使われています。") % {"code": code})
    full_clean_or(department, error=MunicipalityError)
    try:
        with transaction.atomic():
            department.save()
    except IntegrityError:  # the same code created concurrently
        raise MunicipalityError(_("課コード「%(code)s」はすでに使われています。") % {"code": code}) from None
    audit_log(
        actor=actor,
        action="municipalities.department.created",
        obj=department,
        data={"code": code, "name": name},
    )
    return department


def _check_grant(
    *, actor: StaffUser | None, user: StaffUser, role: str, department: Department | None
) -> None:
    if role not in Role.values:
        raise MunicipalityError(_("役割が正しくありません。"))
    if user.is_superuser or user.municipality_id is None:
        raise MunicipalityError(_("システム運用者には役割を付与できません。"))
    if department is not None and department.municipality_id != user.municipality_id:
        raise MunicipalityError(_("職員の所属自治体と課の自治体が一致しません。"))
    if role == Role.MUNICIPALITY_ADMIN and department is not None:
        raise MunicipalityError(_("自治体管理者は課を指定せずに付与します。"))
    if role != Role.MUNICIPALITY_ADMIN and department is None:
        raise MunicipalityError(_("課を選んでください。"))
    if actor is None or actor.is_superuser:
        return
    if actor.pk == user.pk:
        raise MunicipalityError(_("自分自身の役割は変更できません。"))
    scope = permissions.Scope(actor, "municipalities.add_staffrole")
    is_admin = user.municipality_id in scope.admin_municipality_ids
    if role == Role.MUNICIPALITY_ADMIN and not is_admin:
        raise MunicipalityError(_("自治体管理者の役割は自治体管理者だけが付与できます。"))
    if department is not None and not is_admin and department.pk not in scope.department_ids:
        raise MunicipalityError(_("自分の課以外の役割は付与できません。"))


def _staff_role_repr(staff_role: StaffRole) -> str:
    where = staff_role.department.name if staff_role.department else _("全課")
    return f"{staff_role.user}（{where}・{staff_role.get_role_display()}）"


@transaction.atomic(durable=True)
def staff_role_grant(
    *, user: StaffUser, role: str, department: Department | None, actor: StaffUser | None
) -> StaffRole:
    """Give ``user`` the ``role`` in ``department`` (or the whole town for 自治体管理者).

    A department head grants only in their own department and never 自治体管理者; nobody
    changes their own role. An existing role in the same department is replaced. Audited.
    Raises MunicipalityError.
    """
    _check_grant(actor=actor, user=user, role=role, department=department)
    existing = (
        StaffRole.objects.select_for_update()
        .filter(
            user=user,
            **(
                {"department": department}
                if department
                else {"role": Role.MUNICIPALITY_ADMIN, "municipality_id": user.municipality_id}
            ),
        )
        .first()
    )
    before = existing.role if existing else None
    if existing:
        existing.role = role
        existing.granted_by = actor
        existing.save(update_fields=["role", "granted_by", "updated_at"])
        staff_role = existing
    else:
        staff_role = StaffRole(
            user=user,
            municipality_id=user.municipality_id,
            department=department,
            role=role,
            granted_by=actor,
        )
        full_clean_or(staff_role, error=MunicipalityError)
        try:
            with transaction.atomic():
                staff_role.save()
        except IntegrityError:
            raise MunicipalityError(_("この職員にはすでに役割があります。")) from None
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    audit_log(
        actor=actor,
        action="municipalities.staffrole.granted",
        obj=staff_role,
        object_repr=_staff_role_repr(staff_role),
        data={
            "user": user.username,
            "department": department.code if department else None,
            "role": [before, role] if before else role,
        },
    )
    permissions.clear_cache(user)
    return staff_role


@transaction.atomic(durable=True)
def staff_role_revoke(*, staff_role: StaffRole, actor: StaffUser | None) -> StaffRole:
    """Take a role away. Same limits as granting. Audited."""
    staff_role = (
        StaffRole.objects.select_for_update(of=("self",))
        .select_related("user", "department")
        .get(pk=staff_role.pk)
    )
    _check_grant(actor=actor, user=staff_role.user, role=staff_role.role, department=staff_role.department)
    audit_log(
        actor=actor,
        action="municipalities.staffrole.revoked",
        obj=staff_role,
        object_repr=_staff_role_repr(staff_role),
        data={
            "user": staff_role.user.username,
            "department": staff_role.department.code if staff_role.department else None,
            "role": staff_role.role,
        },
    )
    staff_role.delete()
    permissions.clear_cache(staff_role.user)
    return staff_role


@transaction.atomic(durable=True)
def staff_user_assign_municipality(
    *, user: StaffUser, municipality: Municipality, actor: StaffUser | None
) -> StaffUser:
    """Make a staff account without a town (fresh from ``createsuperuser``-less set-up) one of
    ``municipality``'s staff. Raises MunicipalityError for superusers and for accounts that
    already belong to a town (moving staff between towns is not a thing). Audited.
    """
    user = StaffUser.objects.select_for_update().get(pk=user.pk)
    if user.is_superuser:
        raise MunicipalityError(_("システム運用者は自治体に所属させません。"))
    if user.municipality_id is not None:
        raise MunicipalityError(_("この職員はすでに自治体に所属しています。"))
    if actor is not None and not actor.is_superuser:
        raise MunicipalityError(_("所属自治体を設定できるのはシステム運用者だけです。"))
    user.municipality = municipality
    user.save(update_fields=["municipality"])
    audit_log(
        actor=actor,
        action="municipalities.staffuser.changed",
        obj=user,
        data={"municipality": [None, municipality.name]},
    )
    return user


def refuse_operator_target(*, actor: StaffUser | None, user: StaffUser) -> None:
    """A system operator's account is touched by system operators only: the town's
    自治体管理者 never sees, edits, resets, unlocks or deactivates it. Raises MunicipalityError."""
    if actor is None or actor.is_superuser:
        return
    if user.is_superuser or (user.pk and StaffUser.objects.filter(pk=user.pk, is_superuser=True).exists()):
        raise MunicipalityError(_("システム運用者のアカウントは操作できません。"))


def _require_staff_target(*, actor: StaffUser | None, user: StaffUser, action: str = "change") -> None:
    """``refuse_operator_target``, then the policy on the account. Raises MunicipalityError."""
    refuse_operator_target(actor=actor, user=user)
    if actor is None or actor.is_superuser:
        return
    permissions.require(
        actor, action, user, error=MunicipalityError, message=_("この職員を操作する権限がありません。")
    )


@transaction.atomic(durable=True)
def staff_user_save(
    *, user: StaffUser, form: Any, formsets: Any = (), created: bool, actor: StaffUser
) -> StaffUser:
    """Create or change a staff account from the admin form (the fields of the form only).

    A system operator (superuser) belongs to no town, and only system operators create, change
    or deactivate one; the town's staff are changed by the town's 自治体管理者. Raises
    MunicipalityError (nothing is written). Audited like ``admin_object_save``.
    """
    if user.is_superuser and user.municipality_id is not None:
        raise MunicipalityError(_("システム運用者は自治体に所属させません。"))
    if not created:
        _require_staff_target(actor=actor, user=StaffUser.objects.get(pk=user.pk))
    _require_staff_target(actor=actor, user=user, action="add" if created else "change")
    return _admin_object_save(obj=user, form=form, formsets=formsets, created=created, actor=actor)


@transaction.atomic(durable=True)
def staff_user_set_password(*, user: StaffUser, password: str | None, actor: StaffUser | None) -> StaffUser:
    """Set a staff member's password (``None``: password sign-in disabled).

    Same limits as changing the account: never a system operator's by anyone but a system
    operator. Raises MunicipalityError. Audited (without the password).
    """
    user = StaffUser.objects.select_for_update().get(pk=user.pk)
    _require_staff_target(actor=actor, user=user)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    audit_log(
        actor=actor,
        action="municipalities.staffuser.password_changed",
        obj=user,
        data={"usable": password is not None},
    )
    return user


@transaction.atomic(durable=True)
def staff_user_unlock(*, user: StaffUser, actor: StaffUser | None) -> int:
    """Lift a sign-in lockout (django-axes) of ``user`` before it expires. Returns attempts cleared.

    Only those who may change the staff account (自治体管理者 of the town, superuser); a system
    operator's only by a system operator. Raises MunicipalityError. Audited.
    """
    if actor is not None:
        refuse_operator_target(actor=actor, user=user)
        permissions.require(
            actor,
            "change",
            user,
            error=MunicipalityError,
            message=_("この職員アカウントを変更する権限がありません。"),
        )
    cleared = axes_reset(username=user.get_username())
    audit_log(actor=actor, action="municipalities.staffuser.unlocked", obj=user, data={"attempts": cleared})
    return cleared


# --- Residents --------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def resident_follow(
    *, municipality: Municipality, line_user_id: str, display_name: str = "", picture_url: str = ""
) -> tuple[Resident, bool]:
    """A LINE user added the account as a friend (or unblocked it).

    Creates the resident or reactivates them, keeping their settings. Returns (resident,
    created). Safe to run twice.
    """
    now = timezone.now()
    resident, created = Resident.objects.select_for_update().get_or_create(
        municipality=municipality,
        line_user_id=line_user_id,
        defaults={"display_name": display_name, "picture_url": picture_url, "followed_at": now},
    )
    if not created:
        resident.is_following = True
        resident.followed_at = now
        resident.unfollowed_at = None
        fields = ["is_following", "followed_at", "unfollowed_at", "updated_at"]
        if display_name:
            resident.display_name = display_name
            fields.append("display_name")
        if picture_url:
            resident.picture_url = picture_url
            fields.append("picture_url")
        resident.save(update_fields=fields)
    return resident, created


@transaction.atomic(durable=True)
def resident_unfollow(*, municipality: Municipality, line_user_id: str) -> Resident | None:
    """A LINE user blocked the account: mark them as not following, with the time."""
    resident = (
        Resident.objects.select_for_update()
        .filter(municipality=municipality, line_user_id=line_user_id)
        .first()
    )
    if resident is None or not resident.is_following:
        return resident
    resident.is_following = False
    resident.unfollowed_at = timezone.now()
    resident.save(update_fields=["is_following", "unfollowed_at", "updated_at"])
    return resident


@transaction.atomic(durable=True)
def resident_update_preferences(
    *,
    resident: Resident,
    interests: Iterable[Interest] | None = None,
    area: Area | None | bool = False,
    age_band: str | None = None,
    notices_paused: bool | None = None,
    actor: StaffUser | None = None,
) -> Resident:
    """Change what a resident receives. Only the arguments given are changed.

    ``area=None`` clears the area; leave it out (False) to keep it. Interests and the area must
    belong to the resident's municipality, and the age band must be one of AgeBand: otherwise
    MunicipalityError and nothing is written. ``actor`` is the member of staff correcting the
    settings (checked against the policy); None is the resident themselves. Audited with
    before/after. Locks the resident row.
    """
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if actor is not None:
        permissions.require(
            actor,
            "change",
            resident,
            error=MunicipalityError,
            message=_("この住民の設定を変更する権限がありません。"),
        )
    if area not in (False, None) and area.municipality_id != resident.municipality_id:
        raise MunicipalityError(_("この地区は選べません。"))
    new_interests = list(interests) if interests is not None else None
    if new_interests is not None and any(
        i.municipality_id != resident.municipality_id for i in new_interests
    ):
        raise MunicipalityError(_("この分野は選べません。"))
    if age_band is not None and age_band not in ["", *AgeBand.values]:
        raise MunicipalityError(_("年代が正しくありません。"))
    before = {
        "area": str(resident.area) if resident.area_id else None,
        "age_band": resident.age_band,
        "notices_paused": resident.notices_paused,
        "interests": sorted(str(i) for i in resident.interests.all()) if new_interests is not None else None,
    }
    fields = ["updated_at"]
    if area is not False:
        resident.area = area
        fields.append("area")
    if age_band is not None:
        resident.age_band = age_band
        fields.append("age_band")
    if notices_paused is not None:
        resident.notices_paused = notices_paused
        fields.append("notices_paused")
    resident.save(update_fields=fields)
    if new_interests is not None:
        resident.interests.set(new_interests)
    after = {
        "area": str(resident.area) if resident.area_id else None,
        "age_band": resident.age_band,
        "notices_paused": resident.notices_paused,
        "interests": sorted(str(i) for i in new_interests) if new_interests is not None else None,
    }
    diff = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if diff:
        audit_log(
            actor=actor,
            action="municipalities.resident.preferences_changed",
            obj=resident,
            data=diff,
            actor_resident=resident if actor is None else None,
        )
    return resident


# --- Generic admin writes ---------------------------------------------------------------------


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


@transaction.atomic(durable=True)
def resident_simulated_create(
    *, municipality: Municipality, display_name: str = "", actor: StaffUser | None
) -> Resident:
    """A practice resident of the LINE simulator, flagged ``is_simulated``.

    The LINE user id is "U" + 32 hex digits of a fresh random UUID, so it is never a real LINE
    user's. The resident is not a friend yet: the follow event the simulator posts next makes
    them one (``resident_follow`` keeps the flag). Raises MunicipalityError when ``actor`` may not
    use the town's simulator. Audited.
    """
    if actor is not None:
        permissions.require(
            actor,
            "use_simulator",
            municipality,
            error=MunicipalityError,
            message=_("この自治体のシミュレーターは使えません。"),
        )
    line_user_id = "U" + uuid.uuid4().hex
    resident = Resident(
        municipality=municipality,
        line_user_id=line_user_id,
        display_name=display_name.strip()[:40] or _("テスト住民%(n)s") % {"n": line_user_id[-4:]},
        is_following=False,
        is_simulated=True,
    )
    full_clean_or(resident, error=MunicipalityError)
    resident.save()
    audit_log(
        actor=actor,
        action="municipalities.resident.created",
        obj=resident,
        data={"display_name": resident.display_name, "simulated": True},
    )
    return resident
