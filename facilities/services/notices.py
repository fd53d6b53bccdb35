"""Pushing a booking's notice to the resident (after commit, from a Celery task)."""

from __future__ import annotations

from facilities.models import FacilityBooking
from facilities.notifications import KINDS, notice_messages
from municipalities.line.client import get_line_client, retry_key_for


def booking_notify(*, booking_id: int, kind: str) -> bool:
    """Push the ``kind`` notice of a booking to its resident, once (the retry key is fixed per
    booking and kind, so a retried task is answered 409 by LINE). False when there is nobody to
    tell (a caller's booking, an unfollowed resident)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    booking = (
        FacilityBooking.objects.select_related("facility__department__municipality", "room", "resident")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None or booking.resident is None or not booking.resident.is_following:
        return False
    department = booking.facility.department
    get_line_client(department.municipality).push(
        booking.resident.line_user_id,
        notice_messages(booking, kind),
        retry_key=retry_key_for("facilities", "notice", booking.pk, kind),
        department=department,
    )
    return True
