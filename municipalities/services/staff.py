"""Staff accounts and their roles: granting and revoking roles, the account's town, its password
and its sign-in lockout."""

from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import MunicipalityError, full_clean_or
from municipalities.models import Department, Municipality, Role, StaffRole, StaffUser
from municipalities.services.admin_objects import _admin_object_save


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
    if role == Role.DISASTER and not is_admin:
        raise MunicipalityError(_("防災の役割は自治体管理者だけが付与できます。"))
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
