"""Booking a room's frame, approving it, paying for it, cancelling it and letting unpaid ones lapse.

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
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.calendar import closed_reason
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
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryFrameStatus,
    Rate,
    Room,
    TimeFrame,
    booking_code_new,
    group_key_for,
)
from facilities.notifications import booking_notify_on_commit
from facilities.services.fees import fee_compute, refund_compute
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.models import HouseholdMember, Payment, PaymentMethod, PaymentStatus, Resident, StaffUser
from municipalities.payments import get_provider
from municipalities.permissions import require
from municipalities.services.payments import (
    PaymentError,
    payment_open,
    payment_record_at_counter,
    payment_refund,
    payments_cancel_pending,
)

logger = logging.getLogger(__name__)

# An online payment left unfinished holds a first-come frame this long, then the frame is free
# again (a resident who opened the checkout and walked away must not block a popular frame).
ONLINE_PAYMENT_HOLD = dt.timedelta(hours=1)
TAKEN_MESSAGE = "この枠はすでに予約されています。"


@dataclass(frozen=True)
class GroupDetails:
    """Who uses the room and why (団体名, 代表者, 人数, 利用目的), as typed; the service normalises it."""

    representative: str
    purpose: str
    headcount: int = 1
    group_name: str = ""
    representative_kana: str = ""
    phone: str = ""
    is_resident_rate: bool = True


def lock_facility(facility_id: int) -> Facility:
    """Lock the facility row: every booking write of the facility holds it while it checks and
    writes (PostgreSQL; SQLite serialises writers anyway)."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_facility() needs the caller's transaction")
    # of=("self",): the facility row only. Locking the joined department and municipality too
    # would deadlock with the FOR KEY SHARE that inserting an audit row takes on the municipality.
    # no_key: FK checks of rows pointing at the facility (closures, rounds) need not wait.
    return (
        Facility.objects.select_for_update(of=("self",), no_key=True)
        .select_related("department__municipality")
        .get(pk=facility_id)
    )


def starts_at_of(booking_or_day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(booking_or_day, time))


def payment_due(
    *, facility: Facility, use_date: dt.date, starts_at: dt.time, now: dt.datetime
) -> dt.datetime:
    """When an approved, won or counter-paid booking must be paid: ``payment_due_days`` from
    now, but not after the end of the day before the day of use, and never before an hour from
    now (a booking made the day before may still be paid until it starts)."""
    due = now + dt.timedelta(days=facility.payment_due_days)
    eve = timezone.make_aware(dt.datetime.combine(use_date - dt.timedelta(days=1), dt.time(23, 59)))
    due = min(due, eve)
    if due < now + dt.timedelta(hours=1):
        due = starts_at_of(use_date, starts_at)
    return due


def online_provider_codes(facility: Facility) -> list[str]:
    """The online providers the facility's town has configured (Stripe first, then the sandbox)."""
    if not facility.pay_online:
        return []
    town = facility.department.municipality
    return [
        code
        for code in (PaymentMethod.STRIPE, PaymentMethod.SANDBOX)
        if get_provider(code).is_configured(town)
    ]


def payment_methods_for(facility: Facility) -> list[tuple[str, str]]:
    """(code, label) of the ways a resident may pay this facility's fees, online first."""
    methods = [(code, PaymentMethod(code).label) for code in online_provider_codes(facility)]
    if facility.pay_at_counter:
        methods.append((PaymentMethod.COUNTER.value, PaymentMethod.COUNTER.label))
    return methods


def _check_payment_method(facility: Facility, method: str) -> None:
    if method == PaymentMethod.COUNTER:
        if not facility.pay_at_counter:
            raise FacilityError(_("この施設は窓口でのお支払いを受け付けていません。"), code="payment_method")
        return
    if method not in online_provider_codes(facility):
        raise FacilityError(_("この支払方法は使えません。別の方法を選んでください。"), code="payment_method")


def _normalised_group(group: GroupDetails) -> GroupDetails:
    phone = jp.normalise_phone(group.phone) if group.phone.strip() else ""
    return GroupDetails(
        representative=jp.normalise_text(group.representative),
        purpose=jp.normalise_text(group.purpose),
        headcount=group.headcount,
        group_name=jp.normalise_text(group.group_name),
        representative_kana=jp.to_katakana(jp.normalise_text(group.representative_kana)),
        phone=phone,
        is_resident_rate=group.is_resident_rate,
    )


