"""施設予約: facilities, rooms and time frames, fees, closures, bookings and the monthly lottery.

One module per topic; every model is re-exported here (``from facilities.models import Room``)."""

from facilities.models.bookings import (
    ACTIVE_BOOKING_STATUSES,
    BookingOrigin,
    BookingPaymentState,
    BookingStatus,
    FacilityBooking,
    booking_code_new,
    group_key_for,
)
from facilities.models.facilities import (
    WEEKDAY_LABELS,
    Closure,
    ClosureStatus,
    Facility,
    FrameKind,
    Room,
    TimeFrame,
)
from facilities.models.fees import Discount, Extra, Rate
from facilities.models.lottery import (
    LotteryApplication,
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRound,
    LotteryRoundStatus,
)

__all__ = [
    "ACTIVE_BOOKING_STATUSES",
    "BookingOrigin",
    "BookingPaymentState",
    "BookingStatus",
    "Closure",
    "ClosureStatus",
    "Discount",
    "Extra",
    "Facility",
    "FacilityBooking",
    "FrameKind",
    "LotteryApplication",
    "LotteryApplicationStatus",
    "LotteryFrame",
    "LotteryFrameStatus",
    "LotteryRound",
    "LotteryRoundStatus",
    "Rate",
    "Room",
    "TimeFrame",
    "WEEKDAY_LABELS",
    "booking_code_new",
    "group_key_for",
]
