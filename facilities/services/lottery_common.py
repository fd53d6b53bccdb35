"""What the lottery services share: labels for dates and times, the round locked for a write,
and the permission check on a round."""

from __future__ import annotations

import calendar
import datetime as dt

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from facilities.errors import FacilityError
from facilities.models import (
    WEEKDAY_LABELS,
    LotteryRound,
)
from municipalities.models import StaffUser
from municipalities.permissions import require


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


def _require_round(actor: StaffUser, round_: LotteryRound, action: str = "change") -> None:
    require(
        actor,
        action,
        round_,
        error=FacilityError,
        message=_("この課の抽選を操作する権限がありません。"),
    )