def _check_when(
    facility: Facility, room: Room, frame: TimeFrame, use_date: dt.date, *, now: dt.datetime, staff: bool
) -> None:
    if starts_at_of(use_date, frame.starts_at) <= now:
        raise FacilityError(_("この枠はすでに始まっているか、過ぎています。"), code="past")
    if not staff:
        today = timezone.localtime(now).date()
        opens = use_date - dt.timedelta(days=facility.booking_opens_days_before)
        closes = use_date - dt.timedelta(days=facility.booking_closes_days_before)
        if today < opens:
            raise FacilityError(
                _("この日の予約受付は %(day)s からです。") % {"day": f"{opens.month}月{opens.day}日"},
                code="not_yet",
            )
        if today > closes:
            raise FacilityError(
                _("この日の予約受付は締め切りました（利用日の %(n)s 日前まで）。")
                % {"n": facility.booking_closes_days_before},
                code="window_closed",
            )
    reason = closed_reason(room=room, day=use_date)
    if reason:
        raise FacilityError(_("この日は利用できません（%(reason)s）。") % {"reason": reason}, code="closed")


def _check_free(room: Room, use_date: dt.date, frame: TimeFrame, headcount: int) -> None:
    """Under the facility lock: the frame is free (exclusive) or has room for ``headcount`` (shared)."""
    overlapping = FacilityBooking.objects.filter(
        room=room,
        use_date=use_date,
        status__in=ACTIVE_BOOKING_STATUSES,
        starts_at__lt=frame.ends_at,
        ends_at__gt=frame.starts_at,
    )
    if room.is_exclusive:
        if overlapping.exists():
            raise FacilityError(_(TAKEN_MESSAGE), code="taken")
        return
    used = overlapping.aggregate(n=Sum("headcount"))["n"] or 0
    if used + headcount > room.capacity:
        left = max(room.capacity - used, 0)
        raise FacilityError(
            _("この枠は定員に達しています（残り %(left)s 人）。") % {"left": left}, code="full"
        )


def _check_monthly_limit(facility: Facility, group_key: str, use_date: dt.date) -> None:
    limit = facility.monthly_limit_per_group
    if not limit or not group_key:
        return
    month = use_date.replace(day=1)
    held = FacilityBooking.objects.filter(
        facility=facility,
        group_key=group_key,
        status__in=ACTIVE_BOOKING_STATUSES,
        use_date__gte=month,
        use_date__lt=(month + dt.timedelta(days=32)).replace(day=1),
    ).count()
    if held >= limit:
        raise FacilityError(
            _("この団体はこの月にすでに %(n)s 件の予約があります（1か月 %(limit)s 件まで）。")
            % {"n": held, "limit": limit},
            code="limit",
        )


def _member_of(resident: Resident | None, member: HouseholdMember | None) -> HouseholdMember | None:
    if member is None:
        return None
    if (
        resident is None
        or not HouseholdMember.objects.filter(pk=member.pk, resident=resident, is_active=True).exists()
    ):
        raise FacilityError(
            _("利用する家族が見つかりません。「家族の登録」をご確認ください。"), code="member"
        )
    return member


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


def _locked_booking(booking: FacilityBooking) -> FacilityBooking:
    return (
        FacilityBooking.objects.select_for_update(of=("self",))
        .select_related("facility__department__municipality", "room", "resident")
        .get(pk=booking.pk)
    )


@transaction.atomic(durable=True)
def booking_payment_start(
    *, booking: FacilityBooking, resident: Resident, provider_code: str, now: dt.datetime | None = None
) -> Payment:
    """The resident pays a confirmed, unpaid booking with ``provider_code`` (an online provider
    or "counter"): its pending payment of that method, or a new one (core ``payment_open``).
    The edge then sends the resident to ``payment_checkout_url``. Raises FacilityError."""
    now = now or timezone.now()
    booking = _locked_booking(booking)
    if booking.resident_id != resident.pk:
        raise FacilityError(_("この予約は見つかりません。"), code="not_found")
    if booking.status == BookingStatus.PENDING:
        raise FacilityError(
            _("承認されてからお支払いください。承認されると LINE でお知らせします。"), code="status"
        )
    if booking.status != BookingStatus.CONFIRMED or booking.payment_state != BookingPaymentState.UNPAID:
        raise FacilityError(_("この予約はお支払いを待っていません。"), code="status")
    if booking.payment_due_at is not None and booking.payment_due_at <= now:
        raise FacilityError(_("お支払いの期限を過ぎています。"), code="due")
    _check_payment_method(booking.facility, provider_code)
    pending = (
        booking.payments.filter(status=PaymentStatus.PENDING, provider=provider_code).order_by("-pk").first()
    )
    if pending is not None:
        return pending
    if booking.payment_method != provider_code:
        booking.payment_method = provider_code
        if provider_code == PaymentMethod.COUNTER and booking.origin == BookingOrigin.LINE:
            booking.payment_due_at = max(
                booking.payment_due_at or now,
                payment_due(
                    facility=booking.facility, use_date=booking.use_date, starts_at=booking.starts_at, now=now
                ),
            )
        booking.save(update_fields=["payment_method", "payment_due_at", "updated_at"])
    try:
        return payment_open(
            subject=booking,
            department=booking.facility.department,
            resident=resident,
            amount=booking.total_fee,
            provider_code=provider_code,
            description=_payment_description(booking),
        )
    except PaymentError as exc:
        raise FacilityError(exc.message, code=exc.code) from None


