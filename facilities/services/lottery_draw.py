"""抽選: the draw, its verification, and what follows it.

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

import datetime as dt
import hashlib
import json
import logging
import random
import secrets
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    ACTIVE_BOOKING_STATUSES,
    LotteryApplication,
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRound,
    LotteryRoundStatus,
)
from facilities.services.booking import booking_create_for_lottery_win
from facilities.services.lottery_common import (
    _locked_round,
    _require_round,
    _when_label,
)
from municipalities.audit import audit_log
from municipalities.models import StaffUser
from municipalities.tasks_queue import enqueue_on_commit

logger = logging.getLogger(__name__)


__all__ = [
    "DRAW_ALGORITHM",
    "draw_order",
    "lottery_draw",
    "lottery_draw_verify",
    "lottery_frames_release",
    "lottery_rounds_advance",
]


# Named in the draw log, so that a later change of the method cannot be mistaken for this one.
DRAW_ALGORITHM = "python-random-v2:shuffle(sorted(application_ids), Random(f'{seed}:{frame_id}'))"
# A failure of the frame itself (not of one applicant): nobody can win it.
FRAME_LEVEL_ERRORS = frozenset({"taken", "closed", "past", "not_found", "no_rate"})


def draw_order(*, seed: str, frame_id: int, application_ids: Sequence[int]) -> list[int]:
    """The draw of one frame: ``application_ids`` in id order, shuffled by a generator seeded
    with the round's seed and the frame's id. The first id wins; the position is the draw rank.
    Pure: the same seed, frame and applications always give the same order."""
    order = sorted(application_ids)
    random.Random(f"{seed}:{frame_id}").shuffle(order)
    return order


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


def _rounds_move(
    rounds: QuerySet[LotteryRound], *, to: str, expect: str, action: str, now: dt.datetime
) -> int:
    """``_round_move`` for each of ``rounds``, one at a time; how many moved."""
    pks = list(rounds.values_list("pk", flat=True))
    return sum(_round_move(pk, to=to, expect=expect, action=action, now=now) for pk in pks)


def lottery_rounds_advance(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: move rounds on by the clock, each step its own transaction and safe to repeat:
    受付中 rounds past their closing time → 締切; rounds whose ``draw_at`` has come → drawn
    (``lottery_draw``, which does nothing to a drawn round); frames of lapsed wins → released;
    drawn rounds past the payment deadline → 終了. Returns counts per step."""
    now = now or timezone.now()
    closed = _rounds_move(
        LotteryRound.objects.filter(status=LotteryRoundStatus.OPEN, applications_close_at__lte=now),
        to=LotteryRoundStatus.CLOSED,
        expect=LotteryRoundStatus.OPEN,
        action="facilities.lotteryround.closed",
        now=now,
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
    finished = _rounds_move(
        LotteryRound.objects.filter(status=LotteryRoundStatus.DRAWN, payment_due_at__lt=now),
        to=LotteryRoundStatus.FINISHED,
        expect=LotteryRoundStatus.DRAWN,
        action="facilities.lotteryround.finished",
        now=now,
    )
    return {"closed": closed, "drawn": drawn, "released": released, "finished": finished}
