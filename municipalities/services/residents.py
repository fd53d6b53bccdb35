"""Residents: following and blocking the account, what they receive, and the LINE simulator's
practice residents."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import MunicipalityError, full_clean_or
from municipalities.models import AgeBand, Area, Interest, Municipality, Resident, StaffUser
from municipalities.tasks_queue import enqueue_on_commit

# Tasks that apps want run, with the resident's id, once a resident's preferences have changed
# (after the commit): apps register their task's name in AppConfig.ready() (rich menus re-link).
_preferences_changed_tasks: list[str] = []


def on_preferences_changed(task_name: str) -> None:
    """Run task ``task_name`` (``"<app>.tasks.<name>_task"``) with the resident's id after every
    committed change of their area, age band or interests."""
    if task_name not in _preferences_changed_tasks:
        _preferences_changed_tasks.append(task_name)


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
    if {"area", "age_band", "interests"} & diff.keys():
        for task_name in _preferences_changed_tasks:
            enqueue_on_commit(task_name, resident.pk)
    return resident


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