def _payment_description(booking: FacilityBooking) -> str:
    # What the fee is for, as the reconciliation groups it: the facility.
    return f"施設使用料 {booking.facility.name}"


@transaction.atomic(durable=True)
def booking_payment_record_counter(
    *, booking: FacilityBooking, actor: StaffUser, receipt_number: str = ""
) -> Payment:
    """Staff record the fee paid at the counter (窓口払い): the booking becomes 支払済み. Audited
    by the core. Raises FacilityError."""
    require(
        actor,
        "change",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を処理する権限がありません。"),
    )
    booking = _locked_booking(booking)
    if not booking.is_active or booking.payment_state != BookingPaymentState.UNPAID:
        raise FacilityError(
            _("%(code)s はお支払い待ちではありません。") % {"code": booking.code}, code="status"
        )
    payment = payment_record_at_counter(
        subject=booking,
        department=booking.facility.department,
        resident=booking.resident,
        amount=booking.total_fee,
        description=_payment_description(booking),
        actor=actor,
        receipt_number=jp.normalise_text(receipt_number),
    )
    booking.payment_state, booking.paid_at, booking.payment_method = (
        BookingPaymentState.PAID,
        payment.paid_at,
        PaymentMethod.COUNTER,
    )
    booking.save(update_fields=["payment_state", "paid_at", "payment_method", "updated_at"])
    return payment


def _paid_payment(booking: FacilityBooking) -> Payment | None:
    return booking.payments.filter(status=PaymentStatus.PAID).order_by("-pk").first()


def booking_end(
    booking: FacilityBooking,
    *,
    status: str,
    now: dt.datetime,
    actor: StaffUser | None,
    reason: str,
    full_refund: bool,
) -> FacilityBooking:
    """Take a locked, active booking out of its frame (取消 or 失効), inside the caller's
    transaction: pending payments are cancelled; a paid fee is kept, refunded in part or in full
    by the facility's rule (``full_refund`` when the town cancels, e.g. a closure) and what is to
    be refunded is recorded as 返金待ち (the refund itself is ``booking_refund``)."""
    if not connection.in_atomic_block:
        raise RuntimeError("booking_end() needs the caller's transaction")
    fields = ["status", "updated_at", "payment_state", "cancellation_fee", "refund_amount"]
    booking.status = status
    payments_cancel_pending(subject=booking)
    if booking.payment_state == BookingPaymentState.PAID:
        paid = _paid_payment(booking)
        amount = paid.amount if paid is not None else booking.total_fee
        if full_refund:
            fee, refund = 0, amount
        else:
            terms = refund_compute(
                facility=booking.facility,
                paid=amount,
                use_date=booking.use_date,
                on=timezone.localtime(now).date(),
            )
            fee, refund = terms.cancellation_fee, terms.refund_amount
        booking.cancellation_fee, booking.refund_amount = fee, refund
        if refund:
            booking.payment_state = BookingPaymentState.REFUND_PENDING
    if status == BookingStatus.LAPSED:
        booking.lapsed_at = now
        fields.append("lapsed_at")
    else:
        booking.cancelled_at, booking.cancelled_by, booking.cancel_reason = now, actor, reason[:200]
        fields += ["cancelled_at", "cancelled_by", "cancel_reason"]
    booking.save(update_fields=fields)
    return booking


