"""The LINE messages of a lottery's result: a win (pay by the deadline, with the link) and a loss
(with the frames still free, first come, first served, and the link to the room's week grid).

Built here, pushed by ``facilities.services.lottery_notices.lottery_results_notify`` (a Celery
task enqueued when the draw commits), through the one gateway (``municipalities.line``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from facilities.models import (
    BookingPaymentState,
    LotteryApplication,
    LotteryApplicationStatus,
    Room,
)
from facilities.notifications import booking_details, format_day
from facilities.selectors import week_grid
from municipalities.line import messages as line_messages
from municipalities.line.liff import resident_link
from municipalities.models import Resident

WIN_HEADING = "施設の抽選に当選しました。"
LOSS_HEADING = "施設の抽選の結果、落選となりました。"
# A push carries at most five messages: up to four wins, then one message for the rest.
MAX_WIN_CARDS = 4
MAX_FREE_FRAMES = 5


def _link(resident: Resident, name: str, kwargs: dict[str, Any], query: str = "") -> str | None:
    try:
        path = reverse(name, kwargs=kwargs)
    except NoReverseMatch:  # the resident pages are not installed
        return None
    return resident_link(resident, path + query)


def free_frames(room: Room, month: dt.date, *, now: dt.datetime | None = None) -> list[str]:
    """Up to ``MAX_FREE_FRAMES`` frames of ``room`` in the month of ``month`` a resident may book
    now (first come, first served), as 「2月7日(日) 夜間 18:00〜」."""
    now = now or timezone.now()
    start = max(month, timezone.localtime(now).date())
    end = (month + dt.timedelta(days=32)).replace(day=1)
    if start >= end:
        return []
    grid = week_grid(room=room, start=start, days=(end - start).days, now=now)
    found = []
    for day in grid.days:
        for frame in grid.frames:
            if grid.cell(day, frame).bookable:
                found.append(f"{format_day(day)} {frame.name} {frame.starts_at:%H:%M}〜")
                if len(found) >= MAX_FREE_FRAMES:
                    return found
    return found


def win_message(application: LotteryApplication) -> dict[str, Any]:
    booking = application.booking
    body = [WIN_HEADING, "", booking_details(booking)]
    if booking.payment_state == BookingPaymentState.UNPAID and booking.payment_due_at:
        due = timezone.localtime(booking.payment_due_at)
        body += [
            "",
            f"お支払い期限: {format_day(due.date())} {due:%H:%M}",
            "期限までにお支払いがないと当選は無効になり、枠は先着順の受付に戻ります。",
        ]
    alt = f"{WIN_HEADING}{booking.facility.name} {format_day(booking.use_date)}"
    url = _link(application.resident, "facilities:booking_detail", {"code": booking.code})
    if url is None:
        return line_messages.text("\n".join(body)[:4900])
    label = "お支払いへ" if booking.payment_state == BookingPaymentState.UNPAID else "予約を見る"
    return line_messages.text_with_button("\n".join(body), label, url, alt_text=alt)


def _frame_line(application: LotteryApplication) -> str:
    frame = application.lottery_frame
    return (
        f"■ {application.round.facility.name} {frame.room.name} "
        f"{format_day(frame.use_date)} {frame.starts_at:%H:%M}〜{frame.ends_at:%H:%M}"
        f"（{application.group_name}）"
    )


def loss_message(losses: list[LotteryApplication], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """One message for every lost frame of the round, with the frames still free in the same
    rooms that month and a button to the first room's week grid."""
    body = [LOSS_HEADING, "", *(_frame_line(a) for a in losses)]
    first = losses[0]
    month = first.round.month
    offers: list[str] = []
    for room in {a.lottery_frame.room_id: a.lottery_frame.room for a in losses}.values():
        offers += [f"・{room.name} {line}" for line in free_frames(room, month, now=now)]
    if offers:
        body += ["", "まだ空いている枠（先着順で予約できます）:", *offers[:MAX_FREE_FRAMES]]
    else:
        body += ["", "ほかの日の空き枠は、施設予約の画面からご覧ください。"]
    alt = f"{LOSS_HEADING}{first.round.facility.name}"
    url = _link(
        first.resident,
        "facilities:room_week",
        {"room_id": first.lottery_frame.room_id},
        f"?start={max(month, timezone.localdate(now)).isoformat()}",
    )
    if url is None:
        return line_messages.text("\n".join(body)[:4900])
    return line_messages.text_with_button("\n".join(body), "空き枠を見る", url, alt_text=alt)


def result_messages(
    applications: list[LotteryApplication], *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The push of one resident's results in one round: a card per win (pay by the deadline),
    one message for the losses (with free frames). At most five messages."""
    wins = [
        a
        for a in applications
        if a.status == LotteryApplicationStatus.WON and a.booking is not None and a.booking.is_active
    ]
    losses = [a for a in applications if a.status == LotteryApplicationStatus.LOST]
    messages = [win_message(a) for a in wins[:MAX_WIN_CARDS]]
    if len(wins) > MAX_WIN_CARDS:
        more = "\n".join(booking_details(a.booking) for a in wins[MAX_WIN_CARDS:])
        messages.append(line_messages.text(f"{WIN_HEADING}（続き）\n\n{more}"[:4900]))
    if losses and len(messages) < 5:
        messages.append(loss_message(losses, now=now))
    return messages[:5]
