"""Receive settings (受信設定): what a resident wants to receive, changed from the page or chat."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from broadcasts.errors import BroadcastError
from municipalities.models import AgeBand, Area, Interest, Resident
from municipalities.services import resident_update_preferences
from municipalities.tasks_queue import enqueue_on_commit

# The page confirms each tap itself; LINE gets one summary when the resident leaves the page
# (receive_settings_left), not a push per tap (each push counts against the town's quota).
CHANGED_TTL_SECONDS = 3600


def confirm_cache_key(resident_id: int) -> str:
    return f"broadcasts:receive-settings-confirm:{resident_id}"


def changed_cache_key(resident_id: int) -> str:
    return f"broadcasts:receive-settings-changed:{resident_id}"


def receive_settings_update(
    *,
    resident: Resident,
    interests: Iterable[Interest] | None = None,
    area: Area | None | bool = False,
    age_band: str | None = None,
    notices_paused: bool | None = None,
    confirm: bool = True,
) -> Resident:
    """Change a resident's receive settings through the core service.

    The core service is the transaction (and validates that interests and the area belong to
    the resident's town). With ``confirm`` (the 受信設定 page) the change is remembered for the
    summary sent when the resident leaves the page (``receive_settings_left``); ``confirm=False``
    when the change is already answered by a chat reply. Raises MunicipalityError.
    """
    if age_band is not None and age_band not in {*AgeBand.values, ""}:
        raise BroadcastError(_("年代の選び方が正しくありません。"))
    resident = resident_update_preferences(
        resident=resident, interests=interests, area=area, age_band=age_band, notices_paused=notices_paused
    )
    if confirm:
        resident_id = resident.pk
        transaction.on_commit(
            lambda: cache.set(changed_cache_key(resident_id), 1, timeout=CHANGED_TTL_SECONDS)
        )
    return resident


def receive_settings_left(*, resident: Resident) -> bool:
    """The resident left the 受信設定 page: if they changed anything there, push one summary of
    the settings as they ended up (enqueued now; nothing inside a transaction). Returns whether
    a summary was enqueued. Leaving twice, or without a change, sends nothing."""
    if not cache.delete(changed_cache_key(resident.pk)):
        return False
    nonce = uuid.uuid4().hex
    cache.set(confirm_cache_key(resident.pk), nonce, timeout=CHANGED_TTL_SECONDS)
    enqueue_on_commit("broadcasts.tasks.receive_settings_confirm_task", resident.pk, nonce)
    return True


def settings_summary(resident: Resident) -> str:
    """The resident's settings in a few lines of Japanese, for LINE."""
    names = [i.name for i in resident.interests.all().order_by("sort_order", "code")]
    lines = [_("【受信設定】")]
    if resident.notices_paused:
        lines.append(_("お知らせ: 停止中（緊急のお知らせだけ届きます）"))
    lines.append(_("分野: %(names)s") % {"names": "、".join(names) if names else _("なし")})
    lines.append(_("地区: %(area)s") % {"area": resident.area.name if resident.area_id else _("未設定")})
    lines.append(_("年代: %(band)s") % {"band": resident.get_age_band_display() or _("未設定")})
    return "\n".join(lines)


def toggle_interest(resident: Resident, interest: Interest) -> tuple[Resident, bool]:
    """Add or remove one interest. Returns (resident, now_on)."""
    current = set(resident.interests.values_list("pk", flat=True))
    on = interest.pk not in current
    chosen = current | {interest.pk} if on else current - {interest.pk}
    interests = Interest.objects.filter(municipality_id=resident.municipality_id, pk__in=chosen)
    return receive_settings_update(resident=resident, interests=interests, confirm=False), on
