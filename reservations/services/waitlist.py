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

Lock order is the booking's (resident → reservation → slots): a freed place is offered inside
the cancel's transaction without touching the waiting resident's row; the acceptance (and the
automatic booking, which runs on commit as its own task) locks the resident first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.audit import audit_log
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.models import HouseholdMember, Resident, StaffUser
from municipalities.permissions import require
from municipalities.tasks_queue import enqueue_on_commit

from ..eligibility import eligibility_problem
from ..errors import ReservationError
from ..models import (
    WAITLIST_OPEN,
    Reservation,
    ReservationStatus,
    Slot,
    WaitlistEntry,
    WaitlistStatus,
)
from ..notifications import waitlist_offer_messages
from ..questions import validate_answers
from ..rules import window_state
from .places import (
    check_limits,
    lock_residents,
    notify_on_commit,
    on_commit_bump,
    release_place,
    reservation_insert,
    take_place,
)

OFFER_TASK = "reservations.tasks.waitlist_offer_notify_task"
AUTO_BOOK_TASK = "reservations.tasks.waitlist_auto_book_task"


def _person_q(member: HouseholdMember | None) -> dict[str, Any]:
    return {"member": member} if member is not None else {"member__isnull": True}


@transaction.atomic(durable=True)
def waitlist_join(
    *,
    slot: Slot,
    resident: Resident,
    member: HouseholdMember | None = None,
    answers: dict[str, Any] | None = None,
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """Put the resident (or a household ``member``) on the waitlist of a full slot.

    Refused (ReservationError) when the menu takes no waitlist, the slot still has room, is
    closed or outside the booking window, the person is not eligible, already booked this slot,
    or already waits for it (partial UNIQUE ``..._one_open_per_*``). The answers to the menu's
    questions are checked now, so an automatic booking later needs nothing more. Staff
    (``actor``) may add a resident who phoned, in the slot's department. Audited.
    """
    now = now or timezone.now()
    slot = Slot.objects.select_related("menu__department").get(pk=slot.pk)
    menu = slot.menu
    if actor is not None:
        require(
            actor, "book", slot, error=ReservationError, message=_("この課の枠を代理で扱う権限がありません。")
        )
    if resident.municipality_id != menu.department.municipality_id:
        raise ReservationError(_("この予約メニューは見つかりません。"), code="not_found")
    if not menu.waitlist_enabled or menu.is_suspended:
        raise ReservationError(_("このメニューはキャンセル待ちを受け付けていません。"), code="no_waitlist")
    if not slot.is_open or slot.starts_at <= now or window_state(menu, slot.starts_at, now) != "open":
        raise ReservationError(_("この枠はキャンセル待ちを受け付けていません。"), code="closed")
    cleaned = validate_answers(menu.question_list, answers)
    lock_residents([resident.pk])
    if member is not None:
        member = HouseholdMember.objects.filter(pk=member.pk, resident=resident, is_active=True).first()
        if member is None:
            raise ReservationError(_("予約する家族が見つかりません。"), code="member")
    problem = eligibility_problem(
        menu=menu, on=timezone.localtime(slot.starts_at).date(), resident=resident, member=member
    )
    if problem:
        raise ReservationError(problem, code="eligibility")
    slot.refresh_from_db(fields=["reserved", "capacity"])
    if slot.reserved < slot.capacity:
        raise ReservationError(_("この枠には空きがあります。そのまま予約してください。"), code="not_full")
    if Reservation.objects.filter(
        slot=slot, resident=resident, status=ReservationStatus.BOOKED, **_person_q(member)
    ).exists():
        raise ReservationError(_("この枠はすでに予約済みです。"), code="duplicate")
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(slot=slot, resident=resident, member=member, answers=cleaned)
    except IntegrityError:
        raise ReservationError(
            _("この枠のキャンセル待ちにすでに登録しています。"), code="duplicate"
        ) from None
    audit_log(
        actor=actor,
        action="reservations.waitlist.joined",
        obj=entry,
        data={"slot": str(slot), **({"member": member.name} if member else {})},
        actor_resident=resident if actor is None else None,
    )
    return entry


def waitlist_offer_freed(*, slot: Slot, now: dt.datetime | None = None) -> WaitlistEntry | None:
    """Offer a place just freed in ``slot`` to the first one waiting (caller's transaction).

    Call right after the place was released, in the same transaction. Takes the place back for
    the entry (conditional UPDATE), marks it 案内中 with ``hold_until`` and enqueues the LINE
    offer on commit (or, with the menu's 自動予約, the automatic booking). Returns the entry, or
    None when nobody waits or the slot no longer takes bookings (the place stays free).
    ``skip_locked``: an entry another transaction is offering right now is passed over.
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
    entry = (
        WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(slot_id=slot.pk, status=WaitlistStatus.WAITING)
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
        status=WaitlistStatus.OFFERED, offered_at=now, hold_until=hold_until, updated_at=now
    )
    entry.refresh_from_db()
    audit_log(
        actor=None,
        action="reservations.waitlist.offered",
        obj=entry,
        data={"slot": str(slot), "hold_until": hold_until.isoformat(), "auto_book": menu.waitlist_auto_book},
    )
    on_commit_bump(menu.pk)
    enqueue_on_commit(AUTO_BOOK_TASK if menu.waitlist_auto_book else OFFER_TASK, entry.pk)
    return entry


def _pass_on(slot: Slot, now: dt.datetime) -> None:
    """The held place of an entry that ended without a booking: the next in line, or the calendar."""
    release_place(slot.pk)
    waitlist_offer_freed(slot=slot, now=now)
    on_commit_bump(slot.menu_id)


@transaction.atomic(durable=True)
def waitlist_accept(
    *, entry: WaitlistEntry, resident: Resident, now: dt.datetime | None = None
) -> Reservation:
    """Turn the place held for ``entry`` into a booking for its resident (or member).

    Only the entry's resident (``resident``), only while the hold lasts: the flip 案内中 → 予約済
    is a conditional UPDATE on ``hold_until > now``, so it races the expiry beat and exactly one
    wins. Eligibility and the per-person limits are checked again under the resident lock; a
    refusal leaves the hold as it was (the resident may cancel another booking and try again).
    The place was already counted when it was offered, so no capacity is taken here. Raises
    ReservationError. Audited as the resident; the confirmation push is enqueued on commit.
    """
    now = now or timezone.now()
    lock_residents([resident.pk])
    current = (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("slot__menu__department", "member")
        .filter(pk=entry.pk, resident=resident)
        .first()
    )
    if current is None:
        raise ReservationError(_("このキャンセル待ちは見つかりません。"), code="not_found")
    if current.status != WaitlistStatus.OFFERED or current.hold_until <= now:
        raise ReservationError(_("申し訳ありません。ご案内した席の確保期限が過ぎました。"), code="expired")
    slot, menu = current.slot, current.slot.menu
    member = current.member if current.member_id and current.member.is_active else None
    if current.member_id and member is None:
        raise ReservationError(_("予約する家族が見つかりません。"), code="member")
    problem = eligibility_problem(
        menu=menu, on=timezone.localtime(slot.starts_at).date(), resident=resident, member=member
    )
    if problem:
        raise ReservationError(problem, code="eligibility")
    check_limits(menu, slot, now=now, resident=resident, phone="", member=member)
    flipped = WaitlistEntry.objects.filter(
        pk=current.pk, status=WaitlistStatus.OFFERED, hold_until__gt=now
    ).update(status=WaitlistStatus.BOOKED, closed_at=now, updated_at=now)
    if not flipped:
        raise ReservationError(_("申し訳ありません。ご案内した席の確保期限が過ぎました。"), code="expired")
    reservation = reservation_insert(
        slot=slot, resident=resident, member=member, answers=current.answers, booked_by=None
    )
    WaitlistEntry.objects.filter(pk=current.pk).update(reservation=reservation)
    audit_log(
        actor=None,
        action="reservations.reservation.booked",
        obj=reservation,
        data={"code": reservation.code, "slot": str(slot), "waitlist": current.pk},
        actor_resident=resident,
    )
    notify_on_commit(reservation, "booked")
    on_commit_bump(menu.pk)
    return reservation


@transaction.atomic(durable=True)
def waitlist_leave(
    *, entry: WaitlistEntry, resident: Resident, now: dt.datetime | None = None
) -> WaitlistEntry:
    """The resident withdraws (順番待ち or an offer they decline); a held place goes to the next in line."""
    now = now or timezone.now()
    current = (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("slot__menu")
        .filter(pk=entry.pk, resident=resident)
        .first()
    )
    if current is None or current.status not in WAITLIST_OPEN:
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
        actor=None,
        action="reservations.waitlist.left",
        obj=current,
        data={"was": was},
        actor_resident=resident,
    )
    return current


@transaction.atomic(durable=True)
def waitlist_hold_release(*, entry_id: int, now: dt.datetime | None = None, reason: str = "expired") -> bool:
    """End one offer whose hold ran out (or whose automatic booking was refused), exactly once.

    The conditional UPDATE 案内中 → 期限切れ (on ``hold_until <= now`` for an expiry) is the
    "once": a second run, or an acceptance that won the race, updates nothing and this returns
    False. The winner passes the place on to the next in line, or frees it. Audited.
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
    if entry is None or entry.status != WaitlistStatus.OFFERED:
        return "skipped"
    try:
        waitlist_accept(entry=entry, resident=entry.resident, now=now)
    except ReservationError:
        waitlist_hold_release(entry_id=entry_id, now=now, reason="refused")
        return "passed_on"
    return "booked"


def waitlist_offer_notify(*, entry_id: int) -> bool:
    """Push the offer with its button to the resident (after commit; idempotent by retry key)."""
    entry = (
        WaitlistEntry.objects.select_related("slot__menu__department__municipality", "resident", "member")
        .filter(pk=entry_id)
        .first()
    )
    if entry is None or entry.status != WaitlistStatus.OFFERED or not entry.resident.is_following:
        return False
    menu = entry.slot.menu
    get_line_client(menu.department.municipality).push(
        entry.resident.line_user_id,
        waitlist_offer_messages(entry),
        retry_key=retry_key_for("reservations", "waitlist_offer", entry.pk, entry.offered_at.isoformat()),
        department=menu.department,
    )
    return True
