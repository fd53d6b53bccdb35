"""Pushing a lottery's result to a resident (after the draw commits, from a Celery task)."""

from __future__ import annotations

from django.utils import timezone

from facilities.models import LotteryApplication, LotteryApplicationStatus, LotteryRound
from facilities.notifications_lottery import result_messages
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.models import Resident


def lottery_results_notify(*, round_id: int, resident_id: int) -> bool:
    """Push one resident's results of a drawn round (every frame they applied for, wins and
    losses) in one push, once: the retry key is fixed per round and resident, so a retried task
    is answered 409 by LINE; the applications' ``notified_at`` is set after the push. False when
    there is nothing to tell or nobody to tell it to (unfollowed)."""
    round_ = (
        LotteryRound.objects.select_related("facility__department__municipality").filter(pk=round_id).first()
    )
    resident = Resident.objects.filter(pk=resident_id).select_related("municipality").first()
    if round_ is None or resident is None or not resident.is_following:
        return False
    applications = list(
        LotteryApplication.objects.filter(
            round=round_,
            resident=resident,
            status__in=[LotteryApplicationStatus.WON, LotteryApplicationStatus.LOST],
        )
        .select_related(
            "round__facility", "lottery_frame__room", "booking__facility", "booking__room", "resident"
        )
        .order_by("lottery_frame__use_date", "lottery_frame__starts_at", "pk")
    )
    if not applications:
        return False
    messages = result_messages(applications)
    if not messages:
        return False
    department = round_.facility.department
    get_line_client(department.municipality).push(
        resident.line_user_id,
        messages,
        retry_key=retry_key_for("facilities", "lottery", round_.pk, resident.pk),
        department=department,
    )
    LotteryApplication.objects.filter(pk__in=[a.pk for a in applications], notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    return True
