"""Every write of the facilities app that matters, one module per topic (STYLE R15).

The lottery's services live in ``facilities.services.lottery`` and ``facilities.services.lottery_draw``
(import them from there)."""

from facilities.services.approval import booking_approve, booking_reject
from facilities.services.booking import booking_create, booking_create_for_lottery_win
from facilities.services.booking_common import (
    TAKEN_MESSAGE,
    GroupDetails,
    lock_facility,
    online_provider_codes,
    payment_methods_for,
)
from facilities.services.booking_payments import (
    booking_payment_record_counter,
    booking_payment_start,
    booking_refund,
)
from facilities.services.bulk import BulkResult, FacilityBulkError, bookings_bulk_create
from facilities.services.cancel import booking_cancel, booking_delete, bookings_lapse_unpaid
from facilities.services.closures import ClosureResult, closure_confirm, closure_withdraw
from facilities.services.fees import FeeBreakdown, RefundBreakdown, fee_compute, refund_compute
from facilities.services.lottery import (
    MarkResult,
    lottery_apply,
    lottery_frame_remove,
    lottery_frames_mark,
    lottery_round_open,
    lottery_withdraw,
)
from facilities.services.lottery_draw import (
    lottery_draw,
    lottery_draw_verify,
    lottery_frames_release,
    lottery_rounds_advance,
)
from facilities.services.notices import booking_notify

__all__ = [
    "TAKEN_MESSAGE",
    "BulkResult",
    "ClosureResult",
    "FacilityBulkError",
    "FeeBreakdown",
    "GroupDetails",
    "MarkResult",
    "RefundBreakdown",
    "booking_approve",
    "booking_cancel",
    "booking_create",
    "booking_create_for_lottery_win",
    "booking_delete",
    "booking_notify",
    "booking_payment_record_counter",
    "booking_payment_start",
    "booking_refund",
    "booking_reject",
    "bookings_bulk_create",
    "bookings_lapse_unpaid",
    "closure_confirm",
    "closure_withdraw",
    "fee_compute",
    "lock_facility",
    "lottery_apply",
    "lottery_draw",
    "lottery_draw_verify",
    "lottery_frame_remove",
    "lottery_frames_mark",
    "lottery_frames_release",
    "lottery_round_open",
    "lottery_rounds_advance",
    "lottery_withdraw",
    "online_provider_codes",
    "payment_methods_for",
    "refund_compute",
]
