"""LINE events rich menus answer: tile postbacks (prefix ``rm``), 「避難所」 and location messages
(the nearest open shelters), the follow (the segment's menu, the disaster notice) and, during
災害モード, a note before the bot's fallback answer.

``rm:t:<tile id>`` is a tap on a tile that LINE cannot carry out by itself: a feature page in a
town without a LIFF app (the answer is a card whose button signs the resident in), or a staff
postback (counted, then handed to the app whose prefix it carries). ``rm:tab:<tile id>`` comes
with a tab switch (LINE switches the menu itself; the tap is counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from municipalities.jp import normalise_text
from municipalities.line import destinations, dispatch
from municipalities.line import messages as m
from municipalities.line.liff import resident_link
from municipalities.line.towncache import TownCache
from municipalities.tasks_queue import enqueue_on_commit
from richmenus.models import DisasterMode, DisasterType, RichMenuTile, ShelterStatus, TileAction
from richmenus.places import place_for_text
from richmenus.selectors import shelters_near
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


SHELTER_WORDS = {"避難所", "避難場所", "近くの避難所", "避難所はどこ", "避難所を探す"}
SHELTER_LIMIT = 5
STATUS_COLOURS = {
    ShelterStatus.OPEN: "#2E7D32",
    ShelterStatus.CROWDED: "#F9A825",
    ShelterStatus.FULL: "#C62828",
    ShelterStatus.CLOSED: "#757575",
}


def _location_quick_reply() -> list[dict[str, Any]]:
    return [{"type": "action", "action": {"type": "location", "label": str(_("位置情報を送る"))}}]


@dataclass(frozen=True)
class ActiveDisaster:
    """What the answers need of a town's 災害モード while it is on."""

    disaster_type: str  # "" when staff did not say which

    def get_disaster_type_display(self) -> str:
        return str(DisasterType(self.disaster_type).label) if self.disaster_type else ""


def _active_disaster(municipality_id: int) -> ActiveDisaster | None:
    mode = (
        DisasterMode.objects.filter(municipality_id=municipality_id, is_on=True)
        .values_list("disaster_type", flat=True)
        .first()
    )
    return None if mode is None else ActiveDisaster(disaster_type=mode)


# Read on every fallback answer and location message: kept per process and town, and built again
# when a DisasterMode row of the town is saved or deleted (at once and after the commit: below).
_disasters: TownCache[ActiveDisaster | None] = TownCache(
    "richmenus.disaster", _active_disaster, version_key="richmenus:disaster-version:{}"
)


@receiver([post_save, post_delete], sender=DisasterMode, dispatch_uid="richmenus.disaster_changed")
def _disaster_changed(sender: type[DisasterMode], instance: DisasterMode, **kwargs: Any) -> None:
    # Cache invalidation only (no business logic): the switch's service, the admin, a fixture.
    _disasters.invalidate_now_and_on_commit(instance.municipality_id)


def _mode(context: dispatch.InboundContext) -> ActiveDisaster | None:
    return _disasters.get(context.municipality.pk)


# 「避難所 中央1-2-3」「避難所は399-0001」「中央一丁目の避難所」「本町の近くの避難所はどこ？」
_SHELTER_AT_RE = re.compile(r"^(?:近くの)?避難(?:所|場所)(?:は|を|:)?\s*(?P<where>.+)$")
_SHELTER_OF_RE = re.compile(
    r"^(?P<where>.+?)(?:の|から)(?:近くの|付近の|最寄りの)?避難(?:所|場所)(?:は|はどこ)?$"
)


def _where(text: str) -> str | None:
    """The address, postal code or 町名 in a shelter question, or None for another text."""
    for pattern in (_SHELTER_AT_RE, _SHELTER_OF_RE):
        match = pattern.match(text)
        if match:
            where = match.group("where").strip(" 、,:")
            return where if where and where not in {"どこ", "はどこ"} else None
    return None


