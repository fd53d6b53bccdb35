"""What must hold before a booking is written (``booking_insert``): the group's details as typed,
the booking window and open days, a free frame, the group's monthly limit, the household member."""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.calendar import closed_reason
from facilities.errors import FacilityError
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    Facility,
    FacilityBooking,
    Room,
    TimeFrame,
)
from facilities.services.booking_common import (
    TAKEN_MESSAGE,
    GroupDetails,
    starts_at_of,
)
from municipalities import jp
from municipalities.models import HouseholdMember, Resident


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
