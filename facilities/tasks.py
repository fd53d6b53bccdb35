"""Celery entry points (STYLE R10): take ids, call one service, can run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from facilities.services import booking_notify, bookings_lapse_unpaid
from municipalities.line.tasks import LineSendTask

logger = logging.getLogger(__name__)


@shared_task(base=LineSendTask, failure_model="facilities.FacilityBooking")
def booking_notify_task(booking_id: int, kind: str) -> bool:
    return booking_notify(booking_id=booking_id, kind=kind)


@shared_task
def bookings_lapse_unpaid_task() -> int:
    """Every 5 minutes (beat): unpaid bookings past their payment deadline lapse, once each."""
    lapsed = bookings_lapse_unpaid()
    if lapsed:
        logger.info("facilities: %s unpaid bookings lapsed", lapsed)
    return lapsed


# --- lottery --- (owned by the lottery's helper: its tasks go below this line)
