"""A menu as LINE takes it (areas, actions, image), checked, published and replaced.

``richmenu_publish`` is the staff use case (durable transaction, audited, the LINE work enqueued
on commit); ``richmenu_line_sync`` is that work, run by the task outside any transaction: create
the menu at LINE (or reuse the one already there when nothing changed: LINE allows 100 creates
an hour), upload its image, point its alias and the default at it, move its linked residents, and
only then delete the old one, so residents never see no menu.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.line import destinations
from municipalities.line.client import get_line_client
from municipalities.line.liff import LIFF_URL
from municipalities.line.richmenus_gateway import BULK_LINK_MAX
from municipalities.tasks_queue import enqueue_on_commit
from richmenus import image, limits
from richmenus.errors import RichMenuError
from richmenus.models import DisasterMode, ResidentRichMenu, RichMenu, RichMenuTile, TileAction
from richmenus.selectors import has_targets

POSTBACK_PREFIX = "rm"


def tap_path(tile: RichMenuTile) -> str:
    """The counting page a feature tile opens in a town with a LIFF app (richmenus.views)."""
    return reverse("richmenus:tile_tap", kwargs={"tile_id": tile.pk})


def tile_action(tile: RichMenuTile, *, liff_id: str) -> dict[str, Any]:
    """The LINE action of ``tile`` (Messaging API "Action objects"), label = the tile's label."""
    label = tile.label[:20]
    if tile.action == TileAction.TEXT:
        return {"type": "message", "label": label, "text": tile.text or tile.label}
    if tile.action == TileAction.URI:
        return {"type": "uri", "label": label, "uri": tile.uri}
    if tile.action == TileAction.SWITCH:
        alias = tile.switch_to.alias if tile.switch_to else ""
        return {
            "type": "richmenuswitch",
            "label": label,
            "richMenuAliasId": alias,
            "data": f"{POSTBACK_PREFIX}:tab:{tile.pk}",
        }
    if tile.action == TileAction.FEATURE and liff_id:
        return {"type": "uri", "label": label, "uri": f"{LIFF_URL}{liff_id}?next={tap_path(tile)}"}
    # A feature page without a LIFF app (the bot answers with a sign-in button) or a postback.
    return {
        "type": "postback",
        "label": label,
        "data": f"{POSTBACK_PREFIX}:t:{tile.pk}",
        "displayText": tile.label,
    }


def _tiles(menu: RichMenu) -> list[RichMenuTile]:
    return list(menu.tiles.select_related("switch_to").order_by("position"))


def richmenu_check(*, menu: RichMenu, tiles: list[RichMenuTile] | None = None) -> None:
    """Everything LINE would refuse, as RichMenuError, before any call: size, chat bar, areas,
    a tile per area and what each tile needs (a page, a text, an https URL, a tab)."""
    tiles = _tiles(menu) if tiles is None else tiles
    width, height = menu.size
    limits.check_size(width, height)
    limits.check_chat_bar_text(menu.chat_bar_text)
    areas = menu.areas()
    limits.check_areas(areas, width=width, height=height)
    by_position = {t.position: t for t in tiles}
    for position in range(1, len(areas) + 1):
        tile = by_position.get(position)
        if tile is None:
            raise RichMenuError(
                _("%(n)d 番目のマスにボタンがありません（このレイアウトは %(total)d 個です）。")
                % {"n": position, "total": len(areas)},
                code="tile_missing",
            )
        _check_tile(tile)
    extra = sorted(p for p in by_position if p > len(areas))
    if extra:
        raise RichMenuError(
            _("このレイアウトは %(total)d 個のマスです。%(n)d 番目のボタンは表示されません。")
            % {"total": len(areas), "n": extra[0]},
            code="tile_extra",
        )


