"""The primitives every write that moves a place uses: take and release a place with SQL, lock rows
in a fixed order, invalidate the cached calendar and tell the resident, all on commit.

Booking (booking.py) and the waitlist (waitlist.py) both build on these, so neither imports the
other's use cases.
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities import jp
from municipalities.memo import TrustedMemo
from municipalities.models import HouseholdMember, Resident, StaffUser
from municipalities.tasks_queue import enqueue_on_commit

from ..errors import ReservationError
from ..models import Menu, Reservation, ReservationStatus, Slot
from ..rules import reservation_code_new


def availability_version_key(menu_id: int) -> str:
    return f"rsv:avail:v:{menu_id}"


# How long a process trusts the availability version it last read. In a rush every booking bumps
# the version; without this, every calendar view after a bump would render the month again. A
# bump made in this process is seen at once, one made by another process within this time.
VERSION_FRESH_SECONDS = 1.0
_versions: TrustedMemo[int, int] = TrustedMemo(limit=4096)  # menu id → version


def availability_version(menu_id: int) -> int:
    """The menu's availability version (part of every cached calendar key)."""
    if (trusted := _versions.trusted(menu_id)) is not None:
        return trusted
    return _versions.trust(menu_id, cache.get(availability_version_key(menu_id), 0), VERSION_FRESH_SECONDS)


def availability_bump(menu_id: int) -> None:
    """Invalidate the cached calendar of a menu (called on commit after any change of places)."""
    key = availability_version_key(menu_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, None)
    _versions.pop(menu_id, None)


def on_commit_bump(menu_id: int) -> None:
    transaction.on_commit(lambda: availability_bump(menu_id))


def menu_edited(sender: type[Menu], instance: Menu, **kwargs: object) -> None:
    """A menu was saved or deleted (its name, description, suspension, rules): the cached
    calendar pages show the menu, so they go with the availability version (connected in
    ``ReservationsConfig.ready``)."""
    on_commit_bump(instance.pk)


def notify_on_commit(reservation: Reservation, kind: str) -> None:
    """Tell the resident (LINE push) once the booking change is committed; phone bookings have nobody to push to."""
    if reservation.resident_id is None:
        return
    enqueue_on_commit("reservations.tasks.reservation_notify_task", reservation.pk, kind)


def lock_residents(resident_ids: list[int]) -> None:
    """Lock resident rows in pk order (PostgreSQL; a no-op on SQLite, which serialises writers).

    Per-resident limits are recounted while the lock is held, so two concurrent bookings by
    the same resident cannot both pass the check.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_residents() needs the caller's transaction")
    ids = sorted(set(resident_ids))
    if ids and connection.features.has_select_for_update:
        # The statement is as plain as it reads (it runs before every booking): no ORM query built.
        table, pk = Resident._meta.db_table, Resident._meta.pk.column
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks}) ORDER BY {pk} FOR UPDATE",  # noqa: S608
                ids,
            )


def lock_slots(slot_ids: list[int]) -> dict[int, Slot]:
    """Lock slot rows in pk order (used when a booking moves between two slots)."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_slots() needs the caller's transaction")
    return {
        s.pk: s for s in Slot.objects.select_for_update().filter(pk__in=sorted(set(slot_ids))).order_by("pk")
    }


def slot_full() -> ReservationError:
    return ReservationError(_("申し訳ありません。この枠は満席になりました。"), code="full")


def take_place(slot: Slot) -> None:
    # The conditional UPDATE is the capacity check (STYLE R4): 0 rows means full or closed.
    if not Slot.objects.filter(pk=slot.pk, is_open=True, reserved__lt=F("capacity")).update(
        reserved=F("reserved") + 1
    ):
        raise slot_full()


def release_place(slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id, reserved__gt=0).update(reserved=F("reserved") - 1)


