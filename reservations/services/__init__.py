"""Services of the reservations app (STYLE R1–R4), split by topic; public names re-exported here."""

from ..errors import ReservationError
from .booking import (
    availability_bump,
    lock_residents,
    lock_slots,
    reservation_book,
    reservation_cancel,
    reservation_change,
    reservation_delete,
    reservation_mark_attendance,
    reservation_update_contact,
    slot_counters_reconcile,
)
from .import_jobs import (
    slot_import_job_create,
    slot_import_job_retry,
    slot_import_job_run,
    slot_import_jobs_recover,
)
from .reminders import (
    reminder_claims_reoffer_stale,
    reminder_send,
    reminders_schedule_due,
    reservation_notify,
)
from .slots import (
    ASYNC_THRESHOLD_ROWS,
    ImportOutcome,
    slot_delete,
    slot_save,
    slot_set_open,
    slots_generate,
    slots_import,
)
from .waitlist import (
    waitlist_accept,
    waitlist_auto_book,
    waitlist_expire_holds,
    waitlist_hold_release,
    waitlist_join,
    waitlist_leave,
    waitlist_offer_freed,
    waitlist_offer_notify,
)

__all__ = [
    "ASYNC_THRESHOLD_ROWS",
    "ImportOutcome",
    "ReservationError",
    "availability_bump",
    "lock_residents",
    "lock_slots",
    "reminder_claims_reoffer_stale",
    "reminder_send",
    "reminders_schedule_due",
    "reservation_book",
    "reservation_cancel",
    "reservation_change",
    "reservation_delete",
    "reservation_update_contact",
    "reservation_mark_attendance",
    "reservation_notify",
    "slot_counters_reconcile",
    "slot_delete",
    "slot_import_job_create",
    "slot_import_job_retry",
    "slot_import_job_run",
    "slot_import_jobs_recover",
    "slot_save",
    "slot_set_open",
    "slots_generate",
    "slots_import",
    "waitlist_accept",
    "waitlist_auto_book",
    "waitlist_expire_holds",
    "waitlist_hold_release",
    "waitlist_join",
    "waitlist_leave",
    "waitlist_offer_freed",
    "waitlist_offer_notify",
]
