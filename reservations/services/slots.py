"""Creating slots: from a file (import), from a pattern, or one by one; and closing them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.models import Department, StaffUser
from municipalities.permissions import require

from ..errors import ReservationError
from ..models import Menu, Slot
from ..rules import closed_day_reason, is_business_day
from ..slot_import import CheckResult, SlotFileError, check_file
from .booking import _on_commit_bump
from .waitlist import waitlist_offer_places

_SLOT_DENIED = gettext_lazy("この課の枠を変更する権限がありません。")
BULK_BATCH = 5000
ASYNC_THRESHOLD_ROWS = 2000


@dataclass
class ImportOutcome:
    created: int = 0
    unchanged: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)
    total: int = 0
    preview: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"created": self.created, "unchanged": self.unchanged, "errors": self.errors}


def _preview(result: CheckResult, limit: int = 50, closed_limit: int = 200) -> list[dict[str, str]]:
    """The first ``limit`` rows to create, then every row on a public holiday or 12/29–1/3 (up to
    ``closed_limit``), each with its weekday and, for those days, ``closed`` (the holiday's name or
    年末年始), so staff see them and confirm before importing."""
    closed = [
        item for item in result.to_create if closed_day_reason(timezone.localtime(item.starts_at).date())
    ][:closed_limit]
    first = result.to_create[:limit]
    shown = {id(item) for item in first}
    out = []
    for item in first + [item for item in closed if id(item) not in shown]:
        start = timezone.localtime(item.starts_at)
        out.append(
            {
                "row": str(item.row),
                "menu": item.menu.name,
                "venue": item.venue,
                "date": f"{start:%Y/%m/%d}",
                "weekday": "月火水木金土日"[start.weekday()],
                "closed": closed_day_reason(start.date()),
                "start": f"{start:%H:%M}",
                "end": f"{timezone.localtime(item.ends_at):%H:%M}",
                "capacity": str(item.capacity),
            }
        )
    return out


def _require_import(actor: StaffUser | None, department: Department) -> None:
    """Refuse, with the app's error, an ``actor`` who may not import slots into ``department``.

    The permission policy decides (``reservations.import_slot`` where the department's slots
    live); import rights in another department do not count. ``None`` is the system path.
    """
    if actor is None:
        return
    require(
        actor,
        "import",
        Slot(menu=Menu(department=department)),
        error=ReservationError,
        message=_("この課の枠を取り込む権限がありません。"),
    )


def _bulk_create(result: CheckResult) -> int:
    """Insert the new slots: COPY on PostgreSQL (100,000 rows in about a second), bulk_create elsewhere."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        table = Slot._meta.db_table
        columns = "menu_id, venue, starts_at, ends_at, capacity, reserved, is_open, created_at, updated_at"
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for c in result.to_create:
                copy.write_row((c.menu.pk, c.venue, c.starts_at, c.ends_at, c.capacity, 0, True, now, now))
        return len(result.to_create)
    objs = [
        Slot(
            menu=c.menu,
            venue=c.venue,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            capacity=c.capacity,
            created_at=now,
            updated_at=now,
        )
        for c in result.to_create
    ]
    Slot.objects.bulk_create(objs, batch_size=BULK_BATCH)
    return len(objs)


def slots_import(
    *,
    department: Department,
    data: bytes,
    file_name: str = "",
    actor: StaffUser | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    record: Callable[[ImportOutcome], None] | None = None,
) -> ImportOutcome:
    """Check a slot file and, unless ``dry_run`` or any row is bad, create its new slots.

    All or nothing: one rejected row and nothing is written. Rows already present (same menu,
    venue, start, end and capacity) count as unchanged, so importing a file twice creates
    nothing new. The department is the caller's, never the file's. The insert is one
    transaction; the unique constraint ``reservations_slot_natural_key`` backs the check.
    ``record`` is called with the outcome inside that transaction (an import job writes its
    result there, so the result commits or rolls back with the slots).
    """
    _require_import(actor, department)
    try:
        result = check_file(department=department, data=data, file_name=file_name, progress=progress)
    except SlotFileError as exc:
        return ImportOutcome(errors=[{"row": 0, "message": str(exc)}])
    outcome = ImportOutcome(
        created=len(result.to_create),
        unchanged=result.unchanged,
        errors=[e.as_dict() for e in result.errors],
        total=result.total,
        preview=_preview(result),
    )
    if dry_run or not result.ok:
        if not result.ok:
            outcome.created = 0
        return outcome
    _slots_import_commit(
        department=department,
        result=result,
        actor=actor,
        file_name=file_name,
        record=(lambda: record(outcome)) if record is not None else None,
    )
    return outcome


@transaction.atomic(durable=True)
def _slots_import_commit(
    *,
    department: Department,
    result: CheckResult,
    actor: StaffUser | None,
    file_name: str,
    record: Callable[[], None] | None = None,
) -> None:
    created = _bulk_create(result)
    if record is not None:
        record()
    audit_log(
        actor=actor,
        action="reservations.slot.imported",
        obj=department,
        data={"file": file_name, "created": created, "unchanged": result.unchanged},
    )
    for menu_id in {c.menu.pk for c in result.to_create}:
        _on_commit_bump(menu_id)