def reservation_row(
    *,
    slot: Slot,
    resident: Resident | None,
    member: HouseholdMember | None = None,
    name: str = "",
    kana: str = "",
    phone: str = "",
    answers: dict[str, str] | None = None,
    booked_by: StaffUser | None = None,
    birth_date: dt.date | None = None,
) -> Reservation:
    """A new booking of a place in ``slot``, not saved, with a fresh code."""
    return Reservation(
        slot=slot,
        menu_id=slot.menu_id,
        slot_date=timezone.localtime(slot.starts_at).date(),
        resident=resident,
        member=member,
        name=name,
        kana=kana,
        phone=phone,
        code=reservation_code_new(),
        answers=answers or {},
        booked_by=booked_by,
        birth_date=birth_date,
    )


def reservation_insert(reservation: Reservation) -> Reservation:
    """Insert ``reservation`` (unsaved, from ``reservation_row``) for a place already taken
    (caller's transaction).

    The partial UNIQUEs (one active booking per person and slot) are the last word: a violation
    is ReservationError "duplicate", raised outside the savepoint so the caller's whole use case
    rolls back (and with it the place it took). A code collision draws another code.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("reservation_insert() needs the caller's transaction")
    for attempt in range(3):
        if attempt:
            reservation.code = reservation_code_new()  # a code collision (1 in 10^11): draw another
        try:
            with transaction.atomic():
                reservation.save(force_insert=True)
        except IntegrityError as exc:
            if "code" in str(exc):
                continue
            raise ReservationError(_("この枠はすでに予約済みです。"), code="duplicate") from None
        return reservation
    raise ReservationError(_("予約番号を発行できませんでした。もう一度お試しください。"), code="code")


def check_limits(
    menu: Menu,
    slot: Slot,
    *,
    now: dt.datetime,
    resident: Resident | None,
    phone: str,
    member: HouseholdMember | None = None,
    exclude_pk: int | None = None,
) -> None:
    """Recount the person's bookings (call while holding the resident lock).

    The person is the household member booked for, the resident themselves (no member), or
    the caller of a phone booking (by phone number): each has their own limits.
    """
    if member is not None:
        person = Q(member=member)
    elif resident is not None:
        person = Q(resident=resident, member__isnull=True)
    elif phone:
        person = Q(phone=phone, resident__isnull=True)
    else:
        return
    active = Reservation.objects.filter(person, status=ReservationStatus.BOOKED)
    if exclude_pk is not None:
        active = active.exclude(pk=exclude_pk)
    day = timezone.localtime(slot.starts_at).date()
    # One round trip for the three counts (the caller holds the resident lock).
    counts = active.aggregate(
        same_slot=Count("pk", filter=Q(slot=slot)),
        menu_future=Count("pk", filter=Q(menu=menu, slot__starts_at__gt=now)),
        same_day=Count("pk", filter=Q(menu=menu, slot_date=day)),
    )
    if counts["same_slot"]:
        raise ReservationError(_("この枠はすでに予約済みです。"), code="duplicate")
    if menu.max_active_per_resident and counts["menu_future"] >= menu.max_active_per_resident:
        raise ReservationError(
            _(
                "「%(menu)s」の予約は 1 人 %(n)s 件までです。今の予約を変更するか、キャンセルしてから予約してください。"
            )
            % {"menu": menu.name, "n": menu.max_active_per_resident},
            code="limit_menu",
        )
    if menu.max_per_resident_per_day and counts["same_day"] >= menu.max_per_resident_per_day:
        raise ReservationError(
            _("同じ日の「%(menu)s」の予約は 1 人 %(n)s 件までです。")
            % {"menu": menu.name, "n": menu.max_per_resident_per_day},
            code="limit_day",
        )


def caller_contact(name: str, kana: str, phone: str) -> tuple[str, str, str]:
    """A phone caller's name, kana and phone as staff typed them, normalised by the kernel.

    Raises ReservationError (``person``) when the name or the phone number is missing or the
    number cannot be read.
    """
    name = jp.normalise_text(name)
    if not name:
        raise ReservationError(_("氏名を入力してください。"), code="person")
    try:
        phone = jp.normalise_phone(phone) if phone.strip() else ""
    except ValueError as exc:
        raise ReservationError(str(exc), code="person") from None
    if not phone:
        raise ReservationError(_("電話番号を入力してください。"), code="person")
    return name, jp.to_katakana(kana), phone
