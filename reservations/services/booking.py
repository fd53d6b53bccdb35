"""Booking, changing, cancelling and attendance: the writes that touch a slot's places."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from municipalities import jp
from municipalities.audit import audit_entry, audit_log
from municipalities.models import Area, HouseholdMember, Resident, StaffUser
from municipalities.permissions import require

from ..eligibility import age_problem, booking_problem
from ..errors import ReservationError
from ..models import Menu, Reservation, ReservationStatus, Slot, WaitlistEntry, WaitlistStatus
from ..questions import validate_answers
from ..rules import cancel_deadline, format_dt, opens_at, window_state
from . import booking_pg

# availability_bump, lock_residents and lock_slots are re-exported from reservations.services;
# _on_commit_bump is the name slots.py imports.
from .places import (  # noqa: F401
    availability_bump,
    availability_version_key,
    caller_contact,
    check_limits,
    lock_residents,
    lock_slots,
    notify_on_commit,
    on_commit_bump,
    release_place,
    reservation_insert,
    reservation_row,
    slot_full,
    take_place,
)
from .waitlist import waitlist_offer_freed

_on_commit_bump = on_commit_bump
_BOOK_DENIED = gettext_lazy("この課の枠を代理で予約する権限がありません。")
HOLDS_PLACE = (ReservationStatus.BOOKED, ReservationStatus.ATTENDED, ReservationStatus.NO_SHOW)


def _validate_answers(menu: Menu, answers: dict[str, Any] | None) -> dict[str, str]:
    return validate_answers(menu.question_list, answers)


def _check_bookable(slot: Slot, *, now: dt.datetime, staff: bool) -> None:
    menu = slot.menu
    if menu.is_suspended:
        raise ReservationError(
            _("「%(menu)s」は現在、予約の受付を停止しています。") % {"menu": menu.name}, code="suspended"
        )
    if not slot.is_open:
        raise ReservationError(_("この枠は受付を終了しました。"), code="closed")
    if slot.starts_at <= now:
        raise ReservationError(_("この枠はすでに始まっています。"), code="closed")
    if staff:
        return  # 代理予約: staff may book outside the residents' window (a call the day before)
    state = window_state(menu, slot.starts_at, now)
    if state == "not_yet":
        raise ReservationError(
            _("この枠の予約受付は %(when)s からです。") % {"when": format_dt(opens_at(menu, slot.starts_at))},
            code="not_yet",
        )
    if state == "closed":
        raise ReservationError(
            _("この枠の予約受付は締め切りました（開始の %(h)s 時間前まで）。")
            % {"h": menu.closes_hours_before},
            code="window_closed",
        )


def _member_of(resident: Resident, member: HouseholdMember | None) -> HouseholdMember | None:
    """The member re-read under the resident lock: one of this resident's, still registered."""
    if member is None:
        return None
    current = HouseholdMember.objects.filter(pk=member.pk, resident=resident, is_active=True).first()
    if current is None:
        raise ReservationError(
            _("予約する家族が見つかりません。「家族の登録」をご確認ください。"), code="member"
        )
    return current


def _check_eligible(
    menu: Menu,
    slot: Slot,
    *,
    resident: Resident | None,
    member: HouseholdMember | None,
    staff: bool,
    birth_date: dt.date | None,
    area: Area | None,
    name: str,
) -> None:
    problem = booking_problem(
        menu=menu,
        on=timezone.localtime(slot.starts_at).date(),
        resident=resident,
        member=member,
        staff=staff,
        birth_date=birth_date,
        area_id=area.pk if area is not None else None,
        name=name,
    )
    if problem:
        raise ReservationError(problem, code="eligibility")


def _booked_audit(
    reservation: Reservation,
    slot: Slot,
    *,
    resident: Resident | None,
    member: HouseholdMember | None,
    actor: StaffUser | None,
) -> dict[str, Any]:
    return {
        "actor": actor,
        "action": "reservations.reservation.booked",
        "obj": reservation,
        "data": {
            "code": reservation.code,
            "slot": str(slot),
            "phone_booking": resident is None,
            **({"member": member.name} if member is not None else {}),
        },
        "actor_resident": resident if actor is None else None,
    }


def _book_in_one_statement(
    *,
    menu: Menu,
    slot: Slot,
    resident: Resident,
    member: HouseholdMember | None,
    answers: dict[str, str],
    now: dt.datetime,
) -> Reservation | None:
    """A resident's own booking on PostgreSQL (``booking_pg``), under the resident's lock; None
    when it did not book, and then the ORM way books or says why. The age rule is checked here
    (no query); the limits, the area rule and the place in the statement."""
    if age_problem(menu=menu, on=timezone.localtime(slot.starts_at).date(), member=member):
        return None
    reservation = reservation_row(slot=slot, resident=resident, member=member, answers=answers)
    audit = audit_entry(**_booked_audit(reservation, slot, resident=resident, member=member, actor=None))
    booked = booking_pg.resident_book(reservation=reservation, audit=audit, menu=menu, now=now)
    return reservation if booked else None


