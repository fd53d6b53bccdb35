"""災害モード: one switch that shows every resident the town's disaster menu, and back.

Residents without a segment menu see LINE's default menu, so the default is swapped (one call).
Residents linked to a segment menu keep their link; for each such menu LINE holds a copy of the
disaster menu, and one batch control (LINE allows 3 an hour) moves everyone linked to a segment
menu to its copy ("link from → to"); switching back runs the same batch reversed, so each
resident returns to their own menu. Bulk link (500 user ids a request) is the fallback when LINE
reports the batch failed. The copies are created once and reused (LINE allows 100 creates an
hour).

``disaster_mode_switch`` is the staff use case (audited, the LINE work enqueued on commit);
``disaster_mode_apply`` is that work, run by the task outside any transaction. A run that dies
half way runs again: the default swap is idempotent and the batch is resent with the same
``resumeRequestKey``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineRateLimited, LineRetryableError
from municipalities.models import Municipality
from municipalities.tasks_queue import enqueue_on_commit
from richmenus.errors import RichMenuError
from richmenus.models import DisasterMode, DisasterType, ResidentRichMenu, RichMenu
from richmenus.services.menus import (
    _link_residents,
    richmenu_body,
    richmenu_check,
    richmenu_image,
    richmenu_is_current,
    richmenu_line_sync,
)

BATCH_POLL_FIRST_SECONDS = 0.05
BATCH_POLL_LONGEST_SECONDS = 0.25
BATCH_POLL_MAX_SECONDS = 300.0


@transaction.atomic(durable=True)
def disaster_mode_switch(
    *, municipality: Municipality, on: bool, disaster_type: str = "", actor: Any | None, enqueue: bool = True
) -> DisasterMode:
    """Turn the town's 災害モード on (``on=True``) or back off. Checks that a disaster menu is
    prepared and passes LINE's limits; the switch at LINE runs on commit
    (``disaster_mode_apply_task``; ``enqueue=False``: the caller runs ``disaster_mode_apply``
    after the commit). Raises RichMenuError. Audited."""
    if actor is not None:  # 自治体管理者, or the 防災 role of the town
        permissions.require(
            actor,
            "switch",
            DisasterMode(municipality=municipality),
            error=RichMenuError,
            message=_("災害モードを切り替えられるのは自治体管理者と防災の担当者だけです。"),
        )
    if disaster_type and disaster_type not in DisasterType.values:
        raise RichMenuError(_("災害の種類が正しくありません。"), code="invalid")
    mode, _created = DisasterMode.objects.select_for_update().get_or_create(municipality=municipality)
    if on:
        menu = RichMenu.objects.filter(municipality=municipality, kind=RichMenu.Kind.DISASTER).first()
        if menu is None:
            raise RichMenuError(_("災害時のメニューが用意されていません。"), code="no_disaster_menu")
        richmenu_check(menu=menu)
    if mode.is_on == on and mode.phase == "idle":
        raise RichMenuError(
            _("すでに災害モードです。") if on else _("災害モードではありません。"), code="already"
        )
    mode.is_on = on
    mode.disaster_type = disaster_type if on else ""
    mode.phase = "switching"
    mode.switched_at = timezone.now()
    mode.request_key = f"m{municipality.pk}-{'on' if on else 'off'}-{uuid.uuid4().hex[:16]}"
    mode.last_error = ""
    mode.save()
    audit_log(
        actor=actor,
        action="richmenus.disaster_mode.on" if on else "richmenus.disaster_mode.off",
        obj=mode,
        data={"disaster_type": mode.disaster_type},
    )
    if enqueue:
        enqueue_on_commit("richmenus.tasks.disaster_mode_apply_task", mode.pk)
    return mode


def _segment_menus(municipality: Municipality) -> list[RichMenu]:
    """Published normal menus that residents are linked to (the default needs no link)."""
    # EXISTS per menu on the (menu, resident) index: no scan of a city's two million links.
    linked = ResidentRichMenu.objects.filter(menu=OuterRef("pk"))
    return list(
        RichMenu.objects.filter(municipality=municipality, kind=RichMenu.Kind.NORMAL)
        .filter(Exists(linked))
        .exclude(line_rich_menu_id="")
    )


def _ensure_copies(
    client: Any, mode: DisasterMode, disaster: RichMenu, menus: list[RichMenu]
) -> dict[str, str]:
    """A LINE copy of the disaster menu per segment menu, created only when missing or stale
    (the image is drawn only then)."""
    content_print = disaster.published_fingerprint
    copies: dict[str, Any] = dict(mode.line_copies or {})
    drawn: tuple[dict[str, Any], bytes, str] | None = None
    for menu in menus:
        copy = copies.get(str(menu.pk)) or {}
        if copy.get("fingerprint") == content_print and copy.get("id"):
            continue
        if drawn is None:
            drawn = (richmenu_body(menu=disaster), *richmenu_image(menu=disaster))
        body, data, content_type = drawn
        new = client.rich_menu_create({**body, "name": f"{body['name']}:copy:{menu.pk}"[:300]})
        client.rich_menu_upload_image(new, data, content_type)
        copies[str(menu.pk)] = {"id": new, "fingerprint": content_print}
        _record_copies(mode=mode, copies=copies)
        if copy.get("id") and not mode.is_on:  # a stale copy nobody is linked to: gone at LINE
            client.rich_menu_delete(copy["id"])
    mode.line_copies = copies
    return {key: value["id"] for key, value in copies.items()}


@transaction.atomic(durable=True)
def _record_copies(*, mode: DisasterMode, copies: dict[str, Any]) -> None:
    DisasterMode.objects.filter(pk=mode.pk).update(line_copies=copies)


def _prepare(client: Any, mode: DisasterMode, menus: list[RichMenu]) -> tuple[RichMenu, dict[str, str]]:
    disaster = RichMenu.objects.select_related("municipality").get(
        municipality=mode.municipality, kind=RichMenu.Kind.DISASTER
    )
    if not richmenu_is_current(menu=disaster):  # prepared already: nothing to draw or send
        disaster = richmenu_line_sync(menu_id=disaster.pk)
        mode.refresh_from_db(fields=["line_copies"])  # the publish may have prepared copies
    return disaster, _ensure_copies(client, mode, disaster, menus)


def disaster_menu_prepare(*, municipality: Municipality) -> DisasterMode:
    """Have the disaster menu and its copies at LINE before they are needed (after the disaster
    menu is published or edited), so that the switch itself is the default swap and one batch."""
    mode, _created = DisasterMode.objects.get_or_create(municipality=municipality)
    _prepare(get_line_client(municipality), mode, _segment_menus(municipality))
    return mode


def _wait_for_batch(client: Any) -> str:
    """Poll the batch's progress: soon at first (a small town's batch is done in a moment), then
    every quarter second (LINE allows 2,000 such calls a second), for at most BATCH_POLL_MAX_SECONDS."""
    waited, pause = 0.0, BATCH_POLL_FIRST_SECONDS
    while waited <= BATCH_POLL_MAX_SECONDS:
        phase = client.rich_menu_batch_progress()
        if phase != "ongoing":
            return phase
        time.sleep(pause)
        waited += pause
        pause = min(pause * 1.5, BATCH_POLL_LONGEST_SECONDS)
    raise LineRetryableError("the rich-menu batch is still ongoing")  # the task polls again later


def disaster_mode_apply(*, mode_id: int) -> DisasterMode:
    """Carry out the switch recorded on DisasterMode ``mode_id`` at LINE (the task's work)."""
    mode = DisasterMode.objects.select_related("municipality").get(pk=mode_id)
    if mode.phase == "idle":
        return mode
    municipality = mode.municipality
    client = get_line_client(municipality)
    menus = _segment_menus(municipality)
    if mode.is_on:
        disaster, copies = _prepare(client, mode, menus)
        client.rich_menu_set_default(disaster.line_rich_menu_id)
        moves = [(m, m.line_rich_menu_id, copies[str(m.pk)]) for m in menus]
    else:
        default = (
            RichMenu.objects.filter(municipality=municipality, kind=RichMenu.Kind.NORMAL, is_default=True)
            .exclude(line_rich_menu_id="")
            .first()
        )
        if default is not None:
            client.rich_menu_set_default(default.line_rich_menu_id)
        copies = {key: value["id"] for key, value in (mode.line_copies or {}).items()}
        moves = [(m, copies[str(m.pk)], m.line_rich_menu_id) for m in menus if str(m.pk) in copies]
    method = "default"
    if moves:
        operations = [{"type": "link", "from": source, "to": target} for _m, source, target in moves]
        try:
            client.rich_menu_batch(operations, resume_request_key=mode.request_key)
            phase = _wait_for_batch(client)
        except LineRateLimited:  # LINE's 3 batches an hour are used up: link in bulk instead
            phase = "failed"
        method = "batch"
        if phase == "failed":  # LINE moved some, not all: link each segment's residents
            for menu, _source, target in moves:
                _link_residents(client, menu, target)
            method = "bulk"
    return disaster_mode_applied(mode=mode, method=method)


@transaction.atomic(durable=True)
def disaster_mode_applied(*, mode: DisasterMode, method: str) -> DisasterMode:
    """Record that LINE shows what the mode says (audited with how it was done)."""
    mode = DisasterMode.objects.select_for_update().get(pk=mode.pk)
    mode.phase = "idle"
    mode.save(update_fields=["phase", "updated_at"])
    audit_log(
        actor=None,
        action="richmenus.disaster_mode.applied",
        obj=mode,
        data={"on": mode.is_on, "method": method},
    )
    return mode


@transaction.atomic(durable=True)
def disaster_mode_failed(*, mode_id: int, error: str) -> None:
    """The switch failed for good (the task's last retry): staff see it and can run it again."""
    mode = DisasterMode.objects.select_for_update().get(pk=mode_id)
    mode.phase = "failed"
    mode.last_error = error[:500]
    mode.save(update_fields=["phase", "last_error", "updated_at"])
    audit_log(actor=None, action="richmenus.disaster_mode.failed", obj=mode, data={"error": error[:500]})


def disaster_mode_is_on(*, municipality: Municipality) -> bool:
    return DisasterMode.objects.filter(municipality=municipality, is_on=True).exists()
