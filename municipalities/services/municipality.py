"""Municipality settings and departments: the town's LINE channel, its options, its 課."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from municipalities import permissions
from municipalities.audit import audit_log, changes, snapshot
from municipalities.errors import MunicipalityError, full_clean_or
from municipalities.models import Department, Municipality, StaffUser

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
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_payment_methods",
        "garbage_collection_time",
        "office_hours",
        "handoff_notify_email",
        "handoff_pause_minutes",
        "monthly_push_budget",
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
