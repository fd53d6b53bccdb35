"""What the bot answers about 施設予約: the keyword 「施設予約」, 「施設の予約確認」 and the ``fac:`` postbacks.

``fac:list`` answers like 「施設予約」 (the facilities as buttons), ``fac:my`` like 「施設の予約確認」.
Every link opens a resident page through ``resident_link`` (LIFF or a one-time signed link).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from facilities.models import ACTIVE_BOOKING_STATUSES, WEEKDAY_LABELS, BookingPaymentState, BookingStatus
from facilities.selectors import bookings_for_resident, facilities_for_municipality
from municipalities import jp
from municipalities.line import messages as m
from municipalities.line.dispatch import InboundContext
from municipalities.line.liff import resident_link

PREFIX = "fac"
BOOK_WORDS = {
    "施設予約",
    "施設の予約",
    "施設を予約",
    "施設を予約する",
    "施設予約する",
    "施設予約したい",
    "施設を予約したい",
}
CHECK_WORDS = {"施設の予約確認", "施設予約確認", "施設予約の確認", "施設の予約の確認"}
MAX_LISTED = 5
MAX_BUTTONS = 12  # LINE allows 13 quick replies; one is 「施設の予約確認」


def _day(day: Any) -> str:
    return f"{day.month}月{day.day}日({WEEKDAY_LABELS[day.weekday()]})"


def _my_button() -> dict[str, Any]:
    return m.quick_reply_item(
        m.postback_action("施設の予約確認", f"{PREFIX}:my", display_text="施設の予約確認")
    )


def facilities_messages(ctx: InboundContext) -> list[dict[str, Any]]:
    """「施設予約」: a button per facility (its page) and the resident's bookings."""
    resident = ctx.resident
    facilities = list(facilities_for_municipality(municipality=ctx.municipality)[:MAX_BUTTONS])
    if not facilities:
        return [m.text("いま LINE で予約できる施設はありません。施設に直接お問い合わせください。")]
    items = [
        m.quick_reply_item(
            m.uri_action(f.name[:20], resident_link(resident, reverse("facilities:facility", args=[f.pk])))
        )
        for f in facilities
    ]
    items.append(_my_button())
    return [
        m.text_with_button(
            "予約したい施設を選んでください。\n空いている時間は週の表で確かめられます。",
            "施設の一覧",
            resident_link(resident, reverse("facilities:list")),
            alt_text="予約したい施設を選んでください。",
            quick_reply=items,
        )
    ]


def _state(booking: Any) -> str:
    if booking.status == BookingStatus.PENDING:
        return "申請中"
    if booking.payment_state == BookingPaymentState.UNPAID:
        return "未払い"
    if booking.payment_state == BookingPaymentState.PAID:
        return "支払済み"
    return "確定"


def my_messages(ctx: InboundContext) -> list[dict[str, Any]]:
    """「施設の予約確認」: the coming bookings with their payment state, and a button to the page."""
    resident = ctx.resident
    items = list(
        bookings_for_resident(resident=resident)
        .filter(status__in=ACTIVE_BOOKING_STATUSES, use_date__gte=timezone.localdate())
        .order_by("use_date", "starts_at", "pk")[: MAX_LISTED + 1]
    )
    page = resident_link(resident, reverse("facilities:my_list"))
    book = m.quick_reply_item(m.postback_action("施設を予約する", f"{PREFIX}:list", display_text="施設予約"))
    if not items:
        return [
            m.text_with_button(
                "これからの施設予約はありません。",
                "施設の予約確認",
                page,
                alt_text="これからの施設予約はありません。",
                quick_reply=[book],
            )
        ]
    more = "以上" if len(items) > MAX_LISTED else ""
    lines = [f"これからの施設予約（{min(len(items), MAX_LISTED)} 件{more}）"]
    for b in items[:MAX_LISTED]:
        lines += [
            "",
            f"■ {b.facility.name} {b.room.name}",
            f"{_day(b.use_date)} {b.starts_at:%H:%M}〜{b.ends_at:%H:%M}",
            f"予約番号 {b.code}（{_state(b)}）",
        ]
    lines += ["", "お支払い・取消はこちら:"]
    # The list may hold bookings of several departments; the town-wide chat log does not.
    ctx.talk_log_text = (
        f"（施設の予約確認: これからの施設予約 {min(len(items), MAX_LISTED)} 件の一覧を送りました）"
    )
    return [m.text_with_button("\n".join(lines), "予約を見る", page, alt_text=lines[0], quick_reply=[book])]


def on_text(ctx: InboundContext) -> list[dict[str, Any]] | None:
    if ctx.resident is None:
        return None
    word = jp.squash(ctx.text)
    if word in BOOK_WORDS:
        return facilities_messages(ctx)
    if word in CHECK_WORDS:
        return my_messages(ctx)
    return None


def on_postback(ctx: InboundContext) -> list[dict[str, Any]] | None:
    if ctx.resident is None:
        return None
    action = ctx.postback_data.split(":", 1)[1] if ":" in ctx.postback_data else ""
    if action == "my":
        return my_messages(ctx)
    return facilities_messages(ctx)
