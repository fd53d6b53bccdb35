"""The 受信設定 flow in the chat: 「受信設定」 shows the settings with quick replies; each tap is a
postback ``bc:<verb>:<value>`` that changes one thing and shows the settings again."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from broadcasts.services.preferences import receive_settings_update, settings_summary, toggle_interest
from municipalities import jp
from municipalities.errors import ServiceError
from municipalities.line import messages as m
from municipalities.line.dispatch import InboundContext
from municipalities.line.liff import resident_link
from municipalities.models import AgeBand, Area, Interest, Resident

PREFIX = "bc"
KEYWORDS = {"受信設定", "受信設定を変更", "受信設定変更", "通知設定", "お知らせ設定", "配信設定"}
MAX_INTEREST_ITEMS = 9  # + 地区, 年代, 停止/再開, 画面で設定 = LINE's 13 quick replies


def _menu(resident: Resident, lead: str = "") -> list[dict[str, Any]]:
    chosen = set(resident.interests.values_list("pk", flat=True))
    items = []
    for interest in Interest.objects.filter(municipality_id=resident.municipality_id).order_by(
        "sort_order", "code"
    )[:MAX_INTEREST_ITEMS]:
        on = interest.pk in chosen
        label = ("✓" if on else "＋") + interest.name
        shown = (
            _("%(name)sを止める") % {"name": interest.name}
            if on
            else _("%(name)sを受け取る") % {"name": interest.name}
        )
        items.append(
            m.quick_reply_item(m.postback_action(label, f"{PREFIX}:t:{interest.pk}", display_text=shown))
        )
    items.append(
        m.quick_reply_item(
            m.postback_action(_("地区を選ぶ"), f"{PREFIX}:areas", display_text=_("地区を選ぶ"))
        )
    )
    items.append(
        m.quick_reply_item(m.postback_action(_("年代を選ぶ"), f"{PREFIX}:ages", display_text=_("年代を選ぶ")))
    )
    if resident.notices_paused:
        items.append(
            m.quick_reply_item(
                m.postback_action(_("お知らせを再開"), f"{PREFIX}:p:0", display_text=_("お知らせを再開"))
            )
        )
    else:
        items.append(
            m.quick_reply_item(
                m.postback_action(_("お知らせを停止"), f"{PREFIX}:p:1", display_text=_("お知らせを停止"))
            )
        )
    items.append(
        m.quick_reply_item(
            m.uri_action(_("画面で設定"), resident_link(resident, reverse("broadcasts:receive_settings")))
        )
    )
    body = settings_summary(resident) + "\n\n" + _("下のボタンで変更できます（✓ は受け取り中）。")
    if lead:
        body = lead + "\n\n" + body
    return [m.text(body, quick_reply=items)]


def on_text(ctx: InboundContext) -> list[dict[str, Any]] | None:
    if jp.squash(ctx.text) not in KEYWORDS:
        return None
    if ctx.resident is None:
        return [m.text(_("友だち追加をすると、受け取るお知らせを選べます。"))]
    return _menu(ctx.resident)


def on_postback(ctx: InboundContext) -> list[dict[str, Any]] | None:
    resident = ctx.resident
    if resident is None:
        return [m.text(_("友だち追加をすると、受け取るお知らせを選べます。"))]
    parts = ctx.postback_data.split(":")
    verb = parts[1] if len(parts) > 1 else ""
    value = parts[2] if len(parts) > 2 else ""
    try:
        return _answer(resident, verb, value)
    except ServiceError as exc:
        return [m.text(exc.message)]


def _answer(resident: Resident, verb: str, value: str) -> list[dict[str, Any]]:
    town_id = resident.municipality_id
    if verb == "menu":
        return _menu(resident)
    if verb == "t":
        interest = Interest.objects.filter(municipality_id=town_id, pk=_int(value)).first()
        if interest is None:
            return _menu(resident, _("この分野は選べなくなりました。"))
        resident, on = toggle_interest(resident, interest)
        lead = (
            _("「%(name)s」のお知らせを受け取ります。") if on else _("「%(name)s」のお知らせを止めました。")
        )
        return _menu(resident, lead % {"name": interest.name})
    if verb == "p":
        paused = value == "1"
        resident = receive_settings_update(resident=resident, notices_paused=paused, confirm=False)
        lead = (
            _("お知らせを停止しました。緊急のお知らせは届きます。")
            if paused
            else _("お知らせを再開しました。")
        )
        return _menu(resident, lead)
    if verb == "areas":
        if Area.objects.filter(municipality_id=town_id).count() > 12:  # more than quick replies can hold
            link = resident_link(resident, reverse("broadcasts:receive_settings"))
            return [
                m.text(
                    _("地区がたくさんあるため、設定画面の一覧から選んでください。"),
                    quick_reply=[m.quick_reply_item(m.uri_action(_("地区を選ぶ"), link))],
                )
            ]
        items = [
            m.quick_reply_item(m.postback_action(area.name, f"{PREFIX}:a:{area.pk}", display_text=area.name))
            for area in Area.objects.filter(municipality_id=town_id).order_by("sort_order", "name")[:12]
        ]
        items.append(
            m.quick_reply_item(
                m.postback_action(_("選ばない"), f"{PREFIX}:a:0", display_text=_("地区を選ばない"))
            )
        )
        return [m.text(_("お住まいの地区を選んでください。"), quick_reply=items)]
    if verb == "a":
        area = Area.objects.filter(municipality_id=town_id, pk=_int(value)).first() if value != "0" else None
        resident = receive_settings_update(resident=resident, area=area, confirm=False)
        lead = (
            _("地区を「%(name)s」にしました。") % {"name": area.name}
            if area
            else _("地区の設定を外しました。")
        )
        return _menu(resident, lead)
    if verb == "ages":
        items = [
            m.quick_reply_item(m.postback_action(label, f"{PREFIX}:g:{code}", display_text=label))
            for code, label in AgeBand.choices
        ]
        items.append(
            m.quick_reply_item(
                m.postback_action(_("答えない"), f"{PREFIX}:g:-", display_text=_("年代を答えない"))
            )
        )
        return [m.text(_("年代を選んでください。"), quick_reply=items)]
    if verb == "g":
        band = "" if value == "-" else value
        if band not in AgeBand.values and band:
            return _menu(resident, _("年代の選び方が正しくありません。"))
        resident = receive_settings_update(resident=resident, age_band=band, confirm=False)
        label = dict(AgeBand.choices).get(band)
        lead = (
            _("年代を「%(band)s」にしました。") % {"band": label} if label else _("年代の設定を外しました。")
        )
        return _menu(resident, lead)
    return _menu(resident)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
