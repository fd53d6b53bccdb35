"""Postbacks from rich-menu tiles (prefix ``rm``).

``rm:t:<tile id>`` is a tap on a tile that LINE cannot carry out by itself: a feature page in a
town without a LIFF app (the answer is a card whose button signs the resident in), or a staff
postback (counted, then handed to the app whose prefix it carries). ``rm:tab:<tile id>`` comes
with a tab switch (LINE switches the menu itself; the tap is counted).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from municipalities.line import destinations, dispatch
from municipalities.line import messages as m
from municipalities.line.liff import resident_link
from richmenus.models import RichMenuTile, TileAction
from richmenus.services import tap_count

PREFIX = "rm"


def _tile(context: dispatch.InboundContext, raw_id: str) -> RichMenuTile | None:
    if not raw_id.isdigit():
        return None
    return (
        RichMenuTile.objects.select_related("menu")
        .filter(pk=int(raw_id), menu__municipality=context.municipality)
        .first()
    )


def on_postback(context: dispatch.InboundContext) -> list[dict[str, Any]] | None:
    parts = context.postback_data.split(":", 2)
    kind, raw_id = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
    tile = _tile(context, raw_id)
    if tile is None:
        return [m.text(_("このメニューは今は使えません。メニューを開き直してください。"))]
    tap_count(tile=tile)
    if kind == "tab":
        return []
    if tile.action == TileAction.POSTBACK and tile.data:
        handler = dispatch.postback_handler(tile.data)
        if handler is None or tile.data.startswith(f"{PREFIX}:"):
            return []
        forwarded = {
            **context.event,
            "postback": {**dispatch.as_dict(context.event.get("postback")), "data": tile.data},
        }
        return handler(
            dispatch.InboundContext(
                municipality=context.municipality, resident=context.resident, event=forwarded
            )
        )
    if tile.action == TileAction.FEATURE and context.resident is not None:
        path = destinations.path_for(tile.feature, tile.feature_object_id)
        if path is None:
            return [m.text(_("このページは今は開けません。"))]
        link = resident_link(context.resident, path)
        return [
            m.text_with_button(
                _("%(label)s\n下のボタンから開いてください。") % {"label": tile.label},
                str(_("開く")),
                link,
                alt_text=tile.label,
            )
        ]
    return []