def _check_tile(tile: RichMenuTile) -> None:
    where = _("「%(label)s」のボタン: ") % {"label": tile.label}
    if (
        tile.action == TileAction.FEATURE
        and destinations.path_for(tile.feature, tile.feature_object_id) is None
    ):
        raise RichMenuError(where + _("開く機能を選んでください。"), code="tile_feature")
    if tile.action == TileAction.URI and not tile.uri.startswith("https://"):
        raise RichMenuError(where + _("URL は https:// で始まるものにしてください。"), code="tile_uri")
    if tile.action == TileAction.TEXT and not (tile.text or tile.label):
        raise RichMenuError(where + _("送る文字を入力してください。"), code="tile_text")
    if tile.action == TileAction.POSTBACK and not tile.data:
        raise RichMenuError(where + _("ポストバックのデータを入力してください。"), code="tile_data")
    if tile.action == TileAction.SWITCH and not (tile.switch_to and tile.switch_to.alias):
        raise RichMenuError(
            where + _("切り替え先に、タブ名のあるメニューを選んでください。"), code="tile_switch"
        )


def richmenu_body(*, menu: RichMenu, tiles: list[RichMenuTile] | None = None) -> dict[str, Any]:
    """The rich menu object (Messaging API "Rich menu object") of ``menu``."""
    tiles = _tiles(menu) if tiles is None else tiles
    by_position = {t.position: t for t in tiles}
    liff_id = menu.municipality.liff_id or ""
    width, height = menu.size
    return {
        "size": {"width": width, "height": height},
        "selected": True,
        "name": f"{menu.municipality.slug}:{menu.pk}:{menu.name}"[:300],
        "chatBarText": menu.chat_bar_text,
        "areas": [
            {"bounds": area.as_dict(), "action": tile_action(by_position[i], liff_id=liff_id)}
            for i, area in enumerate(menu.areas(), 1)
            if i in by_position
        ],
    }


def richmenu_image(*, menu: RichMenu, tiles: list[RichMenuTile] | None = None) -> tuple[bytes, str]:
    """The image LINE gets: the upload (checked by content, re-encoded past 1 MB), or drawn."""
    if menu.uploaded_image:
        with menu.uploaded_image.open("rb") as f:
            data = f.read()
        fitted, content_type = limits.fit_image_bytes(data)
        with Image.open(io.BytesIO(fitted)) as uploaded:
            if uploaded.size != menu.size:
                raise RichMenuError(
                    _("画像の大きさを %(w)d×%(h)d ピクセルにしてください（今は %(uw)d×%(uh)d）。")
                    % {"w": menu.size[0], "h": menu.size[1], "uw": uploaded.size[0], "uh": uploaded.size[1]},
                    code="image_size_mismatch",
                )
        return fitted, content_type
    tiles = _tiles(menu) if tiles is None else tiles
    by_position = {t.position: t for t in tiles}
    logo = None
    if menu.logo:
        with menu.logo.open("rb") as f:
            logo = f.read()
    drawings = [
        image.TileDrawing(
            bounds=area,
            label=by_position[i].label,
            icon=by_position[i].icon,
            background=by_position[i].background_color,
            foreground=by_position[i].text_color,
        )
        for i, area in enumerate(menu.areas(), 1)
        if i in by_position
    ]
    return image.render(size=menu.size, tiles=drawings, background=menu.background_color, logo=logo)


def richmenu_is_current(*, menu: RichMenu) -> bool:
    """LINE has this menu as it is now: published, and neither it nor a tile changed since (the
    disaster switch then skips drawing the image again)."""
    if not (menu.line_rich_menu_id and menu.published_at and menu.published_fingerprint):
        return False
    if menu.updated_at > menu.published_at:
        return False
    return not menu.tiles.filter(updated_at__gt=menu.published_at).exists()


def fingerprint(body: dict[str, Any], data: bytes) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
    digest.update(data)
    return digest.hexdigest()


@transaction.atomic(durable=True)
def richmenu_publish(*, menu: RichMenu, actor: Any | None, enqueue: bool = True) -> RichMenu:
    """Publish ``menu`` (or publish its changes): checks LINE's limits now, then sends it to
    LINE on commit (``richmenu_publish_task``; ``enqueue=False``: the caller runs
    ``richmenu_line_sync`` itself after the commit, as the management command does). Raises
    RichMenuError. Audited."""
    if actor is not None:
        permissions.require(actor, "publish", menu, error=RichMenuError)
    menu = RichMenu.objects.select_for_update().select_related("municipality").get(pk=menu.pk)
    richmenu_check(menu=menu)
    audit_log(actor=actor, action="richmenus.richmenu.publish_requested", obj=menu, data={"name": menu.name})
    if enqueue:
        enqueue_on_commit("richmenus.tasks.richmenu_publish_task", menu.pk)
    return menu


