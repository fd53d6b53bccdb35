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

from facilities.services.lottery_draw import lottery_rounds_advance  # noqa: E402 - the lottery's section
from facilities.services.lottery_notices import lottery_results_notify  # noqa: E402


@shared_task
def lottery_rounds_advance_task() -> dict[str, int]:
    """Every minute (beat): close rounds whose window ended, draw those whose time has come
    (once: a drawn round is left as it is), release the frames of lapsed wins, finish rounds."""
    counts = lottery_rounds_advance()
    if any(counts.values()):
        logger.info("facilities: lottery rounds advanced %s", counts)
    return counts


@shared_task(base=LineSendTask, failure_model="facilities.LotteryRound")
def lottery_results_notify_task(round_id: int, resident_id: int) -> bool:
    return lottery_results_notify(round_id=round_id, resident_id=resident_id)
