"""What the bot answers about reservations: 「予約確認」 and the ``rsv:`` postbacks."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from municipalities import jp, resident_bookings
from municipalities.line import messages as m
from municipalities.line.dispatch import InboundContext
from municipalities.line.liff import resident_link

from .rules import format_dt, waitlist_when
from .selectors import menu_list, reservations_for_resident, waitlist_for_resident

PREFIX = "rsv"
CHECK_WORDS = {"予約確認", "予約の確認", "予約一覧", "予約を確認", "予約確認したい", "私の予約"}
BOOK_WORDS = {"予約", "予約する", "予約したい", "予約メニュー"}
MAX_LISTED = 5


def _quick_replies(ctx: InboundContext) -> list[dict[str, Any]]:
    return [
        m.quick_reply_item(
            m.uri_action("新しく予約する", resident_link(ctx.resident, "/liff/reservations/"))
        ),
        m.quick_reply_item(m.postback_action("予約確認", f"{PREFIX}:my", display_text="予約確認")),
    ]


def _waitlist_lines(waiting: list[tuple[Any, int | None]]) -> list[str]:
    """「キャンセル待ち」 in the 予約確認 answer: each entry with its place in line, or the offer."""
    if not waiting:
        return []
    lines = ["", "キャンセル待ち"]
    for entry, position in waiting[:MAX_LISTED]:
        who = f"（{entry.member.name}）" if entry.member_id else ""
        state = (
            f"{position} 番目" if position else f"空きが出ました。{format_dt(entry.hold_until)} まで確保中"
        )
        when = (
            format_dt(entry.slot.starts_at)
            if entry.slot_id is not None and position is None
            else waitlist_when(entry)
        )
        lines += [f"■ {entry.menu.name}{who}", f"{when} {state}"]
    return lines


def _elsewhere(ctx: InboundContext) -> tuple[list[str], list[dict[str, Any]]]:
    """Bookings other apps keep (施設予約): lines under their own heading, and a quick reply
    to each app's page."""
    lines: list[str] = []
    items: list[dict[str, Any]] = []
    for source in resident_bookings.upcoming_elsewhere(ctx.resident, limit=MAX_LISTED):
        lines += ["", source.label, *(f"■ {line}" for line in source.lines)]
        items.append(
            m.quick_reply_item(
                m.uri_action(source.label[:20], resident_link(ctx.resident, reverse(source.url_name)))
            )
        )
    return lines, items


def upcoming_messages(ctx: InboundContext) -> list[dict[str, Any]]:
    resident = ctx.resident
    items = list(reservations_for_resident(resident=resident)[: MAX_LISTED + 1])
    waiting = waitlist_for_resident(resident=resident)
    elsewhere, elsewhere_replies = _elsewhere(ctx)
    if not items and not waiting:
        return [
            m.text_with_button(
                "\n".join(["これからの予約はありません。", *elsewhere, "", "予約はこちらから:"]),
                "予約する",
                resident_link(resident, "/liff/reservations/"),
                alt_text="これからの予約はありません。",
                quick_reply=_quick_replies(ctx) + elsewhere_replies,
            )
        ]
    lines = [f"これからの予約（{min(len(items), MAX_LISTED)} 件{'以上' if len(items) > MAX_LISTED else ''}）"]
    for r in items[:MAX_LISTED]:
        lines += [
            "",
            f"■ {r.slot.menu.name}{f'（{r.member.name}）' if r.member_id else ''}",
            f"{format_dt(r.slot.starts_at)} {r.slot.venue}",
            f"予約番号 {r.code}",
        ]
    lines += _waitlist_lines(waiting)
    lines += elsewhere
    lines += ["", "変更・キャンセルはこちら:"]
    # The list may hold bookings of several departments; the town-wide chat log does not.
    ctx.talk_log_text = f"（予約確認: これからの予約 {min(len(items), MAX_LISTED)} 件の一覧を送りました）"
    return [
        m.text_with_button(
            "\n".join(lines),
            "予約を見る",
            resident_link(resident, "/liff/reservations/my/"),
            alt_text=lines[0],
            quick_reply=_quick_replies(ctx) + elsewhere_replies,
        )
    ]


def menus_messages(ctx: InboundContext) -> list[dict[str, Any]]:
    menus = [x for x in menu_list(municipality=ctx.municipality) if not x.is_suspended][:12]
    items = [
        m.quick_reply_item(
            m.uri_action(x.name[:20], resident_link(ctx.resident, f"/liff/reservations/menu/{x.pk}/"))
        )
        for x in menus
    ]
    items.append(m.quick_reply_item(m.postback_action("予約確認", f"{PREFIX}:my", display_text="予約確認")))
    return [m.text("予約したいものを選んでください。", quick_reply=items)]


def on_text(ctx: InboundContext) -> list[dict[str, Any]] | None:
    if ctx.resident is None:
        return None
    word = jp.squash(ctx.text)
    if word in CHECK_WORDS:
        return upcoming_messages(ctx)
    if word in BOOK_WORDS:
        return menus_messages(ctx)
    return None


def on_postback(ctx: InboundContext) -> list[dict[str, Any]] | None:
    if ctx.resident is None:
        return None
    action = ctx.postback_data.split(":", 1)[1] if ":" in ctx.postback_data else ""
    if action == "menus":
        return menus_messages(ctx)
    return upcoming_messages(ctx)
