"""抽選: marking a month's popular frames, applications, the draw, and what follows it.

The draw is fair and reproducible: each frame's applications are taken in id order and shuffled
by ``random.Random`` seeded with the round's recorded ``seed`` and the frame's id
(``draw_order``); the first in that order wins. The seed comes from ``secrets`` when the draw
runs and is stored on the round with the whole input and output (``draw_log``), so anyone can
run ``draw_order`` again and get the same winners (``lottery_draw_verify``). ``random.Random``
seeded with a ``str`` hashes it with SHA-512 (seed version 2): the order does not depend on
``PYTHONHASHSEED``, the machine or the process.

Winners get a confirmed, unpaid booking due by the round's ``payment_due_at``
(``booking_create_for_lottery_win``); an unpaid win lapses (``bookings_lapse_unpaid``) and its
frame returns to first come, first served (``lottery_frames_release``). Frames nobody applied
for are released at the draw. Residents are told the result by LINE once the draw commits.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
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
from facilities.services.booking import GroupDetails, booking_create_for_lottery_win
from municipalities import jp
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.jp import InputError
from municipalities.models import Resident, StaffUser
from municipalities.permissions import require
from municipalities.tasks_queue import enqueue_on_commit

logger = logging.getLogger(__name__)

__all__ = [
    "DRAW_ALGORITHM",
    "MarkResult",
    "draw_order",
    "lottery_apply",
    "lottery_draw",
    "lottery_draw_verify",
    "lottery_frame_remove",
    "lottery_frames_mark",
    "lottery_frames_release",
    "lottery_round_open",
    "lottery_rounds_advance",
    "lottery_withdraw",
]

# Named in the draw log, so that a later change of the method cannot be mistaken for this one.
DRAW_ALGORITHM = "python-random-v2:shuffle(sorted(application_ids), Random(f'{seed}:{frame_id}'))"
# A failure of the frame itself (not of one applicant): nobody can win it.
FRAME_LEVEL_ERRORS = frozenset({"taken", "closed", "past", "not_found", "no_rate"})


def _day_label(value: dt.date) -> str:
    return f"{value.month}月{value.day}日({WEEKDAY_LABELS[value.weekday()]})"


def _when_label(value: dt.datetime) -> str:
    local = timezone.localtime(value)
    return f"{_day_label(local.date())} {local:%H:%M}"


def _month_label(round_: LotteryRound) -> str:
    return f"{round_.month.year}年{round_.month.month}月"


def _month_days(month: dt.date) -> list[dt.date]:
    last = calendar.monthrange(month.year, month.month)[1]
    return [month.replace(day=d) for d in range(1, last + 1)]


def _locked_round(round_id: int) -> LotteryRound:
    if not connection.in_atomic_block:
        raise RuntimeError("_locked_round() needs the caller's transaction")
    return (
        LotteryRound.objects.select_for_update(of=("self",))
        .select_related("facility__department__municipality")
        .get(pk=round_id)
    )


def draw_order(*, seed: str, frame_id: int, application_ids: Sequence[int]) -> list[int]:
    """The draw of one frame: ``application_ids`` in id order, shuffled by a generator seeded
    with the round's seed and the frame's id. The first id wins; the position is the draw rank.
    Pure: the same seed, frame and applications always give the same order."""
    order = sorted(application_ids)
    random.Random(f"{seed}:{frame_id}").shuffle(order)
    return order


# --- staff: frames, opening -------------------------------------------------------------------


@dataclass
class MarkResult:
    """What ``lottery_frames_mark`` did: frames created, and the frames it left out with why."""

    created: list[LotteryFrame] = field(default_factory=list)
    skipped: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (day, frame name, reason)


def _require_round(actor: StaffUser, round_: LotteryRound, action: str = "change") -> None:
    require(
        actor,
        action,
        round_,
        error=FacilityError,
        message=_("この課の抽選を操作する権限がありません。"),
    )


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


# --- the draw ---------------------------------------------------------------------------------


def _input_digest(entries: list[dict]) -> str:
    """SHA-256 of the draw's input (frames and their application ids), as recorded in the log."""
    payload = json.dumps(
        [[e["frame"], e["applications"]] for e in entries], separators=(",", ":"), sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@transaction.atomic(durable=True)
def lottery_draw(
    *,
    round: LotteryRound,  # noqa: A002
    actor: StaffUser | None = None,
    now: dt.datetime | None = None,
    seed: str | None = None,
) -> LotteryRound:
    """抽選実行: draw every frame of the round, once.

    Runs after the application window has closed (the beat at ``draw_at``, or staff with the
    draw permission once the window is closed). Locks the round row; a round already drawn is
    returned unchanged (idempotent; staff are told it was drawn). A fresh ``seed`` (``secrets``)
    is recorded before anything is drawn; ``seed`` may be given only to replay a draw in tests.
    Per frame (date, time, room order): ``draw_order`` ranks the applications, the first that
    can be booked wins (a booking 確定・未払い due by ``payment_due_at``), the others lose; a
    frame without applications is released to first come, first served. Writes ``draw_log``
    (input, digest, order, winners) and an audit row; each resident's result notice is enqueued
    on commit (one push per resident).
    """
    now = now or timezone.now()
    round_ = _locked_round(round.pk)
    if actor is not None:
        _require_round(actor, round_, "draw")
    if round_.status in (LotteryRoundStatus.DRAWN, LotteryRoundStatus.FINISHED):
        if actor is not None:
            raise FacilityError(
                _("この抽選は %(when)s に実施済みです。") % {"when": _when_label(round_.drawn_at or now)},
                code="drawn",
            )
        return round_
    if round_.status == LotteryRoundStatus.DRAFT:
        raise FacilityError(_("公開されていない抽選は実行できません。"), code="status")
    if now < round_.applications_close_at:
        raise FacilityError(
            _("抽選は申込締切（%(when)s）の後に実行できます。")
            % {"when": _when_label(round_.applications_close_at)},
            code="window",
        )
    if round_.payment_due_at <= now:
        # Winners could not pay in time (the draw is late: workers were down, or staff waited).
        raise FacilityError(
            _("当選者の支払期限（%(when)s）を過ぎています。支払期限を延ばしてから抽選してください。")
            % {"when": _when_label(round_.payment_due_at)},
            code="due",
        )
    round_.seed = seed or secrets.token_hex(16)
    frames = list(
        round_.frames.select_related("room", "frame").order_by("use_date", "starts_at", "room_id", "pk")
    )
    applications: dict[int, list[LotteryApplication]] = {}
    for application in (
        LotteryApplication.objects.filter(round=round_, status=LotteryApplicationStatus.APPLIED)
        .select_for_update()
        .order_by("pk")
    ):
        applications.setdefault(application.lottery_frame_id, []).append(application)
    entries: list[dict] = []
    residents: set[int] = set()
    winners = 0
    for lottery_frame in frames:
        if lottery_frame.status != LotteryFrameStatus.LOTTERY:
            continue
        entrants = applications.get(lottery_frame.pk, [])
        by_id = {a.pk: a for a in entrants}
        order = draw_order(seed=round_.seed, frame_id=lottery_frame.pk, application_ids=list(by_id))
        entry: dict = {
            "frame": lottery_frame.pk,
            "room": lottery_frame.room.name,
            "use_date": lottery_frame.use_date.isoformat(),
            "starts_at": f"{lottery_frame.starts_at:%H:%M}",
            "applications": sorted(by_id),
            "order": order,
            "winner": None,
        }
        winner_id = None
        for application_id in order:
            application = by_id[application_id]
            try:
                with transaction.atomic():
                    booking = booking_create_for_lottery_win(application=application, now=now)
            except FacilityError as exc:
                entry.setdefault("refused", []).append([application_id, exc.code, exc.message])
                if exc.code in FRAME_LEVEL_ERRORS:
                    break
                continue
            winner_id = application_id
            entry["winner"], entry["booking"] = application_id, booking.code
            break
        for rank, application_id in enumerate(order, start=1):
            application = by_id[application_id]
            application.draw_rank = rank
            application.status = (
                LotteryApplicationStatus.WON if application_id == winner_id else LotteryApplicationStatus.LOST
            )
            application.save(update_fields=["draw_rank", "status", "updated_at"])
            if application.resident_id:
                residents.add(application.resident_id)
        lottery_frame.status = LotteryFrameStatus.DRAWN if winner_id else LotteryFrameStatus.RELEASED
        lottery_frame.save(update_fields=["status", "updated_at"])
        winners += winner_id is not None
        entries.append(entry)
    round_.status = LotteryRoundStatus.DRAWN
    round_.drawn_at, round_.drawn_by = now, actor
    round_.draw_log = {
        "algorithm": DRAW_ALGORITHM,
        "seed": round_.seed,
        "input_sha256": _input_digest(entries),
        "drawn_at": now.isoformat(),
        "frames": entries,
    }
    round_.save(update_fields=["status", "seed", "drawn_at", "drawn_by", "draw_log", "updated_at"])
    audit_log(
        actor=actor,
        action="facilities.lotteryround.drawn",
        obj=round_,
        data={
            "seed": round_.seed,
            "input_sha256": round_.draw_log["input_sha256"],
            "frames": len(entries),
            "applications": sum(len(e["applications"]) for e in entries),
            "winners": winners,
        },
    )
    for resident_id in sorted(residents):
        enqueue_on_commit("facilities.tasks.lottery_results_notify_task", round_.pk, resident_id)
    return round_


def lottery_draw_verify(*, round: LotteryRound) -> bool:  # noqa: A002
    """Whether the recorded draw is what ``draw_order`` gives for the recorded seed and input
    (and the input is what the digest says): the check anyone can run after the fact."""
    log = round.draw_log or {}
    entries = log.get("frames", [])
    if not round.seed or log.get("seed") != round.seed or log.get("input_sha256") != _input_digest(entries):
        return False
    return all(
        draw_order(seed=round.seed, frame_id=e["frame"], application_ids=e["applications"]) == e["order"]
        for e in entries
    )


# --- after the draw: lapsed wins, finishing --------------------------------------------------


def lottery_frames_release(*, now: dt.datetime | None = None) -> int:
    """Frames given away by a draw whose win no longer holds them (lapsed unpaid, or the booking
    cancelled) return to first come, first served (先着順に戻した), once each. Returns how many."""
    now = now or timezone.now()
    holding = LotteryApplication.objects.filter(
        lottery_frame=OuterRef("pk"),
        status=LotteryApplicationStatus.WON,
        booking__status__in=ACTIVE_BOOKING_STATUSES,
    )
    ids = list(
        LotteryFrame.objects.filter(status=LotteryFrameStatus.DRAWN)
        .exclude(Exists(holding))
        .values_list("pk", flat=True)[:1000]
    )
    return sum(1 for pk in ids if _release_one(pk, now))


@transaction.atomic(durable=True)
def _release_one(pk: int, now: dt.datetime) -> bool:
    lottery_frame = (
        LotteryFrame.objects.select_for_update(skip_locked=True)
        .filter(pk=pk, status=LotteryFrameStatus.DRAWN)
        .first()
    )
    if lottery_frame is None:
        return False
    still_held = LotteryApplication.objects.filter(
        lottery_frame=lottery_frame,
        status=LotteryApplicationStatus.WON,
        booking__status__in=ACTIVE_BOOKING_STATUSES,
    ).exists()
    if still_held:
        return False
    lottery_frame.status = LotteryFrameStatus.RELEASED
    lottery_frame.save(update_fields=["status", "updated_at"])
    audit_log(
        actor=None,
        action="facilities.lotteryframe.released",
        obj=lottery_frame,
        data={
            "use_date": lottery_frame.use_date.isoformat(),
            "starts_at": f"{lottery_frame.starts_at:%H:%M}",
        },
    )
    return True


@transaction.atomic(durable=True)
def _round_move(pk: int, *, to: str, expect: str, action: str, now: dt.datetime) -> bool:
    """Move one round from ``expect`` to ``to`` by the clock, once (the conditional UPDATE
    claims it), with its audit row."""
    if not LotteryRound.objects.filter(pk=pk, status=expect).update(status=to, updated_at=now):
        return False
    round_ = LotteryRound.objects.select_related("facility__department").get(pk=pk)
    audit_log(actor=None, action=action, obj=round_, data={"status": to})
    return True


def lottery_rounds_advance(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: move rounds on by the clock, each step its own transaction and safe to repeat:
    受付中 rounds past their closing time → 締切; rounds whose ``draw_at`` has come → drawn
    (``lottery_draw``, which does nothing to a drawn round); frames of lapsed wins → released;
    drawn rounds past the payment deadline → 終了. Returns counts per step."""
    now = now or timezone.now()
    closing = LotteryRound.objects.filter(status=LotteryRoundStatus.OPEN, applications_close_at__lte=now)
    closed = sum(
        _round_move(
            pk,
            to=LotteryRoundStatus.CLOSED,
            expect=LotteryRoundStatus.OPEN,
            action="facilities.lotteryround.closed",
            now=now,
        )
        for pk in list(closing.values_list("pk", flat=True))
    )
    drawn = 0
    for pk in list(
        LotteryRound.objects.filter(
            status__in=[LotteryRoundStatus.OPEN, LotteryRoundStatus.CLOSED], draw_at__lte=now
        ).values_list("pk", flat=True)
    ):
        try:
            lottery_draw(round=LotteryRound(pk=pk), now=now)
        except FacilityError:  # e.g. a deadline staff must move first; logged, tried again
            logger.exception("facilities: lottery round %s could not be drawn", pk)
            continue
        drawn += 1
    released = lottery_frames_release(now=now)
    ending = LotteryRound.objects.filter(status=LotteryRoundStatus.DRAWN, payment_due_at__lt=now)
    finished = sum(
        _round_move(
            pk,
            to=LotteryRoundStatus.FINISHED,
            expect=LotteryRoundStatus.DRAWN,
            action="facilities.lotteryround.finished",
            now=now,
        )
        for pk in list(ending.values_list("pk", flat=True))
    )
    return {"closed": closed, "drawn": drawn, "released": released, "finished": finished}