@transaction.atomic(durable=True)
def reservation_book(
    *,
    slot: Slot,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    answers: dict[str, Any] | None = None,
    name: str = "",
    kana: str = "",
    phone: str = "",
    member: HouseholdMember | None = None,
    birth_date: dt.date | None = None,
    area: Area | None = None,
    now: dt.datetime | None = None,
    slot_as_read: bool = False,
) -> Reservation:
    """Book one place in ``slot`` for a resident (or a member of their household, ``member``), or
    (staff only) for a caller by name/kana/phone.

    Guarantees: never more bookings than places (conditional UPDATE + CHECK
    ``reservations_slot_reserved_lte_capacity``); one active booking per resident and slot
    (partial UNIQUE); the per-menu and per-day limits hold under concurrency (the resident row
    is locked and the bookings recounted under the lock). Residents must book inside the window;
    staff (``actor``, 代理予約) may book after it closed but obey capacity and limits.
    The menu's eligibility rule (age at the slot date, area) is checked here again for everyone:
    a member by their birth date, a resident booking in LINE by their 本人 entry, and a person
    staff book on the phone by the ``birth_date`` (and, for a caller, the ``area``) they gave;
    a birth date so taken is kept on the booking for the roster.
    Raises ReservationError (``code`` says why). Enqueues the confirmation push on commit.

    ``slot`` is read again with its menu and department, unless ``slot_as_read``: the caller
    read it so for this request (the resident's confirm page) and a second read would see no
    more (no row of it is locked; the place is taken by the conditional UPDATE).
    """
    now = now or timezone.now()
    if not slot_as_read:
        slot = Slot.objects.select_related("menu__department").get(pk=slot.pk)
    menu = slot.menu
    if actor is not None:
        require(actor, "book", slot, error=ReservationError, message=_BOOK_DENIED)
    if resident is None:
        if actor is None:
            raise ReservationError(_("予約する人を指定してください。"), code="person")
        name, kana, phone = caller_contact(name, kana, phone)
        member = None  # a caller has no household list here
    elif resident.municipality_id != menu.department.municipality_id:
        raise ReservationError(_("この予約メニューは見つかりません。"), code="not_found")
    cleaned_answers = _validate_answers(menu, answers)
    _check_bookable(slot, now=now, staff=actor is not None)
    if slot.reserved >= slot.capacity:
        # Full as read: refused before the person is locked and counted, so that the refusals of
        # a rush cost one read. A place freed meanwhile is there for the next try.
        raise slot_full()
    if resident is not None:
        lock_residents([resident.pk])
        member = _member_of(resident, member)
    if actor is None or member is not None:
        birth_date = None  # only staff take a birth date on the phone; a member has their own
    reservation = None
    if actor is None and booking_pg.is_available():
        reservation = _book_in_one_statement(
            menu=menu, slot=slot, resident=resident, member=member, answers=cleaned_answers, now=now
        )
    if reservation is None:
        _check_eligible(
            menu,
            slot,
            resident=resident,
            member=member,
            staff=actor is not None,
            birth_date=birth_date,
            area=area,
            name=name,
        )
        check_limits(
            menu, slot, now=now, resident=resident, phone=phone if resident is None else "", member=member
        )
        take_place(slot)
        reservation = reservation_insert(
            reservation_row(
                slot=slot,
                resident=resident,
                member=member,
                name=name if resident is None else "",
                kana=kana if resident is None else "",
                phone=phone if resident is None else "",
                answers=cleaned_answers,
                booked_by=actor,
                birth_date=birth_date,
            )
        )
        audit_log(**_booked_audit(reservation, slot, resident=resident, member=member, actor=actor))
    on_commit_bump(menu.pk)
    notify_on_commit(reservation, "booked")
    return reservation


