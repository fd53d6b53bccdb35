"""Booking calendars (カレンダー予約): menus, slots, reservations, the waitlist, reminders and slot imports.

One module per topic; every model is re-exported here (``from reservations.models import Slot``)."""

from reservations.models.bookings import (
    ACTIVE_STATUSES,
    WAITLIST_OPEN,
    Reservation,
    ReservationStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from reservations.models.imports import ImportStatus, SlotImportJob
from reservations.models.menus import (
    IMPORT_EXPORT_PERMISSIONS,
    Menu,
    ReminderOffset,
    parse_questions,
    parse_reminder_offsets,
)
from reservations.models.reminders import ReminderDelivery, ReminderStatus
from reservations.models.slots import Slot

__all__ = [
    "ACTIVE_STATUSES",
    "IMPORT_EXPORT_PERMISSIONS",
    "ImportStatus",
    "Menu",
    "ReminderDelivery",
    "ReminderOffset",
    "ReminderStatus",
    "Reservation",
    "ReservationStatus",
    "Slot",
    "SlotImportJob",
    "WAITLIST_OPEN",
    "WaitlistEntry",
    "WaitlistStatus",
    "parse_questions",
    "parse_reminder_offsets",
]
