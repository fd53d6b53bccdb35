"""Lottery races on PostgreSQL, real threads and transactions (STYLE R13): one group applying
for several frames at once cannot pass its limit; the beat and a staff member drawing at the same
moment draw once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from facilities.errors import FacilityError
from facilities.models import FacilityBooking, LotteryApplication, LotteryRound, LotteryRoundStatus
from facilities.services import GroupDetails
from facilities.services.lottery import lottery_apply, lottery_frames_mark, lottery_round_open
from facilities.services.lottery_draw import lottery_draw
from municipalities.models import AuditEntry
from tests.conftest import make_staff
from tests.facilities.factories import facility_world
from tests.facilities.test_booking_concurrency import _run_all
from tests.facilities.test_models import make_round
from tests.municipalities.factories import resident_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _open_round(kenko, town, *, limit: int) -> LotteryRound:
    world = facility_world(kenko)
    editor = make_staff("lottery_editor", town, "editor", kenko)
    now = timezone.now()
    round_ = make_round(
        world.facility,
        applications_open_at=now - dt.timedelta(hours=1),
        applications_close_at=now + dt.timedelta(hours=1),
        draw_at=now + dt.timedelta(hours=2),
        payment_due_at=now + dt.timedelta(days=5),
        max_applications_per_group=limit,
    )
    lottery_frames_mark(round=round_, room=world.arena, frames=[world.evening], weekdays=[5, 6], actor=editor)
    lottery_round_open(round=round_, actor=editor)
    return round_


def test_one_group_applying_for_many_frames_at_once_stays_within_its_limit(kenko, town):
    # given: a limit of 2 and a group sending 6 applications at the same moment
    round_ = _open_round(kenko, town, limit=2)
    frames = list(round_.frames.order_by("use_date")[:6])
    resident = resident_in(town)
    group = GroupDetails(group_name="みどりバレー部", representative="山田", purpose="練習")
    # when
    results = _run_all(
        [lambda f=f: lottery_apply(lottery_frame=f, group=group, resident=resident) for f in frames]
    )
    # then
    assert sum(isinstance(r, LotteryApplication) for r in results) == 2, results
    assert {r.code for r in results if isinstance(r, FacilityError)} == {"limit"}
    assert LotteryApplication.objects.filter(round=round_).count() == 2


def test_the_beat_and_staff_drawing_at_once_draw_once(kenko, town):
    # given: applications, and the window closed
    round_ = _open_round(kenko, town, limit=0)
    frame = round_.frames.order_by("use_date").first()
    for i in range(5):
        lottery_apply(
            lottery_frame=frame,
            group=GroupDetails(group_name=f"団体{i}", representative=f"代表{i}", purpose="練習"),
            resident=resident_in(town),
        )
    head = make_staff("lottery_head", town, "head", kenko)
    later = round_.draw_at
    # when: four beats and a staff member
    workers = [lambda: lottery_draw(round=round_, now=later) for _ in range(4)]
    workers.append(lambda: lottery_draw(round=round_, actor=head, now=later))
    results = _run_all(workers)
    # then
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, FacilityError)], results
    round_.refresh_from_db()
    assert round_.status == LotteryRoundStatus.DRAWN
    assert FacilityBooking.objects.filter(room=frame.room, use_date=frame.use_date).count() == 1
    assert LotteryApplication.objects.filter(lottery_frame=frame, status="won").count() == 1
    assert AuditEntry.objects.filter(action="facilities.lotteryround.drawn").count() == 1