@transaction.atomic(durable=True)
def reservation_cancel(
    *, reservation: Reservation, actor: StaffUser | None = None, now: dt.datetime | None = None
) -> Reservation:
    """Cancel a booking and free its place.

    Residents (``actor=None``) may cancel until the menu's cancel deadline; staff any time
    before the slot ends. Idempotent against races (status flip with a conditional UPDATE).
    Raises ReservationError. Enqueues a cancellation message to the resident on commit.
    """
    now = now or timezone.now()
    reservation = Reservation.objects.select_related("slot__menu__department", "resident").get(
        pk=reservation.pk
    )
    slot = reservation.slot
    if actor is not None:
        require(actor, "book", slot, error=ReservationError, message=_BOOK_DENIED)
    if reservation.status != ReservationStatus.BOOKED:
        raise ReservationError(_("この予約はすでにキャンセルされているか、来場済みです。"), code="not_active")
    if actor is None and now >= cancel_deadline(slot.menu, slot.starts_at):
        raise ReservationError(
            _("キャンセルの締切（%(when)s）を過ぎています。お手数ですが担当課へお電話ください。")
            % {"when": format_dt(cancel_deadline(slot.menu, slot.starts_at))},
            code="deadline",
        )
    flipped = Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.BOOKED).update(
        status=ReservationStatus.CANCELLED, cancelled_at=now, cancelled_by=actor, updated_at=now
    )
    if not flipped:
        raise ReservationError(_("この予約はすでにキャンセルされています。"), code="not_active")
    release_place(slot.pk)
    # The freed place goes to the first in line (held for them) before anyone else can book it.
    waitlist_offer_freed(slot=slot, now=now)
    reservation.refresh_from_db()
    audit_log(
        actor=actor,
        action="reservations.reservation.cancelled",
        obj=reservation,
        data={"code": reservation.code},
        actor_resident=reservation.resident if actor is None else None,
    )
    on_commit_bump(slot.menu_id)
    notify_on_commit(reservation, "cancelled")
    return reservation


@transaction.atomic(durable=True)
def reservation_change(
    *,
    reservation: Reservation,
    new_slot: Slot,
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> Reservation:
    """Move a booking to another slot of the same menu (keeps its code and answers).

    Residents: before the cancel deadline of the old slot and inside the window of the new one.
    Takes the new place with the conditional UPDATE before freeing the old one; limits are
    recounted under the resident lock. Raises ReservationError. Enqueues a message on commit.
    """
    now = now or timezone.now()
    reservation = Reservation.objects.select_related("slot__menu__department", "resident").get(
        pk=reservation.pk
    )
    old = reservation.slot
    new_slot = Slot.objects.select_related("menu__department").get(pk=new_slot.pk)
    if actor is not None:
        require(actor, "book", old, error=ReservationError, message=_BOOK_DENIED)
        require(actor, "book", new_slot, error=ReservationError, message=_BOOK_DENIED)
    if new_slot.menu_id != old.menu_id:
        raise ReservationError(_("別のメニューの枠には変更できません。"), code="menu")
    if new_slot.pk == old.pk:
        raise ReservationError(_("同じ枠です。"), code="same")
    if reservation.status != ReservationStatus.BOOKED:
        raise ReservationError(_("この予約は変更できません。"), code="not_active")
    if actor is None and now >= cancel_deadline(old.menu, old.starts_at):
        raise ReservationError(
            _("変更の締切（%(when)s）を過ぎています。お手数ですが担当課へお電話ください。")
            % {"when": format_dt(cancel_deadline(old.menu, old.starts_at))},
            code="deadline",
        )
    _check_bookable(new_slot, now=now, staff=actor is not None)
    # Lock order everywhere: resident → reservation → slots in pk order (cancel takes the
    # reservation row then its slot; two residents swapping A→B and B→A queue instead of deadlocking).
    if reservation.resident_id is not None:
        lock_residents([reservation.resident_id])
    if (
        # of=("self",): Meta.ordering joins the slot, and FOR UPDATE would lock the old slot
        # here too, out of pk order (a deadlock with a booking moving the other way).
        Reservation.objects.select_for_update(of=("self",))
        .filter(pk=reservation.pk)
        .values_list("status", flat=True)
        .first()
        != ReservationStatus.BOOKED
    ):
        raise ReservationError(_("この予約は変更できません。"), code="not_active")
    lock_slots([old.pk, new_slot.pk])
    check_limits(
        new_slot.menu,
        new_slot,
        now=now,
        resident=reservation.resident,
        phone=reservation.phone if reservation.resident_id is None else "",
        member=reservation.member,
        exclude_pk=reservation.pk,
    )
    take_place(new_slot)
    release_place(old.pk)
    waitlist_offer_freed(slot=old, now=now)
    try:
        with transaction.atomic():
            Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.BOOKED).update(
                slot=new_slot, slot_date=timezone.localtime(new_slot.starts_at).date(), updated_at=now
            )
    except IntegrityError:
        raise ReservationError(_("この枠はすでに予約済みです。"), code="duplicate") from None
    # Reminders already sent for the old time do not count for the new one.
    reservation.reminders.all().delete()
    reservation.refresh_from_db()
    audit_log(
        actor=actor,
        action="reservations.reservation.changed",
        obj=reservation,
        data={"from": str(old), "to": str(new_slot)},
        actor_resident=reservation.resident if actor is None else None,
    )
    on_commit_bump(old.menu_id)
    notify_on_commit(reservation, "changed")
    return reservation