def _link_residents(client: Any, menu: RichMenu, rich_menu_id: str) -> int:
    """Link the residents recorded on ``menu`` to ``rich_menu_id`` (bulk, 500 a request)."""
    calls = 0
    last = 0
    while True:
        ids = list(
            ResidentRichMenu.objects.filter(menu=menu, resident_id__gt=last)
            .order_by("resident_id")
            .values_list("resident_id", "resident__line_user_id")[:BULK_LINK_MAX]
        )
        if not ids:
            return calls
        client.rich_menu_link_users(rich_menu_id, [user_id for _pk, user_id in ids])
        calls += 1
        last = ids[-1][0]


def richmenu_line_sync(*, menu_id: int) -> RichMenu:
    """Send menu ``menu_id`` to LINE and record it (the publish task; runs outside any
    transaction, STYLE R3). Idempotent: a menu whose content LINE already has is reused, not
    created again; a run that died half way runs again from the start."""
    menu = RichMenu.objects.select_related("municipality").get(pk=menu_id)
    tiles = _tiles(menu)
    richmenu_check(menu=menu, tiles=tiles)
    body = richmenu_body(menu=menu, tiles=tiles)
    data, content_type = richmenu_image(menu=menu, tiles=tiles)
    content_print = fingerprint(body, data)
    client = get_line_client(menu.municipality)
    old = menu.line_rich_menu_id
    if old and menu.published_fingerprint == content_print:
        new = old
    else:
        client.rich_menu_validate(body)
        new = client.rich_menu_create(body)
        client.rich_menu_upload_image(new, data, content_type)
    if menu.alias:
        client.rich_menu_alias_set(menu.alias, new)
    disaster = DisasterMode.objects.filter(municipality=menu.municipality, is_on=True).exists()
    if menu.kind == RichMenu.Kind.NORMAL and menu.is_default and not disaster:
        client.rich_menu_set_default(new)  # the swap: LINE shows the new one at once
    if new != old and menu.kind == RichMenu.Kind.NORMAL and not disaster:
        _link_residents(client, menu, new)
    menu = richmenu_published_record(menu=menu, rich_menu_id=new, content_print=content_print, replaced=old)
    if old and old != new:
        client.rich_menu_delete(old)
    if menu.kind == RichMenu.Kind.DISASTER:
        # Its copies for the segment menus, before 災害モード needs them (disaster.py).
        enqueue_on_commit("richmenus.tasks.disaster_menu_prepare_task", menu.municipality_id)
    elif menu.kind == RichMenu.Kind.NORMAL and (
        has_targets(menu) or ResidentRichMenu.objects.filter(menu=menu).exists()
    ):
        # A segment menu (or one that was): link the residents it targets now, as a job with its
        # progress (links.py), 500 a request, only those whose menu differs.
        enqueue_on_commit(
            "richmenus.tasks.richmenu_link_job_start_task",
            menu.municipality_id,
            _("「%(name)s」を公開") % {"name": menu.name},
        )
    return menu


@transaction.atomic(durable=True)
def richmenu_published_record(
    *, menu: RichMenu, rich_menu_id: str, content_print: str, replaced: str
) -> RichMenu:
    """Record that LINE shows ``rich_menu_id`` for ``menu`` (audited: published / replaced)."""
    now = timezone.now()
    # One moment for both: ``richmenu_is_current`` compares later edits with it (a save()
    # would stamp updated_at after published_at).
    RichMenu.objects.filter(pk=menu.pk).select_for_update().update(
        line_rich_menu_id=rich_menu_id,
        published_fingerprint=content_print,
        published_at=now,
        status=RichMenu.Status.PUBLISHED,
        updated_at=now,
    )
    menu = RichMenu.objects.select_related("municipality").get(pk=menu.pk)
    action = "richmenus.richmenu.published" if not replaced else "richmenus.richmenu.replaced"
    audit_log(
        actor=None,
        action=action,
        obj=menu,
        data={"rich_menu_id": rich_menu_id, "replaced": replaced, "reused": replaced == rich_menu_id},
    )
    return menu