def on_text(context: dispatch.InboundContext) -> list[dict[str, Any]] | None:
    """「避難所」: ask for the resident's location (one tap), answered by ``on_location``; with an
    address, a postal code or a 町名 (「避難所 中央1-2」): the shelters nearest that place."""
    text = normalise_text(context.text).strip().rstrip("?？")
    if text in SHELTER_WORDS:
        return [
            m.text(
                _(
                    "近くの避難所をお知らせします。下の「位置情報を送る」を押して、今いる場所を送ってください。"
                    "住所・郵便番号・町名でも探せます（例:「避難所 中央1丁目」）。"
                ),
                quick_reply=_location_quick_reply(),
            )
        ]
    where = _where(text)
    if where is None:
        return None
    place = place_for_text(municipality=context.municipality, text=where)
    if place is None:
        return [
            m.text(
                _(
                    "「%(where)s」の場所が分かりませんでした。町名（例: 中央1丁目）や郵便番号で送るか、"
                    "下の「位置情報を送る」を押してください。"
                )
                % {"where": where},
                quick_reply=_location_quick_reply(),
            )
        ]
    return _shelters_answer(
        context,
        place.latitude,
        place.longitude,
        origin=_("「%(place)s」付近（町丁目の代表地点）からの距離です。") % {"place": place.name},
    )


def _distance(metres: int) -> str:
    return _("約 %(km).1f km") % {"km": metres / 1000} if metres >= 1000 else _("約 %(m)d m") % {"m": metres}


def _shelter_bubble(near: Any) -> dict[str, Any]:
    shelter = near.shelter
    status = ShelterStatus(shelter.status)
    map_url = f"https://www.google.com/maps/search/?api=1&query={shelter.latitude},{shelter.longitude}"
    card = m.flex_card(
        title=shelter.name,
        body=shelter.address,
        alt_text=shelter.name,
        fields=[(str(_("状況")), str(status.label)), (str(_("距離")), _distance(near.metres))],
        link=m.uri_action(str(_("地図を開く")), map_url),
    )
    bubble = card["contents"]
    bubble["header"] = {
        "type": "box",
        "layout": "vertical",
        "backgroundColor": STATUS_COLOURS[status],
        "contents": [{"type": "text", "text": str(status.label), "color": "#FFFFFF", "weight": "bold"}],
    }
    return bubble


def on_location(context: dispatch.InboundContext) -> list[dict[str, Any]] | None:
    """A location message: the nearest shelters for the current disaster type, open ones first
    (then 混雑; 満 and 未開設 only after them), as a carousel with distance, status and a map."""
    point = context.location
    if point is None:
        return None
    return _shelters_answer(context, point[0], point[1])


def _shelters_answer(
    context: dispatch.InboundContext, latitude: float, longitude: float, *, origin: str = ""
) -> list[dict[str, Any]]:
    mode = _mode(context)
    found = shelters_near(
        municipality=context.municipality,
        latitude=latitude,
        longitude=longitude,
        disaster_type=mode.disaster_type if mode else "",
        limit=SHELTER_LIMIT,
    )
    if not found:
        return [m.text(_("登録されている避難所が見つかりませんでした。町の防災担当にお問い合わせください。"))]
    intro = (
        _("開設中の近い避難所です。")
        if found[0].shelter.status in (ShelterStatus.OPEN, ShelterStatus.CROWDED)
        else _("開設中の避難所はまだありません。近い避難所です（開設前です）。")
    )
    if origin:
        intro = f"{intro}\n{origin}"
    carousel = {
        "type": "flex",
        "altText": str(_("近くの避難所")),
        "contents": {"type": "carousel", "contents": [_shelter_bubble(near) for near in found]},
    }
    return [m.text(intro), carousel]


def disaster_notice(context: dispatch.InboundContext) -> list[dict[str, Any]]:
    mode = _mode(context)
    if mode is None:
        return []
    kind = f"（{mode.get_disaster_type_display()}）" if mode.disaster_type else ""
    return [
        m.text(
            _(
                "ただいま災害モードです%(kind)s。下のメニューから避難所・緊急のお知らせ・安否の連絡ができます。"
            )
            % {"kind": kind},
            quick_reply=_location_quick_reply(),
        )
    ]


def on_follow(context: dispatch.InboundContext) -> list[dict[str, Any]] | None:
    """A follow: link the resident's segment menu (a returning friend keeps their settings), and
    during 災害モード tell them about the disaster menu."""
    if context.resident is not None:
        enqueue_on_commit("richmenus.tasks.resident_rich_menu_sync_task", context.resident.pk)
    return disaster_notice(context)


def fallback_note(context: dispatch.InboundContext) -> list[dict[str, Any]] | None:
    """Before the bot's fallback answer during 災害モード: point to the disaster menu."""
    return disaster_notice(context)
