"""抽選: marking a month's popular frames, opening a round, and residents' applications.

The draw, its verification and what follows it (lapsed wins, finishing rounds) are in
``facilities.services.lottery_draw``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.calendar import _holiday_name, closed_reason
from facilities.errors import FacilityError
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    WEEKDAY_LABELS,
    FacilityBooking,
    LotteryApplication,
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRound,
    LotteryRoundStatus,
    Rate,
    Room,
    TimeFrame,
    group_key_for,
)
from facilities.services.booking_common import GroupDetails
from facilities.services.lottery_common import (
    _day_label,
    _locked_round,
    _month_days,
    _month_label,
    _require_round,
    _when_label,
)
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.jp import InputError
from municipalities.models import Resident, StaffUser
from municipalities.permissions import require

__all__ = [
    "MarkResult",
    "lottery_apply",
    "lottery_frame_remove",
    "lottery_frames_mark",
    "lottery_round_open",
    "lottery_withdraw",
]


# --- staff: frames, opening -------------------------------------------------------------------


@dataclass
class MarkResult:
    """What ``lottery_frames_mark`` did: frames created, and the frames it left out with why."""

    created: list[LotteryFrame] = field(default_factory=list)
    skipped: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (day, frame name, reason)


@transaction.atomic(durable=True)
def lottery_frames_mark(
    *,
    round: LotteryRound,  # noqa: A002 - the model's own name for it
    room: Room,
    frames: Sequence[TimeFrame],
    weekdays: Sequence[int],
    holidays: bool = False,
    actor: StaffUser,
) -> MarkResult:
    """Mark frames of the round's month as 抽選, in bulk: every ``weekdays`` day (0=月 … 6=日,
    plus public holidays with ``holidays``) of the month, for ``frames`` of ``room`` (例: all
    土日の夜間 of 2027年2月 for アリーナ). Days the facility is closed, frames already booked or
    already 抽選, and frames without a fee are left out and listed (``MarkResult.skipped``).
    Only before the application window closes. Audited. Raises FacilityError."""
    round_ = _locked_round(round.pk)
    _require_round(actor, round_)
    if round_.status not in (LotteryRoundStatus.DRAFT, LotteryRoundStatus.OPEN):
        raise FacilityError(_("抽選の申込を締め切った後は、枠を追加できません。"), code="status")
    if room.facility_id != round_.facility_id or any(f.facility_id != round_.facility_id for f in frames):
        raise FacilityError(_("この部屋・時間枠はこの抽選の施設のものではありません。"), code="not_found")
    if not room.is_exclusive:
        # One winner per frame: a shared room (人数で分け合う部屋) is first come, first served.
        raise FacilityError(_("抽選の対象にできるのは専用で使う部屋・コートだけです。"), code="shared_room")
    if not frames:
        raise FacilityError(_("時間枠を選んでください。"), code="frames")
    if not weekdays and not holidays:
        raise FacilityError(_("曜日を選んでください。"), code="weekdays")
    rates = set(Rate.objects.filter(room=room, frame__in=frames).values_list("frame_id", flat=True))
    days = [
        d for d in _month_days(round_.month) if d.weekday() in weekdays or (holidays and _holiday_name(d))
    ]
    existing = set(
        LotteryFrame.objects.filter(room=room, use_date__in=days).values_list("use_date", "starts_at")
    )
    booked = set(
        FacilityBooking.objects.filter(
            room=room, use_date__in=days, status__in=ACTIVE_BOOKING_STATUSES
        ).values_list("use_date", "starts_at")
    )
    result = MarkResult()
    for day in days:
        closed = closed_reason(room=room, day=day)
        for frame in sorted(frames, key=lambda f: f.starts_at):
            key = (day, frame.starts_at)
            reason = (
                closed
                or (_("すでに抽選対象です") if key in existing else "")
                or (_("予約が入っています") if key in booked else "")
                or (_("使用料が設定されていません") if frame.pk not in rates else "")
                or (_("受付していない時間枠です") if not frame.is_active else "")
            )
            if reason:
                result.skipped.append((day, frame.name, reason))
                continue
            lottery_frame = LotteryFrame(
                round=round_,
                room=room,
                frame=frame,
                use_date=day,
                starts_at=frame.starts_at,
                ends_at=frame.ends_at,
            )
            full_clean_or(lottery_frame, error=FacilityError, validate_constraints=False)
            result.created.append(lottery_frame)
    LotteryFrame.objects.bulk_create(result.created)
    audit_log(
        actor=actor,
        action="facilities.lotteryround.frames_marked",
        obj=round_,
        data={
            "room": room.name,
            "frames": [f.name for f in frames],
            "weekdays": [WEEKDAY_LABELS[w] for w in sorted(weekdays)],
            "holidays": holidays,
            "created": len(result.created),
            "skipped": len(result.skipped),
        },
    )
    return result


@transaction.atomic(durable=True)
def lottery_frame_remove(*, lottery_frame: LotteryFrame, actor: StaffUser) -> LotteryRound:
    """Take a frame out of the lottery (it becomes first come, first served) before anyone
    applied for it and before the draw. Audited. Raises FacilityError."""
    round_ = _locked_round(lottery_frame.round_id)
    _require_round(actor, round_)
    lottery_frame = LotteryFrame.objects.select_related("room").get(pk=lottery_frame.pk)
    if round_.status not in (LotteryRoundStatus.DRAFT, LotteryRoundStatus.OPEN):
        raise FacilityError(_("抽選の申込を締め切った後は、枠を外せません。"), code="status")
    if lottery_frame.applications.exclude(status=LotteryApplicationStatus.WITHDRAWN).exists():
        raise FacilityError(_("申込のある枠は抽選対象から外せません。"), code="applied")
    audit_log(
        actor=actor,
        action="facilities.lotteryround.frame_removed",
        obj=round_,
        data={
            "room": lottery_frame.room.name,
            "use_date": lottery_frame.use_date.isoformat(),
            "starts_at": f"{lottery_frame.starts_at:%H:%M}",
        },
    )
    lottery_frame.delete()
    return round_


@transaction.atomic(durable=True)
def lottery_round_open(
    *,
    round: LotteryRound,  # noqa: A002
    actor: StaffUser,
    now: dt.datetime | None = None,
) -> LotteryRound:
    """公開: a 準備中 round with frames becomes 受付中; residents apply between its opening and
    closing times. The payment deadline must come before the first frame is used. Audited."""
    now = now or timezone.now()
    round_ = _locked_round(round.pk)
    _require_round(actor, round_)
    if round_.status != LotteryRoundStatus.DRAFT:
        raise FacilityError(_("この抽選は準備中ではありません。"), code="status")
    if round_.applications_close_at <= now:
        raise FacilityError(_("申込締切が過ぎています。日時を直してから公開してください。"), code="window")
    first = round_.frames.order_by("use_date", "starts_at").first()
    if first is None:
        raise FacilityError(_("抽選の対象にする枠がありません。先に枠を指定してください。"), code="frames")
    first_use = timezone.make_aware(dt.datetime.combine(first.use_date, first.starts_at))
    if round_.payment_due_at >= first_use:
        raise FacilityError(
            _("当選者の支払期限は、最初の抽選枠（%(day)s）より前にしてください。")
            % {"day": _day_label(first.use_date)},
            code="due",
        )
    round_.status = LotteryRoundStatus.OPEN
    round_.save(update_fields=["status", "updated_at"])
    audit_log(actor=actor, action="facilities.lotteryround.opened", obj=round_, data={"month": str(round_)})
    return round_


# --- residents: applying --------------------------------------------------------------------


def _check_window(round_: LotteryRound, now: dt.datetime) -> None:
    if round_.status != LotteryRoundStatus.OPEN or not round_.facility.is_published:
        raise FacilityError(_("この抽選は現在、申込を受け付けていません。"), code="window")
    if now < round_.applications_open_at:
        raise FacilityError(
            _("この抽選の申込は %(when)s から受け付けます。")
            % {"when": _when_label(round_.applications_open_at)},
            code="window",
        )
    if now >= round_.applications_close_at:
        raise FacilityError(
            _("この抽選の申込は締め切りました（%(when)s まで）。")
            % {"when": _when_label(round_.applications_close_at)},
            code="window",
        )


def _normalised(group: GroupDetails) -> GroupDetails:
    try:
        phone = jp.normalise_phone(group.phone) if group.phone.strip() else ""
    except InputError as exc:
        raise FacilityError(exc.message, code="phone") from None
    representative = jp.normalise_text(group.representative)
    return GroupDetails(
        representative=representative,
        purpose=jp.normalise_text(group.purpose),
        headcount=group.headcount,
        # 個人: the representative is the group, so the one-per-frame rule still counts them once.
        group_name=jp.normalise_text(group.group_name) or representative,
        phone=phone,
        is_resident_rate=group.is_resident_rate,
    )


@transaction.atomic(durable=True)
def lottery_apply(
    *,
    lottery_frame: LotteryFrame,
    group: GroupDetails,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> LotteryApplication:
    """Apply for one lottery frame: by a resident (``actor`` None) or by staff at the counter.

    Checks the window (the round 受付中, between its opening and closing times), the frame (抽選対象,
    the day open, the group fits the room), one application per group and frame (the group as
    ``group_key_for`` counts it; also the partial UNIQUE), and the round's limit per group
    (``max_applications_per_group``). Locks the round row, so two applications of one group
    cannot both pass the limit. Raises FacilityError with a Japanese message. Audited.
    """
    now = now or timezone.now()
    round_ = _locked_round(lottery_frame.round_id)
    lottery_frame = LotteryFrame.objects.select_related("room", "frame").get(pk=lottery_frame.pk)
    town_id = round_.facility.department.municipality_id
    if actor is not None:
        require(
            actor,
            "change",
            round_,
            error=FacilityError,
            message=_("この課の抽選に申込を入力する権限がありません。"),
        )
    elif resident is None:
        raise FacilityError(_("申し込む人を指定してください。"), code="person")
    if resident is not None and resident.municipality_id != town_id:
        raise FacilityError(_("この抽選は見つかりません。"), code="not_found")
    _check_window(round_, now)
    if lottery_frame.status != LotteryFrameStatus.LOTTERY:
        raise FacilityError(_("この枠は抽選の対象ではありません。"), code="not_lottery")
    room = lottery_frame.room
    closed = closed_reason(room=room, day=lottery_frame.use_date)
    if closed:
        raise FacilityError(_("この日は利用できません（%(reason)s）。") % {"reason": closed}, code="closed")
    group = _normalised(group)
    if not group.representative:
        raise FacilityError(_("代表者のお名前を入力してください。"), code="representative")
    if not group.purpose:
        raise FacilityError(_("利用目的を入力してください。"), code="purpose")
    if group.headcount < 1:
        raise FacilityError(_("人数は1人以上で入力してください。"), code="headcount")
    if group.headcount > room.capacity:
        raise FacilityError(
            _("%(room)s の定員は %(n)s 人です。") % {"room": room.name, "n": room.capacity}, code="headcount"
        )
    group_key = group_key_for(group.group_name)
    active = LotteryApplication.objects.filter(round=round_, group_key=group_key).exclude(
        status=LotteryApplicationStatus.WITHDRAWN
    )
    if active.filter(lottery_frame=lottery_frame).exists():
        raise FacilityError(_("この団体はこの枠にすでに申し込んでいます。"), code="duplicate")
    limit = round_.max_applications_per_group
    if limit:
        held = active.count()
        if held >= limit:
            raise FacilityError(
                _("この団体は%(month)s分の抽選にすでに %(n)s 件申し込んでいます（1団体 %(limit)s 件まで）。")
                % {"month": _month_label(round_), "n": held, "limit": limit},
                code="limit",
            )
    application = LotteryApplication(
        round=round_,
        lottery_frame=lottery_frame,
        resident=resident,
        group_name=group.group_name,
        group_key=group_key,
        representative=group.representative,
        phone=group.phone,
        headcount=group.headcount,
        purpose=group.purpose,
        is_resident_rate=group.is_resident_rate,
        entered_by=actor,
    )
    full_clean_or(application, error=FacilityError, validate_constraints=False)
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError:
        raise FacilityError(_("この団体はこの枠にすでに申し込んでいます。"), code="duplicate") from None
    audit_log(
        actor=actor,
        action="facilities.lotteryapplication.applied",
        obj=application,
        data={
            "round": round_.pk,
            "room": room.name,
            "use_date": lottery_frame.use_date.isoformat(),
            "starts_at": f"{lottery_frame.starts_at:%H:%M}",
            "group": application.group_name,
        },
        actor_resident=resident if actor is None else None,
    )
    return application


@transaction.atomic(durable=True)
def lottery_withdraw(
    *,
    application: LotteryApplication,
    resident: Resident | None = None,
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
) -> LotteryApplication:
    """取下げ: the applicant (or staff) withdraws an application while the window is open; the
    group may apply for another frame instead. Audited. Raises FacilityError."""
    now = now or timezone.now()
    round_ = _locked_round(application.round_id)
    application = LotteryApplication.objects.select_for_update().get(pk=application.pk)
    if actor is not None:
        _require_round(actor, round_)
    elif resident is None or application.resident_id != resident.pk:
        raise FacilityError(_("この申込は見つかりません。"), code="not_found")
    if application.status != LotteryApplicationStatus.APPLIED:
        raise FacilityError(_("この申込は取り下げられません。"), code="status")
    _check_window(round_, now)
    application.status = LotteryApplicationStatus.WITHDRAWN
    application.save(update_fields=["status", "updated_at"])
    audit_log(
        actor=actor,
        action="facilities.lotteryapplication.withdrawn",
        obj=application,
        data={"round": round_.pk},
        actor_resident=resident if actor is None else None,
    )
    return application