@transaction.atomic(durable=True)
def reservation_mark_attendance(*, reservation: Reservation, status: str, actor: StaffUser) -> Reservation:
    """Record 来場 or 無断キャンセル (or undo it back to 予約済). The place stays taken."""
    allowed = {ReservationStatus.BOOKED, ReservationStatus.ATTENDED, ReservationStatus.NO_SHOW}
    if status not in allowed:
        raise ReservationError(_("この状態には変更できません。"), code="status")
    reservation = Reservation.objects.select_related("slot__menu__department").get(pk=reservation.pk)
    require(
        actor,
        "change",
        reservation,
        error=ReservationError,
        message=_("この課の予約を変更する権限がありません。"),
    )
    if reservation.status == ReservationStatus.CANCELLED:
        raise ReservationError(_("キャンセルされた予約です。"), code="not_active")
    before = reservation.status
    reservation.status = status
    reservation.attendance_marked_at = timezone.now() if status != ReservationStatus.BOOKED else None
    try:
        with transaction.atomic():
            reservation.save(update_fields=["status", "attendance_marked_at", "updated_at"])
    except IntegrityError:
        raise ReservationError(_("同じ枠に有効な予約がもう 1 件あります。"), code="duplicate") from None
    audit_log(
        actor=actor,
        action="reservations.reservation.attendance_marked",
        obj=reservation,
        data={"from": before, "to": status},
    )
    return reservation


@transaction.atomic(durable=True)
def slot_counters_reconcile() -> list[dict[str, int]]:
    """Recount ``reserved`` of every slot from its bookings and held waitlist offers; returns (and logs) what it corrected."""
    counted = (
        Reservation.objects.filter(slot=OuterRef("pk"), status__in=HOLDS_PLACE)
        .order_by()
        .values("slot")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # A place offered to the waitlist is held for that resident until accepted or expired.
    held = (
        WaitlistEntry.objects.filter(slot=OuterRef("pk"), status=WaitlistStatus.OFFERED)
        .order_by()
        .values("slot")
        .annotate(n=Count("pk"))
        .values("n")
    )
    wrong = list(
        Slot.objects.annotate(actual=Coalesce(Subquery(counted), 0) + Coalesce(Subquery(held), 0))
        .exclude(reserved=F("actual"))
        .values("pk", "reserved", "actual", "capacity", "menu_id")
    )
    fixed = []
    for row in wrong:
        # Never push reserved over capacity (the CHECK would refuse); staff see it in the log.
        value = min(row["actual"], row["capacity"])
        Slot.objects.filter(pk=row["pk"]).update(reserved=value)
        fixed.append({"slot": row["pk"], "was": row["reserved"], "now": value, "actual": row["actual"]})
        on_commit_bump(row["menu_id"])
    return fixed


@transaction.atomic(durable=True)
def reservation_update_contact(
    *, reservation: Reservation, actor: StaffUser, name: str, kana: str, phone: str
) -> Reservation:
    """Correct the name/kana/phone written down for a phone booking (normalised as at booking)."""
    current = Reservation.objects.select_related("slot__menu__department").get(pk=reservation.pk)
    require(
        actor,
        "change",
        current,
        error=ReservationError,
        message=_("この課の予約を変更する権限がありません。"),
    )
    name, kana = jp.normalise_text(name), jp.to_katakana(kana)
    try:
        phone = jp.normalise_phone(phone) if phone.strip() else ""
    except ValueError as exc:
        raise ReservationError(str(exc), code="person") from None
    if current.resident_id is None and (not name or not phone):
        raise ReservationError(_("電話予約には氏名と電話番号が必要です。"), code="person")
    before = {"name": current.name, "kana": current.kana, "phone": current.phone}
    current.name, current.kana, current.phone = name, kana, phone
    current.save(update_fields=["name", "kana", "phone", "updated_at"])
    audit_log(
        actor=actor,
        action="reservations.reservation.changed",
        obj=current,
        data={k: [before[k], getattr(current, k)] for k in before if before[k] != getattr(current, k)},
    )
    return current


@transaction.atomic(durable=True)
def reservation_delete(*, reservation: Reservation, actor: StaffUser) -> None:
    """Delete a booking entered by mistake; an active one frees its place first. Audited."""
    current = Reservation.objects.select_related("slot__menu__department").get(pk=reservation.pk)
    require(
        actor,
        "delete",
        current,
        error=ReservationError,
        message=_("この課の予約を削除する権限がありません。"),
    )
    freed = current.status == ReservationStatus.BOOKED
    if current.status in HOLDS_PLACE:
        release_place(current.slot_id)
    audit_log(
        actor=actor,
        action="reservations.reservation.deleted",
        obj=current,
        data={"code": current.code, "name": current.display_name, "slot": str(current.slot)},
    )
    current.delete()
    if freed:
        waitlist_offer_freed(slot=current.slot)  # a place that was still to come goes to the waitlist
    on_commit_bump(current.slot.menu_id)
