"""The LINE messages this app sends: confirmation, change, cancellation, reminders, 「予約確認」."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from municipalities.line import messages as line_messages
from municipalities.line.liff import resident_link

from .models import Reservation
from .rules import cancel_deadline, format_dt

HEADINGS = {
    "booked": "予約が確定しました。",
    "changed": "予約を変更しました。",
    "cancelled": "予約をキャンセルしました。",
}


def reservation_details(reservation: Reservation) -> str:
    slot = reservation.slot
    end = timezone.localtime(slot.ends_at)
    lines = [
        f"■ {slot.menu.name}",
        f"日時: {format_dt(slot.starts_at)}〜{end:%H:%M}",
        f"会場: {slot.venue}",
        f"予約番号: {reservation.code}",
    ]
    return "\n".join(lines)


def my_reservation_url(reservation: Reservation) -> str:
    return resident_link(reservation.resident, f"/liff/reservations/my/{reservation.pk}/")


def _gist(heading: str, reservation: Reservation) -> str:
    """The alt text (what the phone's notification shows): the heading, what and when."""
    return f"{heading}{reservation.slot.menu.name} {format_dt(reservation.slot.starts_at)}"


def notice_messages(reservation: Reservation, kind: str) -> list[dict[str, Any]]:
    body = [HEADINGS[kind], "", reservation_details(reservation)]
    if kind not in ("booked", "changed"):
        return [line_messages.text("\n".join(body)[:4900])]
    menu = reservation.slot.menu
    deadline = cancel_deadline(menu, reservation.slot.starts_at)
    if menu.confirmation_text:
        body += ["", menu.confirmation_text]
    # The line that points at the button comes last, just above it.
    body += ["", f"変更・キャンセルは {format_dt(deadline)} までこちらから:"]
    return [
        line_messages.text_with_button(
            "\n".join(body),
            "予約を見る",
            my_reservation_url(reservation),
            alt_text=_gist(HEADINGS[kind], reservation),
        )
    ]


def reminder_messages(reservation: Reservation) -> list[dict[str, Any]]:
    body = [
        "ご予約の日が近づきました。",
        "",
        reservation_details(reservation),
        "",
        "ご都合が悪くなったときは、こちらから変更・キャンセルできます:",
    ]
    return [
        line_messages.text_with_button(
            "\n".join(body),
            "予約を見る",
            my_reservation_url(reservation),
            alt_text=_gist(body[0], reservation),
        )
    ]


def waitlist_offer_url(entry: Any) -> str:
    return resident_link(entry.resident, f"/liff/reservations/waitlist/{entry.pk}/")


def waitlist_offer_messages(entry: Any) -> list[dict[str, Any]]:
    """The offer of a freed place (キャンセル待ち): what, when, for whom, until when, and the button."""
    slot = entry.slot
    end = timezone.localtime(slot.ends_at)
    who = f"（{entry.member.name}さん）" if entry.member_id else ""
    body = [
        f"キャンセル待ちの枠に空きが出ました{who}。",
        "",
        f"■ {entry.menu.name}",
        f"日時: {format_dt(slot.starts_at)}〜{end:%H:%M}",
        f"会場: {slot.venue}",
        "",
        f"{format_dt(entry.hold_until)} までお席を確保しています。予約する場合はこちらから:",
    ]
    return [
        line_messages.text_with_button(
            "\n".join(body),
            "予約する",
            waitlist_offer_url(entry),
            alt_text=f"キャンセル待ちの枠に空きが出ました。{entry.menu.name} {format_dt(slot.starts_at)}",
        )
    ]


def waitlist_expired_messages(entry: Any) -> list[dict[str, Any]]:
    """The held place was passed on: what it was, that the waitlist entry has ended, and a button
    back to the menu's calendar (to book another day or join the waitlist again)."""
    slot = entry.slot
    who = f"（{entry.member.name}さん）" if entry.member_id else ""
    body = [
        f"キャンセル待ちでご案内した席の確保期限が過ぎました{who}。",
        "",
        f"■ {entry.menu.name}",
        f"日時: {format_dt(slot.starts_at)}〜{timezone.localtime(slot.ends_at):%H:%M}",
        f"会場: {slot.venue}",
        "",
        f"{format_dt(entry.hold_until)} までにご予約がなかったため、次の方にご案内しました。"
        "このキャンセル待ちは終了しています。ほかの日の予約や、もう一度キャンセル待ちをする場合はこちらから:",
    ]
    return [
        line_messages.text_with_button(
            "\n".join(body),
            "予約ページを開く",
            resident_link(entry.resident, f"/liff/reservations/menu/{entry.menu_id}/"),
            alt_text=f"キャンセル待ちの席の確保期限が過ぎました。{entry.menu.name} {format_dt(slot.starts_at)}",
        )
    ]
