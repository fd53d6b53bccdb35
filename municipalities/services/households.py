"""Household members: a resident registers, corrects and removes the family members they book for."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities import jp
from municipalities.audit import audit_log
from municipalities.errors import MunicipalityError, full_clean_or
from municipalities.models import HouseholdMember, Relationship, Resident, StaffUser

MAX_MEMBERS_PER_RESIDENT = 10


class HouseholdMemberError(MunicipalityError):
    """Refused input of the household page; ``fields`` maps form fields to their Japanese message."""

    def __init__(self, message: str, *, code: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code)
        self.fields = fields or {}


def household_members_for_resident(*, resident: Resident) -> QuerySet[HouseholdMember]:
    """The members a resident has registered and not removed, youngest last."""
    return HouseholdMember.objects.filter(resident=resident, is_active=True).order_by("birth_date", "pk")


def _refuse_staff(actor: StaffUser | None) -> None:
    # Members are the resident's own declaration; staff read them on rosters but never write them.
    if actor is not None:
        raise MunicipalityError(_("世帯の家族は住民ご本人だけが登録・変更できます。"), code="denied")


def _clean(*, name: str, kana: str, birth_date: str | dt.date, relationship: str) -> dict[str, object]:
    errors: dict[str, str] = {}
    name = jp.normalise_text(name)
    if not name:
        errors["name"] = _("氏名を入力してください。")
    try:
        kana = jp.normalise_furigana(kana) if jp.nfkc(kana) else ""
    except ValueError as exc:
        errors["kana"] = getattr(exc, "message", str(exc))
    else:
        if not kana:
            errors["kana"] = _("フリガナを入力してください。")
    day: dt.date | None = None
    if isinstance(birth_date, dt.date):
        day = birth_date
    elif not jp.nfkc(birth_date):
        errors["birth_date"] = _("生年月日を入力してください（例: 令和6年5月10日、2024/5/10）。")
    else:
        try:
            day = jp.parse_date(birth_date)
        except ValueError as exc:
            errors["birth_date"] = getattr(exc, "message", str(exc))
    if day is not None and day > timezone.localdate():
        errors["birth_date"] = _("生年月日が未来の日付です。")
    if relationship not in Relationship.values:
        errors["relationship"] = _("続柄を選んでください。")
    if errors:
        raise HouseholdMemberError(" ".join(errors.values()), code="invalid", fields=errors)
    return {"name": name, "kana": kana, "birth_date": day, "relationship": relationship}


@transaction.atomic(durable=True)
def household_member_save(
    *,
    resident: Resident,
    name: str,
    kana: str,
    birth_date: str | dt.date,
    relationship: str,
    member: HouseholdMember | None = None,
    actor: StaffUser | None = None,
) -> HouseholdMember:
    """Register a member of ``resident``'s household, or correct ``member``.

    Input is normalised (NFKC, フリガナ in katakana, 生年月日 in 和暦 or 西暦 through ``jp.parse_date``).
    Raises HouseholdMemberError (``fields`` maps each form field to its Japanese message) for bad
    input, MunicipalityError for another resident's member, over MAX_MEMBERS_PER_RESIDENT members, or when a
    member of staff (``actor``) tries. Locks the resident row, so two tabs cannot pass the limit
    together. Audited as the resident.
    """
    _refuse_staff(actor)
    values = _clean(name=name, kana=kana, birth_date=birth_date, relationship=relationship)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if member is None:
        if household_members_for_resident(resident=resident).count() >= MAX_MEMBERS_PER_RESIDENT:
            raise MunicipalityError(
                _("登録できる家族は %(n)s 人までです。") % {"n": MAX_MEMBERS_PER_RESIDENT}, code="limit"
            )
        member = HouseholdMember(resident=resident, municipality_id=resident.municipality_id)
        action, before = "municipalities.householdmember.created", None
    else:
        member = HouseholdMember.objects.filter(resident=resident, is_active=True, pk=member.pk).first()
        if member is None:
            raise MunicipalityError(_("この家族の登録は見つかりません。"), code="not_found")
        action = "municipalities.householdmember.changed"
        before = {k: str(getattr(member, k)) for k in values}
    for key, value in values.items():
        setattr(member, key, value)
    full_clean_or(member, error=MunicipalityError, validate_constraints=False)
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        # municipalities_householdmember_one_self: the resident's own entry exists once.
        raise HouseholdMemberError(
            _("「本人」はすでに登録されています。"),
            code="invalid",
            fields={"relationship": _("「本人」はすでに登録されています。")},
        ) from None
    after = {k: str(getattr(member, k)) for k in values}
    audit_log(
        actor=None,
        action=action,
        obj=member,
        data=after if before is None else {k: [before[k], after[k]] for k in after if before[k] != after[k]},
        actor_resident=resident,
    )
    return member


@transaction.atomic(durable=True)
def household_member_remove(
    *, resident: Resident, member: HouseholdMember, actor: StaffUser | None = None
) -> HouseholdMember:
    """Remove a member from the resident's household list (the row stays for past bookings).

    Raises MunicipalityError for another resident's member or a staff ``actor``. Audited as the resident.
    """
    _refuse_staff(actor)
    current = (
        HouseholdMember.objects.select_for_update()
        .filter(resident=resident, is_active=True, pk=member.pk)
        .first()
    )
    if current is None:
        raise MunicipalityError(_("この家族の登録は見つかりません。"), code="not_found")
    current.is_active = False
    current.save(update_fields=["is_active", "updated_at"])
    audit_log(
        actor=None,
        action="municipalities.householdmember.removed",
        obj=current,
        data={"name": current.name},
        actor_resident=resident,
    )
    return current
