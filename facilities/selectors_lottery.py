"""Reads of the lottery (抽選) for the resident pages and the staff result page."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from facilities.models import (
    Facility,
    LotteryApplication,
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRound,
    LotteryRoundStatus,
    group_key_for,
)
from municipalities import jp
from municipalities.models import Municipality, Resident

__all__ = [
    "lottery_application_for_resident",
    "lottery_applications_for_resident",
    "lottery_frame_get",
    "lottery_frames_for_round",
    "lottery_group_count",
    "lottery_result_rows",
    "lottery_rounds_for_facility",
    "lottery_rounds_open",
    "lottery_window_state",
]

_ACTIVE = ~Q(status=LotteryApplicationStatus.WITHDRAWN)


def lottery_rounds_open(
    *, municipality: Municipality, now: dt.datetime | None = None
) -> QuerySet[LotteryRound]:
    """The town's rounds accepting applications now (受付中, inside their window, facility published)."""
    now = now or timezone.now()
    return (
        LotteryRound.objects.filter(
            facility__department__municipality=municipality,
            facility__is_published=True,
            status=LotteryRoundStatus.OPEN,
            applications_open_at__lte=now,
            applications_close_at__gt=now,
        )
        .select_related("facility")
        .order_by("applications_close_at", "facility__sort_order", "pk")
    )


def lottery_rounds_for_facility(
    *, facility: Facility, now: dt.datetime | None = None
) -> QuerySet[LotteryRound]:
    """A facility's rounds a resident may care about: published (受付中, 締切, 抽選済み), not 終了."""
    return (
        LotteryRound.objects.filter(
            facility=facility,
            status__in=[LotteryRoundStatus.OPEN, LotteryRoundStatus.CLOSED, LotteryRoundStatus.DRAWN],
        )
        .select_related("facility")
        .order_by("month", "pk")
    )


def lottery_window_state(round: LotteryRound, now: dt.datetime | None = None) -> str:  # noqa: A002
    """ "draft" | "not_yet" | "open" | "closed" | "drawn" (drawn also for 終了)."""
    now = now or timezone.now()
    if round.status in (LotteryRoundStatus.DRAWN, LotteryRoundStatus.FINISHED):
        return "drawn"
    if round.status == LotteryRoundStatus.DRAFT:
        return "draft"
    if now < round.applications_open_at:
        return "not_yet"
    if round.status == LotteryRoundStatus.OPEN and now < round.applications_close_at:
        return "open"
    return "closed"


def lottery_frames_for_round(*, round: LotteryRound) -> QuerySet[LotteryFrame]:  # noqa: A002
    """The round's 抽選対象 frames by date, time and room, each with ``applied_count`` (申込数)."""
    return (
        LotteryFrame.objects.filter(round=round, status=LotteryFrameStatus.LOTTERY)
        .select_related("room", "frame")
        .annotate(applied_count=Count("applications", filter=~Q(applications__status="withdrawn")))
        .order_by("use_date", "starts_at", "room__sort_order", "room_id")
    )


def lottery_frame_get(*, municipality: Municipality, pk: int) -> LotteryFrame | None:
    """One lottery frame, looked up through the town (another town's frame is None → 404)."""
    return (
        LotteryFrame.objects.filter(pk=pk, round__facility__department__municipality=municipality)
        .select_related("round__facility__department", "room", "frame")
        .first()
    )


def lottery_group_count(*, round: LotteryRound, group_name: str, representative: str = "") -> int:  # noqa: A002
    """How many frames of ``round`` the group has applied for (as the limit counts them; a blank
    group name is the representative, as ``lottery_apply`` takes it)."""
    name = jp.normalise_text(group_name) or jp.normalise_text(representative)
    if not name:
        return 0
    return LotteryApplication.objects.filter(_ACTIVE, round=round, group_key=group_key_for(name)).count()


def lottery_applications_for_resident(*, resident: Resident) -> QuerySet[LotteryApplication]:
    """A resident's lottery applications, newest first, with the frame, the facility and (won)
    the booking to pay."""
    return (
        LotteryApplication.objects.filter(resident=resident)
        .select_related("round__facility", "lottery_frame__room", "lottery_frame__frame", "booking")
        .order_by("-lottery_frame__use_date", "-pk")
    )


def lottery_application_for_resident(*, resident: Resident, pk: int) -> LotteryApplication | None:
    return lottery_applications_for_resident(resident=resident).filter(pk=pk).first()


def lottery_result_rows(*, round: LotteryRound) -> list[tuple[LotteryFrame, list[LotteryApplication]]]:  # noqa: A002
    """Staff result page: every frame of the round with its applications (draw order once drawn,
    otherwise as they came). Two queries."""
    frames = list(
        LotteryFrame.objects.filter(round=round)
        .select_related("room", "frame")
        .order_by("use_date", "starts_at", "room__sort_order", "room_id")
    )
    by_frame: dict[int, list[LotteryApplication]] = {f.pk: [] for f in frames}
    for application in (
        LotteryApplication.objects.filter(round=round)
        .select_related("booking", "resident")
        .order_by("lottery_frame_id", "draw_rank", "pk")
    ):
        by_frame.setdefault(application.lottery_frame_id, []).append(application)
    return [(f, by_frame[f.pk]) for f in frames]