@transaction.atomic(durable=True)
def booking_cancel(
    *,
    booking: FacilityBooking,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> FacilityBooking:
    """Cancel a booking (申請中 or 確定) and free its frame.

    The resident who booked may cancel until the frame starts; staff any time. A paid fee is
    refunded by the facility's rule (free until ``cancel_free_days_before`` days before, then
    ``cancel_fee_percent`` kept): the booking shows the cancellation fee and 返金待ち for the
    rest, which the department head refunds (``booking_refund``). Raises FacilityError. Audited;
    the resident's notice is enqueued on commit.
    """
    now = now or timezone.now()
    if actor is not None:
        require(
            actor,
            "change",
            booking,
            error=FacilityError,
            message=_("この課の施設予約を取り消す権限がありません。"),
        )
    booking = _locked_booking(booking)
    if actor is None and (resident is None or booking.resident_id != resident.pk):
        raise FacilityError(_("この予約は見つかりません。"), code="not_found")
    if not booking.is_active:
        raise FacilityError(_("この予約はすでに取り消されているか、確定していません。"), code="status")
    if actor is None and starts_at_of(booking.use_date, booking.starts_at) <= now:
        raise FacilityError(_("利用開始の時刻を過ぎたため、取り消せません。"), code="past")
    booking_end(
        booking,
        status=BookingStatus.CANCELLED,
        now=now,
        actor=actor,
        reason=jp.normalise_text(reason),
        full_refund=False,
    )
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.cancelled",
        obj=booking,
        data={
            "code": booking.code,
            "reason": booking.cancel_reason,
            "cancellation_fee": booking.cancellation_fee,
            "refund_amount": booking.refund_amount,
        },
        actor_resident=resident if actor is None else None,
    )
    booking_notify_on_commit(booking, "cancelled")
    return booking


@transaction.atomic(durable=True)
def booking_approve(
    *, booking: FacilityBooking, actor: StaffUser, now: dt.datetime | None = None
) -> FacilityBooking:
    """承認: a 申請中 booking becomes 確定; a fee is due ``payment_due_days`` from now (never
    after the day before use). Raises FacilityError. Audited; the resident is told on commit."""
    now = now or timezone.now()
    require(
        actor,
        "approve",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を承認する権限がありません。"),
    )
    booking = _locked_booking(booking)
    if booking.status != BookingStatus.PENDING:
        raise FacilityError(_("%(code)s は申請中ではありません。") % {"code": booking.code}, code="status")
    if starts_at_of(booking.use_date, booking.starts_at) <= now:
        raise FacilityError(_("%(code)s は利用日時を過ぎています。") % {"code": booking.code}, code="past")
    booking.status, booking.decided_at, booking.decided_by = BookingStatus.CONFIRMED, now, actor
    if booking.payment_state == BookingPaymentState.UNPAID:
        booking.payment_due_at = payment_due(
            facility=booking.facility, use_date=booking.use_date, starts_at=booking.starts_at, now=now
        )
    booking.save(update_fields=["status", "decided_at", "decided_by", "payment_due_at", "updated_at"])
    audit_log(
        actor=actor, action="facilities.facilitybooking.approved", obj=booking, data={"code": booking.code}
    )
    booking_notify_on_commit(booking, "approved")
    return booking


@transaction.atomic(durable=True)
def booking_reject(
    *, booking: FacilityBooking, actor: StaffUser, reason: str, now: dt.datetime | None = None
) -> FacilityBooking:
    """却下 with a reason (told to the resident): the frame is free again. Raises FacilityError."""
    now = now or timezone.now()
    require(
        actor,
        "approve",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を承認・却下する権限がありません。"),
    )
    reason = jp.normalise_text(reason)
    if not reason:
        raise FacilityError(_("却下の理由を入力してください。"), code="reason")
    booking = _locked_booking(booking)
    if booking.status != BookingStatus.PENDING:
        raise FacilityError(_("%(code)s は申請中ではありません。") % {"code": booking.code}, code="status")
    booking.status, booking.decided_at, booking.decided_by = BookingStatus.REJECTED, now, actor
    booking.rejection_reason = reason[:200]
    payments_cancel_pending(subject=booking)
    booking.save(update_fields=["status", "decided_at", "decided_by", "rejection_reason", "updated_at"])
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.rejected",
        obj=booking,
        data={"code": booking.code, "reason": booking.rejection_reason},
    )
    booking_notify_on_commit(booking, "rejected")
    return booking