@transaction.atomic(durable=True)
def slots_generate(
    *,
    menu: Menu,
    venue: str,
    date_from: dt.date,
    date_to: dt.date,
    weekdays: list[int],
    times: list[tuple[dt.time, dt.time]],
    capacity: int,
    skip_holidays: bool = True,
    actor: StaffUser | None = None,
) -> tuple[int, int]:
    """Create slots for every chosen weekday × time in a date range; existing ones are left alone.

    Returns (created, unchanged). Weekdays are 0 = Monday … 6 = Sunday. With ``skip_holidays``
    public holidays and 12/29–1/3 are skipped.
    """
    if actor is not None:
        require(actor, "add", Slot(menu=menu), error=ReservationError, message=_SLOT_DENIED)
    if date_to < date_from:
        raise ReservationError(_("終了日は開始日以降にしてください。"), code="range")
    if (date_to - date_from).days > 366:
        raise ReservationError(_("一度に作れるのは 1 年分までです。"), code="range")
    if not times or not weekdays:
        raise ReservationError(_("曜日と時間帯を選んでください。"), code="pattern")
    if capacity < 1:
        raise ReservationError(_("定員は 1 以上にしてください。"), code="capacity")
    for start, end in times:
        if end <= start:
            raise ReservationError(_("時間帯の終了は開始より後にしてください。"), code="pattern")
    tz = ZoneInfo(settings.TIME_ZONE)
    wanted = []
    day = date_from
    while day <= date_to:
        if day.weekday() in weekdays and not (
            skip_holidays and day.weekday() < 5 and not is_business_day(day)
        ):
            for start, end in times:
                wanted.append(
                    (dt.datetime.combine(day, start, tzinfo=tz), dt.datetime.combine(day, end, tzinfo=tz))
                )
        day += dt.timedelta(days=1)
    existing = set(
        Slot.objects.filter(
            menu=menu,
            venue=venue,
            starts_at__date__gte=date_from - dt.timedelta(days=1),
            starts_at__date__lte=date_to + dt.timedelta(days=1),
        ).values_list("starts_at", "ends_at")
    )
    new = [
        Slot(menu=menu, venue=venue, starts_at=s, ends_at=e, capacity=capacity)
        for s, e in wanted
        if (s, e) not in existing
    ]
    Slot.objects.bulk_create(new, batch_size=BULK_BATCH)
    audit_log(
        actor=actor,
        action="reservations.slot.generated",
        obj=menu,
        data={"venue": venue, "from": date_from, "to": date_to, "created": len(new), "capacity": capacity},
    )
    _on_commit_bump(menu.pk)
    return len(new), len(wanted) - len(new)


@transaction.atomic(durable=True)
def slot_save(*, slot: Slot, actor: StaffUser | None = None) -> Slot:
    """Create or change one slot. Capacity may not drop below the places already booked; places
    added to a slot with a waitlist are offered to those waiting (see ``waitlist_offer_freed``)."""
    if actor is not None:
        require(actor, "change" if slot.pk else "add", slot, error=ReservationError, message=_SLOT_DENIED)
    if slot.pk:
        current = Slot.objects.select_for_update().get(pk=slot.pk)
        if slot.capacity < current.reserved:
            raise ReservationError(
                _("定員を予約数（%(n)s 人）より少なくはできません。") % {"n": current.reserved},
                code="capacity",
            )
        slot.reserved = current.reserved
    full_clean_or(slot, error=ReservationError)
    created = slot.pk is None
    slot.save()
    audit_log(
        actor=actor,
        action="reservations.slot.created" if created else "reservations.slot.changed",
        obj=slot,
        data={"capacity": slot.capacity, "is_open": slot.is_open},
    )
    if not created:
        # More capacity (or reopened): the new places go to the waitlist first, in order.
        waitlist_offer_places(slot=slot)
    _on_commit_bump(slot.menu_id)
    return slot


@transaction.atomic(durable=True)
def slot_delete(*, slot: Slot, actor: StaffUser | None = None) -> None:
    """Delete a slot that never had a booking (otherwise close it instead)."""
    if actor is not None:
        require(actor, "delete", slot, error=ReservationError, message=_SLOT_DENIED)
    if slot.reservations.exists():
        raise ReservationError(
            _("予約（キャンセル済みを含む）がある枠は削除できません。「受付中」をオフにしてください。"),
            code="has_reservations",
        )
    audit_log(actor=actor, action="reservations.slot.deleted", obj=slot, data={"slot": str(slot)})
    menu_id = slot.menu_id
    slot.delete()
    _on_commit_bump(menu_id)


@transaction.atomic(durable=True)
def slot_set_open(*, slot: Slot, is_open: bool, actor: StaffUser | None = None) -> Slot:
    """Open or close one slot for new bookings (its bookings stay). Audited.

    Reopening offers the slot's free places to its waitlist first (and to those waiting for any
    slot of its day), in order, before anyone can book them from the calendar."""
    if actor is not None:
        require(actor, "change", slot, error=ReservationError, message=_SLOT_DENIED)
    if (
        Slot.objects.filter(pk=slot.pk)
        .exclude(is_open=is_open)
        .update(is_open=is_open, updated_at=timezone.now())
    ):
        audit_log(
            actor=actor,
            action="reservations.slot.opened" if is_open else "reservations.slot.closed",
            obj=slot,
            data={"slot": str(slot)},
        )
        if is_open:
            waitlist_offer_places(slot=Slot.objects.select_related("menu").get(pk=slot.pk))
        _on_commit_bump(slot.menu_id)
    slot.is_open = is_open
    return slot
