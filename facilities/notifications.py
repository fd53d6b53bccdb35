"""The LINE messages of facility bookings: booked, applied, approved, rejected, cancelled, lapsed.

Messages are built here and pushed by ``facilities.services.notices.booking_notify`` (a Celery
task enqueued on commit), through the one gateway (``municipalities.line``).
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from facilities.models import WEEKDAY_LABELS, BookingPaymentState, FacilityBooking
from municipalities.line import messages as line_messages
from municipalities.line.liff import resident_link
from municipalities.tasks_queue import enqueue_on_commit

HEADINGS = {
    "booked": "施設の予約が確定しました。",
    "applied": "施設の利用を申請しました。承認されると LINE でお知らせします。",
    "approved": "施設の利用が承認されました。",
    "rejected": "施設の利用申請は承認されませんでした。",
    "cancelled": "施設の予約を取り消しました。",
    "closure_cancelled": "臨時休館のため、施設の予約を取り消しました。",
    "lapsed": "お支払いの期限を過ぎたため、施設の予約は失効しました。",
}
KINDS = tuple(HEADINGS)


def format_day(day: Any) -> str:
    return f"{day.month}月{day.day}日({WEEKDAY_LABELS[day.weekday()]})"


def booking_details(booking: FacilityBooking) -> str:
    lines = [
        f"■ {booking.facility.name} {booking.room.name}",
        f"日時: {format_day(booking.use_date)} {booking.starts_at:%H:%M}〜{booking.ends_at:%H:%M}",
        f"団体名: {booking.display_name}",
        f"予約番号: {booking.code}",
    ]
    if booking.total_fee:
        lines.append(f"使用料: {booking.total_fee:,}円（{booking.get_payment_state_display()}）")
    return "\n".join(lines)


def _booking_url(booking: FacilityBooking) -> str | None:
    try:
        path = reverse("facilities:booking_detail", kwargs={"code": booking.code})
    except NoReverseMatch:  # the resident pages are not installed
        return None
    return resident_link(booking.resident, path)


def notice_messages(booking: FacilityBooking, kind: str) -> list[dict[str, Any]]:
    heading = HEADINGS[kind]
    body = [heading, "", booking_details(booking)]
    if kind == "rejected" and booking.rejection_reason:
        body += ["", f"理由: {booking.rejection_reason}"]
    if kind == "closure_cancelled" and booking.cancel_reason:
        body += ["", f"理由: {booking.cancel_reason}"]
    if kind in ("cancelled", "closure_cancelled") and booking.refund_amount:
        body += ["", f"{booking.refund_amount:,}円を返金します。"]
        if booking.cancellation_fee:
            body.append(f"（取消手数料 {booking.cancellation_fee:,}円）")
    if booking.is_active and booking.payment_state == BookingPaymentState.UNPAID and booking.payment_due_at:
        due = timezone.localtime(booking.payment_due_at)
        body += ["", f"お支払い期限: {format_day(due.date())} {due:%H:%M}"]
    alt = f"{heading}{booking.facility.name} {format_day(booking.use_date)}"
    url = _booking_url(booking) if booking.resident_id else None
    if url is None:
        return [line_messages.text("\n".join(body)[:4900])]
    return [line_messages.text_with_button("\n".join(body), "予約を見る", url, alt_text=alt)]


def booking_notify_on_commit(booking: FacilityBooking, kind: str) -> None:
    """Tell the resident once the change is committed; bookings entered for a caller have nobody to push to."""
    if booking.resident_id is None:
        return
    enqueue_on_commit("facilities.tasks.booking_notify_task", booking.pk, kind)