def booking_refund(*, booking: FacilityBooking, actor: StaffUser, reason: str = "") -> FacilityBooking:
    """Refund what a cancelled or lapsed booking is owed (返金待ち → 返金済み) through the core's
    ``payment_refund`` (所属長; the provider is asked first, outside any transaction, with an
    idempotency key). Raises FacilityError."""
    booking = FacilityBooking.objects.select_related("facility").get(pk=booking.pk)
    if booking.payment_state != BookingPaymentState.REFUND_PENDING:
        raise FacilityError(_("%(code)s は返金待ちではありません。") % {"code": booking.code}, code="status")
    payment = _paid_payment(booking)
    if payment is None:
        raise FacilityError(
            _("%(code)s の支払いの記録が見つかりません。") % {"code": booking.code}, code="payment"
        )
    try:
        payment_refund(
            payment=payment,
            actor=actor,
            reason=reason or booking.cancel_reason or str(booking.get_status_display()),
            amount=booking.refund_amount,
        )
    except PaymentError as exc:
        raise FacilityError(exc.message, code=exc.code) from None
    return _refund_recorded(booking=booking, actor=actor)


@transaction.atomic(durable=True)
def _refund_recorded(*, booking: FacilityBooking, actor: StaffUser) -> FacilityBooking:
    booking = _locked_booking(booking)
    if booking.payment_state == BookingPaymentState.REFUND_PENDING:
        booking.payment_state = BookingPaymentState.REFUNDED
        booking.save(update_fields=["payment_state", "updated_at"])
        audit_log(
            actor=actor,
            action="facilities.facilitybooking.refunded",
            obj=booking,
            data={"code": booking.code, "refund_amount": booking.refund_amount},
        )
    return booking


@transaction.atomic(durable=True)
def booking_delete(*, booking: FacilityBooking, actor: StaffUser) -> None:
    """Delete a booking entered by mistake (it frees its frame). A booking with any payment
    record is kept: it is cancelled (取消) instead, so the money stays traceable. Audited.
    Raises FacilityError."""
    require(
        actor,
        "delete",
        booking,
        error=FacilityError,
        message=_("この課の施設予約を削除する権限がありません。"),
    )
    booking = _locked_booking(booking)
    if booking.payments.exists():
        raise FacilityError(
            _("%(code)s には支払の記録があるため削除できません。取消を使ってください。")
            % {"code": booking.code},
            code="has_payments",
        )
    audit_log(
        actor=actor,
        action="facilities.facilitybooking.deleted",
        obj=booking,
        data={"code": booking.code, "use_date": booking.use_date.isoformat(), "group": booking.display_name},
    )
    LotteryApplication.objects.filter(booking=booking).update(booking=None)
    booking.delete()


def bookings_lapse_unpaid(*, now: dt.datetime | None = None) -> int:
    """Beat: every active booking still unpaid after its ``payment_due_at`` lapses (失効), once
    each (a status flip claims it); its frame is free again. A lapsed lottery win marks its
    application 失効 (the frame is then first come, first served). Each booking is its own
    transaction; the resident's notice is enqueued on commit. Returns how many lapsed."""
    now = now or timezone.now()
    due = FacilityBooking.objects.filter(
        status__in=ACTIVE_BOOKING_STATUSES,
        payment_state=BookingPaymentState.UNPAID,
        payment_due_at__lt=now,
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(due[:1000]) if _lapse_one(pk, now))


@transaction.atomic(durable=True)
def _lapse_one(pk: int, now: dt.datetime) -> bool:
    booking = (
        FacilityBooking.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("facility")
        .filter(
            pk=pk,
            status__in=ACTIVE_BOOKING_STATUSES,
            payment_state=BookingPaymentState.UNPAID,
            payment_due_at__lt=now,
        )
        .first()
    )
    if booking is None:
        return False  # paid, cancelled or lapsed meanwhile, or another worker has it
    booking_end(booking, status=BookingStatus.LAPSED, now=now, actor=None, reason="", full_refund=True)
    LotteryApplication.objects.filter(booking=booking, status=LotteryApplicationStatus.WON).update(
        status=LotteryApplicationStatus.LAPSED, updated_at=now
    )
    audit_log(
        actor=None, action="facilities.facilitybooking.lapsed", obj=booking, data={"code": booking.code}
    )
    booking_notify_on_commit(booking, "lapsed")
    return True


def bookings_overlapping(*, facility: Facility, start: dt.date, end: dt.date, room: Room | None = None):
    """Active bookings of ``facility`` (or one room) from ``start`` to ``end`` inclusive."""
    qs = FacilityBooking.objects.filter(
        facility=facility, status__in=ACTIVE_BOOKING_STATUSES, use_date__gte=start, use_date__lte=end
    )
    if room is not None:
        qs = qs.filter(Q(room=room))
    return qs.order_by("use_date", "starts_at", "pk")
