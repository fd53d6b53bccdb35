"""定期利用: staff enter a regular group's bookings in one go (毎週火曜 夜間 for three months).

All or nothing: every date is checked and written inside one transaction; if any date cannot be
booked (taken, a lottery frame, no rate), nothing is written and staff get one line per date.
Days the facility is closed (休館日, 祝日, 年末年始, 臨時休館) are skipped and listed, not errors:
a regular group does not meet when the hall is shut.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.calendar import closed_reason
from facilities.errors import FacilityError
from facilities.models import BookingOrigin, Discount, Extra, FacilityBooking, Room, TimeFrame
from facilities.models.facilities import WEEKDAY_LABELS
from facilities.services.booking import booking_insert
from facilities.services.booking_common import GroupDetails, lock_facility
from municipalities.audit import audit_log
from municipalities.models import StaffUser
from municipalities.permissions import require

MAX_BULK_DAYS = 366


class FacilityBulkError(FacilityError):
    """Some dates could not be booked; ``rows`` holds (date, message) for each, nothing was written."""

    def __init__(self, message: str, *, rows: list[tuple[dt.date, str]]) -> None:
        super().__init__(message, code="bulk")
        self.rows = rows


@dataclass
class BulkResult:
    dates: list[dt.date] = field(default_factory=list)
    skipped: list[tuple[dt.date, str]] = field(default_factory=list)
    bookings: list[FacilityBooking] = field(default_factory=list)
    series: str = ""
    dry_run: bool = False


class _DryRun(Exception):
    def __init__(self, result: BulkResult) -> None:
        self.result = result


def bulk_dates(*, weekday: int, starts_on: dt.date, ends_on: dt.date) -> list[dt.date]:
    first = starts_on + dt.timedelta(days=(weekday - starts_on.weekday()) % 7)
    days = []
    day = first
    while day <= ends_on:
        days.append(day)
        day += dt.timedelta(days=7)
    return days


def bookings_bulk_create(
    *,
    room: Room,
    frame: TimeFrame,
    weekday: int,
    starts_on: dt.date,
    ends_on: dt.date,
    group: GroupDetails,
    actor: StaffUser,
    payment_method: str = "counter",
    discount: Discount | None = None,
    discount_reason: str = "",
    extras: Sequence[Extra] = (),
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> BulkResult:
    """Book ``frame`` of ``room`` on every ``weekday`` (0=月) from ``starts_on`` to ``ends_on``.

    Staff only (permission "book"): the window and the monthly limit do not apply, conflicts
    do. ``dry_run`` checks everything and writes nothing (the preview). Raises FacilityBulkError
    with one row per date that failed (nothing written), or FacilityError. Audited once per
    series; no LINE notice (the group was at the counter).
    """
    if not 0 <= weekday <= 6:
        raise FacilityError(_("曜日を選んでください。"), code="weekday")
    if ends_on < starts_on:
        raise FacilityError(_("終了日は開始日より後にしてください。"), code="dates")
    if (ends_on - starts_on).days > MAX_BULK_DAYS:
        raise FacilityError(_("一度に登録できるのは1年分までです。"), code="dates")
    try:
        return _bulk(
            room=room,
            frame=frame,
            weekday=weekday,
            starts_on=starts_on,
            ends_on=ends_on,
            group=group,
            actor=actor,
            payment_method=payment_method,
            discount=discount,
            discount_reason=discount_reason,
            extras=extras,
            dry_run=dry_run,
            now=now or timezone.now(),
        )
    except _DryRun as done:
        return done.result


@transaction.atomic(durable=True)
def _bulk(
    *,
    room: Room,
    frame: TimeFrame,
    weekday: int,
    starts_on: dt.date,
    ends_on: dt.date,
    group: GroupDetails,
    actor: StaffUser,
    payment_method: str,
    discount: Discount | None,
    discount_reason: str,
    extras: Sequence[Extra],
    dry_run: bool,
    now: dt.datetime,
) -> BulkResult:
    facility = lock_facility(room.facility_id)
    room = Room.objects.select_related("facility").get(pk=room.pk)
    require(
        actor,
        "book",
        FacilityBooking(facility=facility, room=room),
        error=FacilityError,
        message=_("この課の施設を予約する権限がありません。"),
    )
    result = BulkResult(series=uuid.uuid4().hex, dry_run=dry_run)
    errors: list[tuple[dt.date, str]] = []
    for day in bulk_dates(weekday=weekday, starts_on=starts_on, ends_on=ends_on):
        reason = closed_reason(room=room, day=day)
        if reason:
            result.skipped.append((day, reason))
            continue
        try:
            with transaction.atomic():
                booking = booking_insert(
                    facility=facility,
                    room=room,
                    frame=frame,
                    use_date=day,
                    group=group,
                    now=now,
                    origin=BookingOrigin.BULK,
                    payment_method=payment_method,
                    discount=discount,
                    discount_reason=discount_reason,
                    extras=extras,
                    actor=actor,
                    series=result.series,
                )
        except FacilityError as exc:
            errors.append((day, exc.message))
            continue
        result.dates.append(day)
        result.bookings.append(booking)
    if errors:
        raise FacilityBulkError(
            _("%(n)s 日分の予約ができないため、何も登録しませんでした。") % {"n": len(errors)}, rows=errors
        )
    if not result.dates:
        raise FacilityError(_("登録できる日がありません（すべて休館日です）。"), code="empty")
    if dry_run:
        raise _DryRun(result)  # roll everything back; the preview keeps the result
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.bulk_booked",
        obj=result.bookings[0],
        data={
            "series": result.series,
            "room": room.name,
            "weekday": WEEKDAY_LABELS[weekday],
            "frame": str(frame),
            "dates": [d.isoformat() for d in result.dates],
            "skipped": [d.isoformat() for d, _r in result.skipped],
        },
    )
    return result
