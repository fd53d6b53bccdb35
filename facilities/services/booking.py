"""Booking a room's frame (residents, staff, lottery winners).

Every booking write locks the facility row first (one lock per facility, always taken first,
so two writes never wait on each other in opposite orders), then checks what must be free under
that lock: an exclusive frame (overlap of times, not only the same start), a shared room's
capacity, the group's monthly limit. The partial UNIQUE
``facilities_facilitybooking_one_active_per_exclusive_frame`` is the database's last word.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingOrigin,
    BookingPaymentState,
    BookingStatus,
    Discount,
    Extra,
    Facility,
    FacilityBooking,
    LotteryApplication,
    LotteryFrame,
    LotteryFrameStatus,
    Rate,
    Room,
    TimeFrame,
    booking_code_new,
    group_key_for,
)
from facilities.notifications import booking_notify_on_commit
from facilities.services.booking_checks import (
    _check_free,
    _check_monthly_limit,
    _check_when,
    _member_of,
    _normalised_group,
)
from facilities.services.booking_common import (
    TAKEN_MESSAGE,
    GroupDetails,
    _check_payment_method,
    lock_facility,
    payment_due,
    starts_at_of,
)
from facilities.services.fees import fee_compute
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.models import HouseholdMember, PaymentMethod, Resident, StaffUser
from municipalities.permissions import require

logger = logging.getLogger(__name__)


# An online payment left unfinished holds a first-come frame this long, then the frame is free
# again (a resident who opened the checkout and walked away must not block a popular frame).
ONLINE_PAYMENT_HOLD = dt.timedelta(hours=1)


def booking_insert(
    *,
    facility: Facility,
    room: Room,
    frame: TimeFrame,
    use_date: dt.date,
    group: GroupDetails,
    now: dt.datetime,
    origin: str,
    resident: Resident | None = None,
    member: HouseholdMember | None = None,
    payment_method: str = "",
    discount: Discount | None = None,
    discount_reason: str = "",
    extras: Sequence[Extra] = (),
    actor: StaffUser | None = None,
    series: str = "",
    check_window: bool = True,
    check_lottery: bool = True,
    check_limit: bool = True,
    status: str | None = None,
    payment_due_at: dt.datetime | None = None,
) -> FacilityBooking:
    """Check and write one booking, inside the caller's transaction, with ``facility`` locked
    (``lock_facility``). The building block of booking_create, the bulk entry and the lottery;
    raises FacilityError (the caller's transaction decides what to roll back)."""
    if not connection.in_atomic_block:
        raise RuntimeError("booking_insert() needs the caller's transaction")
    staff = actor is not None
    if room.facility_id != facility.pk or frame.facility_id != facility.pk:
        raise FacilityError(_("この部屋・時間枠はこの施設のものではありません。"), code="not_found")
    if not frame.is_active or not room.is_active:
        raise FacilityError(_("この部屋・時間枠は現在受け付けていません。"), code="closed")
    if not staff and not facility.is_published:
        raise FacilityError(_("この施設は現在、予約を受け付けていません。"), code="closed")
    group = _normalised_group(group)
    if not group.representative:
        raise FacilityError(_("代表者のお名前を入力してください。"), code="representative")
    if not group.purpose:
        raise FacilityError(_("利用目的を入力してください。"), code="purpose")
    if group.headcount < 1:
        raise FacilityError(_("人数は1人以上で入力してください。"), code="headcount")
    if room.is_exclusive and group.headcount > room.capacity:
        raise FacilityError(
            _("%(room)s の定員は %(n)s 人です。") % {"room": room.name, "n": room.capacity}, code="headcount"
        )
    _check_when(facility, room, frame, use_date, now=now, staff=staff or not check_window)
    if (
        check_lottery
        and LotteryFrame.objects.filter(
            room=room, use_date=use_date, starts_at=frame.starts_at, status=LotteryFrameStatus.LOTTERY
        ).exists()
    ):
        raise FacilityError(_("この枠は抽選の対象です。抽選の申込期間にお申し込みください。"), code="lottery")
    member = _member_of(resident, member)
    rate = Rate.objects.filter(room=room, frame=frame).first()
    if rate is None:
        raise FacilityError(
            _("この枠の使用料が設定されていません。施設にお問い合わせください。"), code="no_rate"
        )
    if discount is not None:
        if discount.facility_id != facility.pk or not discount.is_active:
            raise FacilityError(_("この減免は使えません。"), code="discount")
        if not staff and not discount.residents_may_choose:
            raise FacilityError(_("この減免は窓口でお申し込みください。"), code="discount")
        discount_reason = jp.normalise_text(discount_reason)
        if not discount_reason:
            raise FacilityError(_("減免の理由を入力してください。"), code="discount_reason")
    else:
        discount_reason = ""
    for extra in extras:
        if extra.facility_id != facility.pk or not extra.is_active:
            raise FacilityError(_("「%(name)s」は使えません。") % {"name": extra.name}, code="extra")
    fee = fee_compute(rate=rate, is_resident_rate=group.is_resident_rate, discount=discount, extras=extras)
    if status is None:
        status = (
            BookingStatus.PENDING if facility.requires_approval and not staff else BookingStatus.CONFIRMED
        )
    if fee.total_fee == 0:
        payment_method, payment_state, payment_due_at = "", BookingPaymentState.NOT_REQUIRED, None
    else:
        payment_state = BookingPaymentState.UNPAID
        if not payment_method and staff:
            payment_method = PaymentMethod.COUNTER
        if payment_method:
            _check_payment_method(facility, payment_method)
        elif origin != BookingOrigin.LOTTERY:
            raise FacilityError(_("お支払い方法を選んでください。"), code="payment_method")
        if payment_due_at is None and status == BookingStatus.CONFIRMED and not staff:
            if payment_method == PaymentMethod.COUNTER:
                payment_due_at = payment_due(
                    facility=facility, use_date=use_date, starts_at=frame.starts_at, now=now
                )
            else:
                payment_due_at = min(now + ONLINE_PAYMENT_HOLD, starts_at_of(use_date, frame.starts_at))
    group_key = group_key_for(group.group_name)
    if check_limit and not staff:
        _check_monthly_limit(facility, group_key, use_date)
    _check_free(room, use_date, frame, group.headcount)
    booking = FacilityBooking(
        facility=facility,
        room=room,
        frame=frame,
        use_date=use_date,
        starts_at=frame.starts_at,
        ends_at=frame.ends_at,
        is_exclusive=room.is_exclusive,
        code=booking_code_new(),
        status=status,
        origin=origin,
        series=series,
        resident=resident,
        member=member,
        group_name=group.group_name,
        group_key=group_key,
        representative=group.representative,
        representative_kana=group.representative_kana,
        phone=group.phone,
        headcount=group.headcount,
        purpose=group.purpose,
        is_resident_rate=group.is_resident_rate,
        base_fee=fee.base_fee,
        discount=discount,
        discount_name=fee.discount_name,
        discount_percent=fee.discount_percent,
        discount_reason=discount_reason,
        discount_amount=fee.discount_amount,
        extras_fee=fee.extras_fee,
        total_fee=fee.total_fee,
        fee_lines=fee.lines,
        payment_method=payment_method,
        payment_state=payment_state,
        payment_due_at=payment_due_at,
        booked_by=actor,
    )
    # Unique constraints are the database's to check (below); the rest of full_clean here.
    full_clean_or(booking, error=FacilityError, validate_constraints=False)
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError:
        raise FacilityError(_(TAKEN_MESSAGE), code="taken") from None
    return booking


@transaction.atomic(durable=True)
def booking_create(
    *,
    room: Room,
    frame: TimeFrame,
    use_date: dt.date,
    group: GroupDetails,
    resident: Resident | None = None,
    member: HouseholdMember | None = None,
    payment_method: str = "",
    discount: Discount | None = None,
    discount_reason: str = "",
    extras: Sequence[Extra] = (),
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> FacilityBooking:
    """Book ``frame`` of ``room`` on ``use_date`` for a group.

    A resident (``actor`` None) books inside the facility's window, on an open day, not a
    lottery frame, within the group's monthly limit; with approval required the booking is
    申請中, otherwise 確定. Staff (``actor``, 窓口・電話) may book outside the window and beyond
    the monthly limit, with a 減免 that residents cannot choose; their bookings are 確定 and paid
    at the counter unless said otherwise. An unpaid, confirmed resident booking gets a payment
    deadline (``payment_due_at``) after which it lapses.

    Guarantees: an exclusive frame is never double-booked, a shared room never over its
    capacity (facility row lock + recount, partial UNIQUE as the last word). Raises
    FacilityError; a taken frame is 「この枠はすでに予約されています。」 (code "taken").
    Audited; the resident's LINE notice is enqueued on commit.
    """
    now = now or timezone.now()
    facility = lock_facility(room.facility_id)
    room = Room.objects.get(pk=room.pk)
    frame = TimeFrame.objects.get(pk=frame.pk)
    if resident is not None and resident.municipality_id != facility.department.municipality_id:
        raise FacilityError(_("この施設は見つかりません。"), code="not_found")
    if actor is not None:
        require(
            actor,
            "book",
            FacilityBooking(facility=facility, room=room),
            error=FacilityError,
            message=_("この課の施設を予約する権限がありません。"),
        )
    elif resident is None:
        raise FacilityError(_("予約する人を指定してください。"), code="person")
    booking = booking_insert(
        facility=facility,
        room=room,
        frame=frame,
        use_date=use_date,
        group=group,
        now=now,
        origin=BookingOrigin.STAFF if actor is not None else BookingOrigin.LINE,
        resident=resident,
        member=member,
        payment_method=payment_method,
        discount=discount,
        discount_reason=discount_reason,
        extras=extras,
        actor=actor,
    )
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.booked",
        obj=booking,
        data={
            "code": booking.code,
            "room": room.name,
            "use_date": use_date.isoformat(),
            "frame": str(frame),
            "total_fee": booking.total_fee,
            "status": booking.status,
            **({"discount": booking.discount_name, "reason": booking.discount_reason} if discount else {}),
        },
        actor_resident=resident if actor is None else None,
    )
    booking_notify_on_commit(booking, "applied" if booking.status == BookingStatus.PENDING else "booked")
    return booking


def booking_create_for_lottery_win(
    *, application: LotteryApplication, now: dt.datetime | None = None
) -> FacilityBooking:
    """A confirmed, unpaid booking for a lottery winner, inside the caller's (the draw's)
    transaction, linked as ``application.booking``; due by the round's ``payment_due_at``.
    Locks the facility. Raises FacilityError (code "taken" if the frame is held meanwhile).
    No notice is enqueued here: the lottery tells winners and losers itself."""
    if not connection.in_atomic_block:
        raise RuntimeError("booking_create_for_lottery_win() runs inside the draw's transaction")
    now = now or timezone.now()
    lottery_frame = LotteryFrame.objects.select_related("round", "room", "frame").get(
        pk=application.lottery_frame_id
    )
    round_ = lottery_frame.round
    facility = lock_facility(round_.facility_id)
    booking = booking_insert(
        facility=facility,
        room=lottery_frame.room,
        frame=lottery_frame.frame,
        use_date=lottery_frame.use_date,
        group=GroupDetails(
            representative=application.representative,
            purpose=application.purpose,
            headcount=application.headcount,
            group_name=application.group_name,
            phone=application.phone,
            is_resident_rate=application.is_resident_rate,
        ),
        now=now,
        origin=BookingOrigin.LOTTERY,
        resident=application.resident,
        check_window=False,
        check_lottery=False,
        check_limit=False,
        status=BookingStatus.CONFIRMED,
        payment_due_at=round_.payment_due_at,
    )
    application.booking = booking
    application.save(update_fields=["booking", "updated_at"])
    audit_log(
        actor=None,
        action="facilities.facilitybooking.booked",
        obj=booking,
        data={"code": booking.code, "lottery_application": application.pk, "total_fee": booking.total_fee},
    )
    return booking


def bookings_overlapping(*, facility: Facility, start: dt.date, end: dt.date, room: Room | None = None):
    """Active bookings of ``facility`` (or one room) from ``start`` to ``end`` inclusive."""
    qs = FacilityBooking.objects.filter(
        facility=facility, status__in=ACTIVE_BOOKING_STATUSES, use_date__gte=start, use_date__lte=end
    )
    if room is not None:
        qs = qs.filter(Q(room=room))
    return qs.order_by("use_date", "starts_at", "pk")
