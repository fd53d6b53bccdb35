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


def notice_messages(reservation: Reservation, kind: str) -> list[dict[str, Any]]:
    body = [HEADINGS[kind], "", reservation_details(reservation)]
    if kind in ("booked", "changed"):
        menu = reservation.slot.menu
        deadline = cancel_deadline(menu, reservation.slot.starts_at)
        body += [
            "",
            f"変更・キャンセルは {format_dt(deadline)} までこちらから:",
            my_reservation_url(reservation),
        ]
        if menu.confirmation_text:
            body += ["", menu.confirmation_text]
    return [line_messages.text("\n".join(body)[:4900])]


def reminder_messages(reservation: Reservation) -> list[dict[str, Any]]:
    body = [
        "ご予約の日が近づきました。",
        "",
        reservation_details(reservation),
        "",
        "ご都合が悪くなったときは、こちらから変更・キャンセルできます:",
        my_reservation_url(reservation),
    ]
    return [line_messages.text("\n".join(body)[:4900])]
