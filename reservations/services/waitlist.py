"""キャンセル待ち: join a full slot's waitlist, offer a freed place to the first in line, hold it,
book it on acceptance, and release each hold exactly once when it runs out.

How a place moves. A cancellation (or a change away, or more capacity) frees a place inside the
transaction that frees it; ``waitlist_offer_freed`` then takes the same place back with the
conditional UPDATE (``reserved < capacity``) for the first entry waiting, so between the two
nobody else can book it: the slot row is locked by the first UPDATE until commit. While an offer
is held the place is counted in ``Slot.reserved`` (and by the nightly recount). Accepting flips
the entry 案内中 → 予約済 with a conditional UPDATE that also requires ``hold_until > now``;
the beat flips 案内中 → 期限切れ with the opposite condition, so exactly one of the two wins,
and only the winner moves the place on (to the next in line, or back to the calendar).

A whole-day entry (``whole_day``) waits for any slot of the menu on its day: a place freed in
any of that day's slots goes to the first entry waiting for that slot or for the day, by the
time they joined. Callers without LINE (staff put them on the list on the phone) are offered
the same way; staff phone them and book or decline for them.

Lock order is the booking's (resident → reservation → slots): a freed place is offered inside
the cancel's transaction without touching the waiting resident's row; the acceptance (and the
automatic booking, which runs on commit as its own task) locks the resident first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.audit import audit_log
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.models import Area, HouseholdMember, Resident, StaffUser
from municipalities.permissions import require
from municipalities.tasks_queue import enqueue_on_commit

from ..eligibility import booking_problem
from ..errors import ReservationError
from ..models import (
    WAITLIST_OPEN,
    Menu,
    Reservation,
    ReservationStatus,
    Slot,
    WaitlistEntry,
    WaitlistStatus,
)
from ..notifications import waitlist_expired_messages, waitlist_offer_messages
from ..questions import validate_answers
from ..rules import window_state
from .places import (
    caller_contact,
    check_limits,
    lock_residents,
    notify_on_commit,
    on_commit_bump,
    release_place,
    reservation_insert,
    reservation_row,
    take_place,
)

OFFER_TASK = "reservations.tasks.waitlist_offer_notify_task"
AUTO_BOOK_TASK = "reservations.tasks.waitlist_auto_book_task"
EXPIRED_TASK = "reservations.tasks.waitlist_expired_notify_task"
_DENIED = "この課の枠を代理で扱う権限がありません。"


def _person_q(resident: Resident | None, member: HouseholdMember | None, phone: str) -> Q:
    """The person an entry or a booking is for: a member, the resident themselves, or a caller."""
    if member is not None:
        return Q(member=member)
    if resident is not None:
        return Q(resident=resident, member__isnull=True)
    return Q(resident__isnull=True, phone=phone)


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(0, 0)))
    return start, start + dt.timedelta(days=1)


def _check_day_open(menu: Menu, day: dt.date, now: dt.datetime) -> None:
    """A whole day takes a waitlist while one of its open slots is ahead and inside the window,
    and none of them has a place (then the resident books it instead)."""
    start, end = _day_bounds(day)
    slots = list(
        Slot.objects.filter(
            menu=menu, is_open=True, starts_at__gte=start, starts_at__lt=end, starts_at__gt=now
        )
    )
    in_window = [s for s in slots if window_state(menu, s.starts_at, now) == "open"]
    if not in_window:
        raise ReservationError(_("この日はキャンセル待ちを受け付けていません。"), code="closed")
    if any(s.reserved < s.capacity for s in in_window):
        raise ReservationError(
            _("この日にはまだ空いている枠があります。そのまま予約してください。"), code="not_full"
        )


@transaction.atomic(durable=True)
def waitlist_join(
    *,
    slot: Slot | None = None,
    menu: Menu | None = None,
    day: dt.date | None = None,
    resident: Resident | None = None,
    member: HouseholdMember | None = None,
    answers: dict[str, Any] | None = None,
    actor: StaffUser | None = None,
    name: str = "",
    kana: str = "",
    phone: str = "",
    birth_date: dt.date | None = None,
    area: Area | None = None,
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """Put a person on the waitlist of a full ``slot``, or (``menu`` and ``day``, no slot) of any
    slot of a full day.

    The person is the resident (or a household ``member``), or, staff only (``actor``, on the
    phone), a caller by name/kana/phone. Refused (ReservationError) when the menu takes no
    waitlist, the slot or day still has room, is closed or outside the booking window, the person
    is not eligible (the booking's rule: ``booking_problem``), already booked it, or already waits
    for it (partial UNIQUEs ``..._one_open_*``). Joining a whole day replaces the person's
    entries for single slots of that day and keeps the earliest one's place in line. The
    answers to the menu's questions are checked now, so an automatic booking later needs nothing
    more. Audited.
    """
    now = now or timezone.now()
    whole_day = slot is None
    if whole_day:
        if menu is None or day is None:
            raise ReservationError(_("キャンセル待ちする枠か日を選んでください。"), code="slot")
        menu = Menu.objects.select_related("department").get(pk=menu.pk)
    else:
        slot = Slot.objects.select_related("menu__department").get(pk=slot.pk)
        menu, day = slot.menu, timezone.localtime(slot.starts_at).date()
    if actor is not None:
        require(actor, "book", slot or Slot(menu=menu), error=ReservationError, message=_(_DENIED))
    if resident is None:
        if actor is None:
            raise ReservationError(_("予約する人を指定してください。"), code="person")
        name, kana, phone = caller_contact(name, kana, phone)
        member = None
    elif resident.municipality_id != menu.department.municipality_id:
        raise ReservationError(_("この予約メニューは見つかりません。"), code="not_found")
    if not menu.waitlist_enabled or menu.is_suspended:
        raise ReservationError(_("このメニューはキャンセル待ちを受け付けていません。"), code="no_waitlist")
    if whole_day:
        _check_day_open(menu, day, now)
    elif not slot.is_open or slot.starts_at <= now or window_state(menu, slot.starts_at, now) != "open":
        raise ReservationError(_("この枠はキャンセル待ちを受け付けていません。"), code="closed")
    cleaned = validate_answers(menu.question_list, answers)
    if resident is not None:
        lock_residents([resident.pk])
        if member is not None:
            member = HouseholdMember.objects.filter(pk=member.pk, resident=resident, is_active=True).first()
            if member is None:
                raise ReservationError(_("予約する家族が見つかりません。"), code="member")
    problem = booking_problem(
        menu=menu,
        on=day,
        resident=resident,
        member=member,
        staff=actor is not None,
        birth_date=birth_date,
        area_id=area.pk if area is not None else None,
        name=name,
    )
    if problem:
        raise ReservationError(problem, code="eligibility")
    person = _person_q(resident, member, phone)
    if not whole_day:
        slot.refresh_from_db(fields=["reserved", "capacity"])
        if slot.reserved < slot.capacity:
            raise ReservationError(_("この枠には空きがあります。そのまま予約してください。"), code="not_full")
        if Reservation.objects.filter(person, slot=slot, status=ReservationStatus.BOOKED).exists():
            raise ReservationError(_("この枠はすでに予約済みです。"), code="duplicate")
    elif menu.max_per_resident_per_day and (
        Reservation.objects.filter(person, menu=menu, slot_date=day, status=ReservationStatus.BOOKED).count()
        >= menu.max_per_resident_per_day
    ):
        raise ReservationError(_("この日はすでに予約があります。"), code="duplicate")
    same_day = WaitlistEntry.objects.filter(person, menu=menu, day=day, status__in=WAITLIST_OPEN)
    if not whole_day and same_day.filter(whole_day=True).exists():
        raise ReservationError(
            _("この日のどの枠でもよいキャンセル待ちに、すでに登録しています。"), code="duplicate"
        )
    joined_at = now
    if whole_day:
        singles = list(
            same_day.filter(whole_day=False).select_for_update(of=("self",)).order_by("created_at")
        )
        if any(e.status == WaitlistStatus.OFFERED for e in singles):
            raise ReservationError(
                _("空きをご案内中の枠があります。先にそちらを予約するか辞退してください。"), code="offered"
            )
        if singles:
            # Widening to the whole day keeps the place in line of the earliest single entry.
            joined_at = min(joined_at, singles[0].created_at)
            WaitlistEntry.objects.filter(pk__in=[e.pk for e in singles]).update(
                status=WaitlistStatus.LEFT, closed_at=now, updated_at=now
            )
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                slot=slot,
                menu=menu,
                day=day,
                whole_day=whole_day,
                resident=resident,
                member=member,
                name=name if resident is None else "",
                kana=kana if resident is None else "",
                phone=phone if resident is None else "",
                birth_date=birth_date if member is None else None,
                added_by=actor,
                answers=cleaned,
                created_at=joined_at,
            )
    except IntegrityError:
        raise ReservationError(
            _("この日のキャンセル待ちにすでに登録しています。")
            if whole_day
            else _("この枠のキャンセル待ちにすでに登録しています。"),
            code="duplicate",
        ) from None
    audit_log(
        actor=actor,
        action="reservations.waitlist.joined",
        obj=entry,
        data={
            "slot": str(slot) if slot is not None else "",
            "day": day.isoformat(),
            "whole_day": whole_day,
            **({"member": member.name} if member else {}),
            **({"caller": name} if resident is None else {}),
        },
        actor_resident=resident if actor is None else None,
    )
    return entry


def waitlist_offer_freed(*, slot: Slot, now: dt.datetime | None = None) -> WaitlistEntry | None:
    """Offer a place just freed in ``slot`` to the first one waiting for it (caller's transaction).

    The first one is the earliest entry still waiting for this slot or for any slot of its day
    (whole-day entries). Call right after the place was released, in the same transaction.
    Takes the place back for the entry (conditional UPDATE), marks it 案内中 with ``hold_until``
    (a whole-day entry now names the slot) and enqueues the LINE offer on commit (or, with the
    menu's 自動予約, the automatic booking; a caller without LINE is phoned by staff). Returns
    the entry, or None when nobody waits or the slot no longer takes bookings (the place stays
    free). ``skip_locked``: an entry another transaction is offering right now is passed over.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("waitlist_offer_freed() needs the caller's transaction")
    now = now or timezone.now()
    menu = slot.menu
    if (
        not menu.waitlist_enabled
        or menu.is_suspended
        or not slot.is_open
        or window_state(menu, slot.starts_at, now) != "open"
    ):
        return None
    day = timezone.localtime(slot.starts_at).date()
    entry = (
        WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=WaitlistStatus.WAITING)
        .filter(Q(slot_id=slot.pk, whole_day=False) | Q(menu_id=slot.menu_id, day=day, whole_day=True))
        .order_by("created_at", "pk")
        .first()
    )
    if entry is None:
        return None
    try:
        take_place(slot)
    except ReservationError:
        return None  # taken meanwhile by a booking that was already waiting on the slot row
    hold_until = min(now + dt.timedelta(minutes=menu.waitlist_hold_minutes), slot.starts_at)
    WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.WAITING).update(
        status=WaitlistStatus.OFFERED, slot=slot, offered_at=now, hold_until=hold_until, updated_at=now
    )
    entry.refresh_from_db()
    audit_log(
        actor=None,
        action="reservations.waitlist.offered",
        obj=entry,
        data={"slot": str(slot), "hold_until": hold_until.isoformat(), "auto_book": menu.waitlist_auto_book},
    )
    on_commit_bump(menu.pk)
    auto = menu.waitlist_auto_book and entry.resident_id is not None
    enqueue_on_commit(AUTO_BOOK_TASK if auto else OFFER_TASK, entry.pk)
    return entry


def waitlist_offer_places(*, slot: Slot, now: dt.datetime | None = None) -> int:
    """Offer every free place of ``slot`` to those waiting, in order (more capacity, a slot
    reopened); caller's transaction. Returns how many places were offered."""
    slot.refresh_from_db(fields=["reserved", "capacity", "is_open"])
    offered = 0
    for _place in range(max(slot.capacity - slot.reserved, 0)):
        if waitlist_offer_freed(slot=slot, now=now) is None:
            break
        offered += 1
    return offered


def _pass_on(slot: Slot, now: dt.datetime) -> None:
    """The held place of an entry that ended without a booking: the next in line, or the calendar."""
    release_place(slot.pk)
    waitlist_offer_freed(slot=slot, now=now)
    on_commit_bump(slot.menu_id)


def _open_entry(entry: WaitlistEntry, resident: Resident | None, actor: StaffUser | None) -> WaitlistEntry:
    """The entry re-read and locked: the resident's own, or (staff) any in a department they may book in."""
    rows = WaitlistEntry.objects.select_for_update(of=("self",)).select_related(
        "menu__department", "slot__menu__department", "member", "resident"
    )
    current = rows.filter(pk=entry.pk, **({} if actor is not None else {"resident": resident})).first()
    if current is None:
        raise ReservationError(_("このキャンセル待ちは見つかりません。"), code="not_found")
    if actor is not None:
        require(
            actor, "book", current.slot or Slot(menu=current.menu), error=ReservationError, message=_(_DENIED)
        )
    return current


@transaction.atomic(durable=True)
def waitlist_accept(
    *,
    entry: WaitlistEntry,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> Reservation:
    """Turn the place held for ``entry`` into a booking for its person.

    Only the entry's resident (``resident``), or staff who phoned the person (``actor``), and
    only while the hold lasts: the flip 案内中 → 予約済 is a conditional UPDATE on
    ``hold_until > now``, so it races the expiry beat and exactly one wins. Eligibility and the
    per-person limits are checked again under the resident lock; a refusal leaves the hold as it
    was (the resident may cancel another booking and try again). The place was already counted
    when it was offered, so no capacity is taken here. Raises ReservationError. Audited; the
    confirmation push (to a resident) is enqueued on commit.
    """
    now = now or timezone.now()
    if actor is None and resident is None:
        raise ReservationError(_("このキャンセル待ちは見つかりません。"), code="not_found")
    if resident is not None:
        lock_residents([resident.pk])
    current = _open_entry(entry, resident, actor)
    resident = current.resident
    if resident is not None and actor is not None:
        lock_residents([resident.pk])
    if current.status != WaitlistStatus.OFFERED or current.hold_until <= now:
        raise ReservationError(_("申し訳ありません。ご案内した席の確保期限が過ぎました。"), code="expired")
    slot, menu = current.slot, current.menu
    member = current.member if current.member_id and current.member.is_active else None
    if current.member_id and member is None:
        raise ReservationError(_("予約する家族が見つかりません。"), code="member")
    if resident is None:
        problem = ""  # a caller's birth date and 地区 were checked for this day when staff listed them
    else:
        problem = booking_problem(
            menu=menu,
            on=timezone.localtime(slot.starts_at).date(),
            resident=resident,
            member=member,
            staff=current.added_by_id is not None,
            birth_date=current.birth_date,
        )
    if problem:
        raise ReservationError(problem, code="eligibility")
    check_limits(menu, slot, now=now, resident=resident, phone=current.phone, member=member)
    flipped = WaitlistEntry.objects.filter(
        pk=current.pk, status=WaitlistStatus.OFFERED, hold_until__gt=now
    ).update(status=WaitlistStatus.BOOKED, closed_at=now, updated_at=now)
    if not flipped:
        raise ReservationError(_("申し訳ありません。ご案内した席の確保期限が過ぎました。"), code="expired")
    reservation = reservation_insert(
        reservation_row(
            slot=slot,
            resident=resident,
            member=member,
            name=current.name,
            kana=current.kana,
            phone=current.phone,
            answers=current.answers,
            booked_by=actor,
            birth_date=current.birth_date if member is None else None,
        )
    )
    WaitlistEntry.objects.filter(pk=current.pk).update(reservation=reservation)
    audit_log(
        actor=actor,
        action="reservations.reservation.booked",
        obj=reservation,
        data={"code": reservation.code, "slot": str(slot), "waitlist": current.pk},
        actor_resident=resident if actor is None else None,
    )
    notify_on_commit(reservation, "booked")
    on_commit_bump(menu.pk)
    return reservation


@transaction.atomic(durable=True)
def waitlist_leave(
    *,
    entry: WaitlistEntry,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """The person withdraws (順番待ち, or an offer they decline): the resident in LINE, or staff
    for someone who phoned (``actor``). A held place goes to the next in line. Audited."""
    now = now or timezone.now()
    if actor is None and resident is None:
        raise ReservationError(_("このキャンセル待ちは見つかりません。"), code="not_found")
    current = _open_entry(entry, resident, actor)
    if current.status not in WAITLIST_OPEN:
        raise ReservationError(_("このキャンセル待ちは終了しています。"), code="not_active")
    was = current.status
    flipped = WaitlistEntry.objects.filter(pk=current.pk, status=was).update(
        status=WaitlistStatus.LEFT, closed_at=now, updated_at=now
    )
    if not flipped:
        raise ReservationError(_("このキャンセル待ちは終了しています。"), code="not_active")
    if was == WaitlistStatus.OFFERED:
        _pass_on(current.slot, now)
    current.refresh_from_db()
    audit_log(
        actor=actor,
        action="reservations.waitlist.left",
        obj=current,
        data={"was": was},
        actor_resident=current.resident if actor is None else None,
    )
    return current


@transaction.atomic(durable=True)
def waitlist_hold_release(*, entry_id: int, now: dt.datetime | None = None, reason: str = "expired") -> bool:
    """End one offer whose hold ran out (or whose automatic booking was refused), exactly once.

    The conditional UPDATE 案内中 → 期限切れ (on ``hold_until <= now`` for an expiry) is the
    "once": a second run, or an acceptance that won the race, updates nothing and this returns
    False. The winner passes the place on to the next in line, or frees it, and enqueues on
    commit the LINE message that tells the resident the offer has ended. Audited.
    """
    now = now or timezone.now()
    rows = WaitlistEntry.objects.filter(pk=entry_id, status=WaitlistStatus.OFFERED)
    if reason == "expired":
        rows = rows.filter(hold_until__lte=now)
    if not rows.update(status=WaitlistStatus.EXPIRED, closed_at=now, updated_at=now):
        return False
    entry = WaitlistEntry.objects.select_related("slot__menu").get(pk=entry_id)
    _pass_on(entry.slot, now)
    audit_log(actor=None, action="reservations.waitlist.expired", obj=entry, data={"reason": reason})
    if entry.resident_id is not None:
        enqueue_on_commit(EXPIRED_TASK, entry.pk)
    return True


def waitlist_expire_holds(*, now: dt.datetime | None = None) -> int:
    """Beat, every minute: end each offer whose hold ran out, each in its own transaction."""
    now = now or timezone.now()
    ids = list(
        WaitlistEntry.objects.filter(status=WaitlistStatus.OFFERED, hold_until__lte=now)
        .order_by("hold_until", "pk")
        .values_list("pk", flat=True)[:1000]
    )
    return sum(waitlist_hold_release(entry_id=pk, now=now) for pk in ids)


def waitlist_auto_book(*, entry_id: int, now: dt.datetime | None = None) -> str:
    """The menu books the first in line itself: accept the held place for them, or pass it on.

    Runs as a task after the offer committed; idempotent (an entry no longer 案内中 is left alone).
    """
    entry = WaitlistEntry.objects.select_related("resident").filter(pk=entry_id).first()
    if entry is None or entry.status != WaitlistStatus.OFFERED or entry.resident_id is None:
        return "skipped"
    try:
        waitlist_accept(entry=entry, resident=entry.resident, now=now)
    except ReservationError:
        waitlist_hold_release(entry_id=entry_id, now=now, reason="refused")
        return "passed_on"
    return "booked"


def _entry_for_message(entry_id: int) -> WaitlistEntry | None:
    return (
        WaitlistEntry.objects.select_related("menu__department__municipality", "slot", "resident", "member")
        .filter(pk=entry_id, resident__isnull=False)
        .first()
    )


def waitlist_offer_notify(*, entry_id: int) -> bool:
    """Push the offer with its button to the resident (after commit; idempotent by retry key).
    A caller without LINE has nobody to push to: staff phone them (the roster shows 案内中)."""
    entry = _entry_for_message(entry_id)
    if entry is None or entry.status != WaitlistStatus.OFFERED or not entry.resident.is_following:
        return False
    menu = entry.menu
    get_line_client(menu.department.municipality).push(
        entry.resident.line_user_id,
        waitlist_offer_messages(entry),
        retry_key=retry_key_for("reservations", "waitlist_offer", entry.pk, entry.offered_at.isoformat()),
        department=menu.department,
    )
    return True


def waitlist_expired_notify(*, entry_id: int) -> bool:
    """Tell the resident that the place held for them was passed on (after commit; a second run
    sends nothing new: the retry key is the entry's and its closing time's)."""
    entry = _entry_for_message(entry_id)
    if entry is None or entry.status != WaitlistStatus.EXPIRED or not entry.resident.is_following:
        return False
    menu = entry.menu
    get_line_client(menu.department.municipality).push(
        entry.resident.line_user_id,
        waitlist_expired_messages(entry),
        retry_key=retry_key_for("reservations", "waitlist_expired", entry.pk, entry.closed_at.isoformat()),
        department=menu.department,
    )
    return True
