"""The lottery (抽選): marking frames, applying, the draw, its notices, lapse and the beat."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from facilities.errors import FacilityError
from facilities.models import (
    BookingOrigin,
    BookingPaymentState,
    BookingStatus,
    FacilityBooking,
    LotteryApplication,
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryFrameStatus,
    LotteryRound,
    LotteryRoundStatus,
)
from facilities.selectors_lottery import (
    lottery_frames_for_round,
    lottery_group_count,
    lottery_rounds_open,
    lottery_window_state,
)
from facilities.services import GroupDetails, bookings_lapse_unpaid
from facilities.services.lottery import (
    lottery_apply,
    lottery_frame_remove,
    lottery_frames_mark,
    lottery_round_open,
    lottery_withdraw,
)
from facilities.services.lottery_draw import (
    draw_order,
    lottery_draw,
    lottery_draw_verify,
    lottery_rounds_advance,
)
from municipalities.models import AuditEntry, Resident, SimulatedDelivery
from municipalities.services import resident_follow
from tests.facilities.factories import booking_row
from tests.facilities.helpers import book
from tests.facilities.test_models import make_round

SAT, SUN = 5, 6


def group(name: str, **fields) -> GroupDetails:
    return GroupDetails(
        group_name=name,
        representative=fields.pop("representative", "山田 太郎"),
        purpose=fields.pop("purpose", "バレーボールの練習"),
        headcount=fields.pop("headcount", 10),
        **fields,
    )


def residents(town, n: int) -> list[Resident]:
    return [
        resident_follow(municipality=town, line_user_id=f"U{i:032x}", display_name=f"住民{i}")[0]
        for i in range(100, 100 + n)
    ]


@pytest.fixture
def lottery(world, kenko_editor):
    """A round for the month after next, open for applications now: 土日の夜間 of アリーナ."""
    now = timezone.now()
    world.facility.booking_opens_days_before = 120  # losers may book the month's free frames
    world.facility.save(update_fields=["booking_opens_days_before"])
    month = (timezone.localdate() + dt.timedelta(days=62)).replace(day=1)
    round_ = make_round(
        world.facility,
        month=month,
        applications_open_at=now - dt.timedelta(hours=1),
        applications_close_at=now + dt.timedelta(days=1),
        draw_at=now + dt.timedelta(days=1, hours=1),
        payment_due_at=now + dt.timedelta(days=8),
        max_applications_per_group=2,
    )
    result = lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT, SUN], actor=kenko_editor
    )
    lottery_round_open(round=round_, actor=kenko_editor)
    round_.refresh_from_db()
    round_.result = result
    return round_


def after_close(round_: LotteryRound) -> dt.datetime:
    return round_.draw_at


# --- marking frames -----------------------------------------------------------------------------


def test_staff_mark_every_weekend_evening_of_the_month_in_bulk(world, kenko_editor, lottery):
    # then: one frame per Saturday and Sunday of the month, all 夜間 of アリーナ
    month = lottery.month
    weekend = [
        month + dt.timedelta(days=i)
        for i in range(31)
        if (month + dt.timedelta(days=i)).month == month.month
        and (month + dt.timedelta(days=i)).weekday() >= 5
    ]
    frames = LotteryFrame.objects.filter(round=lottery).order_by("use_date")
    assert [f.use_date for f in frames] == weekend
    assert {(f.room_id, f.starts_at, f.status) for f in frames} == {
        (world.arena.pk, world.evening.starts_at, LotteryFrameStatus.LOTTERY)
    }
    assert AuditEntry.objects.filter(action="facilities.lotteryround.frames_marked").exists()


def test_marking_again_skips_frames_already_lottery_or_booked(world, kenko_editor):
    # given: a draft round and a booking on the first Saturday's evening
    round_ = make_round(world.facility)
    saturday = next(d for d in (round_.month + dt.timedelta(days=i) for i in range(7)) if d.weekday() == SAT)
    booking_row(world.arena, world.evening, saturday)
    # when
    first = lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
    )
    again = lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
    )
    # then
    assert (saturday, "夜間", "予約が入っています") in first.skipped
    assert saturday not in [f.use_date for f in first.created]
    assert again.created == []
    assert {reason for _d, _f, reason in again.skipped} == {"すでに抽選対象です", "予約が入っています"}


def test_a_viewer_cannot_mark_frames(world, kenko_viewer):
    round_ = make_round(world.facility)
    with pytest.raises(FacilityError) as exc:
        lottery_frames_mark(
            round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_viewer
        )
    assert exc.value.code == "permission_denied"


def test_a_shared_room_is_not_drawn(world, kenko_editor):
    round_ = make_round(world.facility)
    with pytest.raises(FacilityError) as exc:
        lottery_frames_mark(
            round=round_, room=world.training, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
        )
    assert exc.value.code == "shared_room"


def test_a_frame_without_applications_can_be_taken_out(world, kenko_editor, lottery):
    frame = lottery.frames.first()
    lottery_frame_remove(lottery_frame=frame, actor=kenko_editor)
    assert not LotteryFrame.objects.filter(pk=frame.pk).exists()


def test_a_first_come_booking_of_a_lottery_frame_is_refused(world, resident, lottery):
    frame = lottery.frames.first()
    with pytest.raises(FacilityError) as exc:
        book(world.arena, world.evening, frame.use_date, resident)
    assert exc.value.code == "lottery"


# --- applying -----------------------------------------------------------------------------------


def test_a_resident_applies_in_the_window(world, resident, lottery):
    frame = lottery.frames.first()
    application = lottery_apply(lottery_frame=frame, group=group("みどりバレー部"), resident=resident)
    assert application.status == LotteryApplicationStatus.APPLIED
    assert application.group_key == "みどりバレー部"
    assert AuditEntry.objects.filter(
        action="facilities.lotteryapplication.applied", object_id=str(application.pk)
    ).exists()
    assert [f.applied_count for f in lottery_frames_for_round(round=lottery)][0] == 1
    assert lottery_group_count(round=lottery, group_name="みどりバレー部") == 1
    assert list(lottery_rounds_open(municipality=resident.municipality)) == [lottery]


def test_one_application_per_group_and_frame_whatever_the_width(world, resident, other_resident, lottery):
    frame = lottery.frames.first()
    lottery_apply(lottery_frame=frame, group=group("ABCバレー部"), resident=resident)
    with pytest.raises(FacilityError) as exc:
        lottery_apply(lottery_frame=frame, group=group("ＡＢＣ バレー部"), resident=other_resident)
    assert exc.value.message == "この団体はこの枠にすでに申し込んでいます。"
    assert exc.value.code == "duplicate"


def test_the_monthly_limit_per_group(world, resident, lottery):
    frames = list(lottery.frames.all()[:3])
    for frame in frames[:2]:
        lottery_apply(lottery_frame=frame, group=group("みどりバレー部"), resident=resident)
    with pytest.raises(FacilityError) as exc:
        lottery_apply(lottery_frame=frames[2], group=group("みどりバレー部"), resident=resident)
    month = f"{lottery.month.year}年{lottery.month.month}月"
    assert exc.value.message == f"この団体は{month}分の抽選にすでに 2 件申し込んでいます（1団体 2 件まで）。"
    assert exc.value.code == "limit"
    # a withdrawn application no longer counts
    first = LotteryApplication.objects.filter(lottery_frame=frames[0]).get()
    lottery_withdraw(application=first, resident=resident)
    assert lottery_apply(lottery_frame=frames[2], group=group("みどりバレー部"), resident=resident).pk


def test_before_the_window_opens_is_refused_in_japanese(world, resident, lottery):
    early = lottery.applications_open_at - dt.timedelta(minutes=1)
    with pytest.raises(FacilityError) as exc:
        lottery_apply(lottery_frame=lottery.frames.first(), group=group("A"), resident=resident, now=early)
    assert exc.value.code == "window"
    assert exc.value.message.startswith("この抽選の申込は ")
    assert exc.value.message.endswith("から受け付けます。")
    assert lottery_window_state(lottery, early) == "not_yet"


def test_after_the_window_closes_is_refused_in_japanese(world, resident, lottery):
    late = lottery.applications_close_at
    with pytest.raises(FacilityError) as exc:
        lottery_apply(lottery_frame=lottery.frames.first(), group=group("A"), resident=resident, now=late)
    assert exc.value.code == "window"
    assert exc.value.message.startswith("この抽選の申込は締め切りました（")
    assert not LotteryApplication.objects.exists()


def test_a_draft_round_takes_no_application(world, kenko_editor, resident):
    round_ = make_round(world.facility)
    lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
    )
    with pytest.raises(FacilityError) as exc:
        lottery_apply(lottery_frame=round_.frames.first(), group=group("A"), resident=resident)
    assert exc.value.message == "この抽選は現在、申込を受け付けていません。"
    assert lottery_window_state(round_) == "draft"


def test_too_many_people_for_the_room(world, resident, lottery):
    with pytest.raises(FacilityError) as exc:
        lottery_apply(
            lottery_frame=lottery.frames.first(), group=group("A", headcount=500), resident=resident
        )
    assert exc.value.code == "headcount"


def test_a_resident_of_another_town_cannot_apply(world, other_town, lottery):
    stranger, _ = resident_follow(municipality=other_town, line_user_id="U" + "c" * 32, display_name="X")
    with pytest.raises(FacilityError) as exc:
        lottery_apply(lottery_frame=lottery.frames.first(), group=group("A"), resident=stranger)
    assert exc.value.code == "not_found"


def test_staff_enter_an_application_for_a_caller(world, kenko_editor, lottery):
    application = lottery_apply(
        lottery_frame=lottery.frames.first(), group=group("", representative="鈴木 一郎"), actor=kenko_editor
    )
    assert (application.group_name, application.resident, application.entered_by) == (
        "鈴木 一郎",
        None,
        kenko_editor,
    )


# --- the draw -----------------------------------------------------------------------------------


def apply_many(
    lottery: LotteryRound, people: list[Resident], frame: LotteryFrame
) -> list[LotteryApplication]:
    return [lottery_apply(lottery_frame=frame, group=group(f"チーム{p.pk}"), resident=p) for p in people]


def test_the_draw_gives_each_frame_to_one_applicant_and_books_it_unpaid(world, town, lottery):
    # given: 4 groups for the first frame, none for the others
    frame = lottery.frames.order_by("use_date").first()
    applications = apply_many(lottery, residents(town, 4), frame)
    # when
    lottery_draw(round=lottery, now=after_close(lottery))
    # then
    lottery.refresh_from_db()
    assert lottery.status == LotteryRoundStatus.DRAWN and len(lottery.seed) == 32
    won = LotteryApplication.objects.get(lottery_frame=frame, status=LotteryApplicationStatus.WON)
    assert won.draw_rank == 1
    assert sorted(a.draw_rank for a in LotteryApplication.objects.filter(lottery_frame=frame)) == [1, 2, 3, 4]
    assert LotteryApplication.objects.filter(lottery_frame=frame, status="lost").count() == 3
    booking = won.booking
    assert (booking.status, booking.origin, booking.payment_state) == (
        BookingStatus.CONFIRMED,
        BookingOrigin.LOTTERY,
        BookingPaymentState.UNPAID,
    )
    assert booking.payment_due_at == lottery.payment_due_at
    assert (booking.room, booking.use_date, booking.starts_at) == (
        world.arena,
        frame.use_date,
        frame.starts_at,
    )
    frame.refresh_from_db()
    assert frame.status == LotteryFrameStatus.DRAWN
    # frames nobody applied for are first come, first served again
    assert set(lottery.frames.exclude(pk=frame.pk).values_list("status", flat=True)) == {"released"}
    entry = lottery.draw_log["frames"][0]
    assert entry["applications"] == sorted(a.pk for a in applications)
    assert (
        entry["winner"]
        == won.pk
        == draw_order(seed=lottery.seed, frame_id=frame.pk, application_ids=entry["applications"])[0]
    )
    assert lottery_draw_verify(round=lottery)
    audit = AuditEntry.objects.get(action="facilities.lotteryround.drawn", object_id=str(lottery.pk))
    assert audit.data["seed"] == lottery.seed and audit.data["winners"] == 1


def _undo_draw(round_: LotteryRound) -> None:
    """Put the round back as it was before the draw (to run the same draw again)."""
    bookings = list(
        LotteryApplication.objects.filter(round=round_)
        .exclude(booking=None)
        .values_list("booking", flat=True)
    )
    LotteryApplication.objects.filter(round=round_).update(status="applied", draw_rank=None, booking=None)
    FacilityBooking.objects.filter(pk__in=bookings).delete()
    LotteryFrame.objects.filter(round=round_).update(status="lottery")
    LotteryRound.objects.filter(pk=round_.pk).update(status="closed", seed="", draw_log={}, drawn_at=None)


def test_the_same_seed_and_applications_give_the_same_winners(world, town, lottery):
    # given: 6 groups on each of two frames
    frames = list(lottery.frames.order_by("use_date")[:2])
    people = residents(town, 6)
    for frame in frames:
        apply_many(lottery, people, frame)

    def winners() -> dict[int, list[int]]:
        return {
            f.pk: list(
                LotteryApplication.objects.filter(lottery_frame=f)
                .order_by("draw_rank")
                .values_list("pk", flat=True)
            )
            for f in frames
        }

    # when: drawn with a seed, undone, drawn again with the same seed
    lottery_draw(round=lottery, now=after_close(lottery), seed="town-hall-2027-02")
    first = winners()
    _undo_draw(lottery)
    lottery_draw(
        round=LotteryRound.objects.get(pk=lottery.pk), now=after_close(lottery), seed="town-hall-2027-02"
    )
    # then
    assert winners() == first
    # and another seed gives another order (the order is the seed's, not the ids')
    _undo_draw(lottery)
    lottery_draw(round=LotteryRound.objects.get(pk=lottery.pk), now=after_close(lottery), seed="another-seed")
    assert winners() != first


def test_the_draw_runs_once(world, town, kenko_editor, lottery, django_capture_on_commit_callbacks):
    frame = lottery.frames.first()
    apply_many(lottery, residents(town, 3), frame)
    with django_capture_on_commit_callbacks(execute=True):
        lottery_draw(round=lottery, now=after_close(lottery))
    lottery.refresh_from_db()
    state = (
        lottery.seed,
        lottery.draw_log,
        list(LotteryApplication.objects.order_by("pk").values_list("status", "draw_rank", "booking")),
        FacilityBooking.objects.count(),
        AuditEntry.objects.count(),
        SimulatedDelivery.objects.count(),
    )
    # when: the beat comes again, and a staff member presses 抽選実行
    with django_capture_on_commit_callbacks(execute=True):
        lottery_draw(round=lottery, now=after_close(lottery) + dt.timedelta(minutes=1))
        with pytest.raises(FacilityError) as exc:
            lottery_draw(round=lottery, actor=kenko_editor, now=after_close(lottery))
    # then: nothing changed
    lottery.refresh_from_db()
    assert exc.value.code == "drawn"
    assert (
        lottery.seed,
        lottery.draw_log,
        list(LotteryApplication.objects.order_by("pk").values_list("status", "draw_rank", "booking")),
        FacilityBooking.objects.count(),
        AuditEntry.objects.count(),
        SimulatedDelivery.objects.count(),
    ) == state


def test_staff_cannot_draw_before_the_close(world, kenko_editor, lottery):
    with pytest.raises(FacilityError) as exc:
        lottery_draw(round=lottery, actor=kenko_editor)
    assert exc.value.code == "window"
    lottery.refresh_from_db()
    assert lottery.status == LotteryRoundStatus.OPEN and lottery.seed == ""


def test_winners_and_losers_are_told_on_commit(
    world, resident, other_resident, lottery, django_capture_on_commit_callbacks
):
    # given
    frame = lottery.frames.order_by("use_date").first()
    lottery_apply(lottery_frame=frame, group=group("みどりバレー部"), resident=resident)
    lottery_apply(lottery_frame=frame, group=group("あおばクラブ"), resident=other_resident)
    # when: nothing is pushed before the commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lottery_draw(round=lottery, now=after_close(lottery))
    assert SimulatedDelivery.objects.count() == 0
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    # then
    won = LotteryApplication.objects.get(lottery_frame=frame, status="won")
    winner, loser = (resident, other_resident) if won.resident == resident else (other_resident, resident)
    win_push = str(SimulatedDelivery.objects.get(line_user_id=winner.line_user_id).messages)
    assert "施設の抽選に当選しました" in win_push
    assert "お支払い期限" in win_push and won.booking.code in win_push
    assert "お支払いへ" in win_push and "/liff/facilities/booking/" in win_push
    loss_push = str(SimulatedDelivery.objects.get(line_user_id=loser.line_user_id).messages)
    assert "落選" in loss_push
    assert "まだ空いている枠（先着順で予約できます）" in loss_push
    assert "空き枠を見る" in loss_push and f"/liff/facilities/room/{world.arena.pk}/" in loss_push
    assert set(LotteryApplication.objects.values_list("notified_at", flat=True)) != {None}


def test_an_unpaid_win_lapses_and_the_frame_returns_to_first_come(world, town, resident, lottery):
    # given: a won frame not paid by the deadline
    frame = lottery.frames.first()
    apply_many(lottery, residents(town, 2), frame)
    lottery_draw(round=lottery, now=after_close(lottery))
    won = LotteryApplication.objects.get(lottery_frame=frame, status="won")
    late = lottery.payment_due_at + dt.timedelta(minutes=1)
    # when
    assert bookings_lapse_unpaid(now=late) == 1
    counts = lottery_rounds_advance(now=late)
    # then
    won.refresh_from_db()
    frame.refresh_from_db()
    assert won.status == LotteryApplicationStatus.LAPSED
    assert won.booking.status == BookingStatus.LAPSED
    assert frame.status == LotteryFrameStatus.RELEASED
    assert counts["released"] == 1 and counts["finished"] == 1
    assert lottery_rounds_advance(now=late)["released"] == 0  # once
    # anyone may now book it, first come, first served
    booking = book(world.arena, world.evening, frame.use_date, resident, now=late)
    assert booking.status == BookingStatus.CONFIRMED


def test_a_paid_win_keeps_its_frame(world, town, lottery):
    frame = lottery.frames.first()
    (application,) = apply_many(lottery, residents(town, 1), frame)
    lottery_draw(round=lottery, now=after_close(lottery))
    FacilityBooking.objects.filter(lottery_application=application).update(payment_state="paid")
    late = lottery.payment_due_at + dt.timedelta(minutes=1)
    assert bookings_lapse_unpaid(now=late) == 0
    lottery_rounds_advance(now=late)
    frame.refresh_from_db()
    assert frame.status == LotteryFrameStatus.DRAWN


def test_the_beat_closes_then_draws_at_the_draw_time(world, town, lottery):
    frame = lottery.frames.first()
    apply_many(lottery, residents(town, 2), frame)
    closing = lottery.applications_close_at + dt.timedelta(seconds=1)
    assert lottery_rounds_advance(now=closing)["closed"] == 1
    lottery.refresh_from_db()
    assert lottery.status == LotteryRoundStatus.CLOSED
    assert lottery_window_state(lottery, closing) == "closed"
    assert lottery_rounds_advance(now=lottery.draw_at)["drawn"] == 1
    lottery.refresh_from_db()
    assert lottery.status == LotteryRoundStatus.DRAWN and lottery.drawn_by is None
    assert lottery_rounds_advance(now=lottery.draw_at)["drawn"] == 0
    assert (
        AuditEntry.objects.filter(action="facilities.lotteryround.closed", object_id=str(lottery.pk)).count()
        == 1
    )
    late = lottery.payment_due_at + dt.timedelta(seconds=1)
    assert lottery_rounds_advance(now=late)["finished"] == 1
    assert lottery_rounds_advance(now=late)["finished"] == 0
    lottery.refresh_from_db()
    assert lottery.status == LotteryRoundStatus.FINISHED


def test_the_beat_task_runs_every_minute(world, lottery):
    from config.celery import app
    from facilities.tasks import lottery_rounds_advance_task

    (entry,) = [
        v
        for v in app.conf.beat_schedule.values()
        if v["task"] == "facilities.tasks.lottery_rounds_advance_task"
    ]
    assert entry["schedule"].minute == set(range(60))
    assert lottery_rounds_advance_task.delay().get()["drawn"] == 0


def test_a_resident_sees_their_applications_and_the_booking_to_pay(world, resident, lottery):
    from facilities.selectors_lottery import (
        lottery_application_for_resident,
        lottery_applications_for_resident,
    )

    application = lottery_apply(lottery_frame=lottery.frames.first(), group=group("A"), resident=resident)
    lottery_draw(round=lottery, now=after_close(lottery))
    (mine,) = lottery_applications_for_resident(resident=resident)
    assert mine.status == "won" and mine.booking.payment_state == BookingPaymentState.UNPAID
    assert lottery_application_for_resident(resident=resident, pk=application.pk) == application
    assert lottery_window_state(LotteryRound.objects.get(pk=lottery.pk)) == "drawn"


def test_opening_needs_frames_and_a_deadline_before_use(world, kenko_editor):
    round_ = make_round(world.facility)
    with pytest.raises(FacilityError) as exc:
        lottery_round_open(round=round_, actor=kenko_editor)
    assert exc.value.code == "frames"
    late = make_round(
        world.facility,
        month=round_.month + dt.timedelta(days=40),
        payment_due_at=timezone.now() + dt.timedelta(days=200),
    )
    late.month = late.month.replace(day=1)
    LotteryRound.objects.filter(pk=late.pk).update(month=late.month)
    lottery_frames_mark(
        round=late, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
    )
    with pytest.raises(FacilityError) as exc:
        lottery_round_open(round=late, actor=kenko_editor)
    assert exc.value.code == "due"


def test_a_result_is_pushed_once_even_if_the_task_runs_twice(world, resident, lottery):
    from facilities.tasks import lottery_results_notify_task

    frame = lottery.frames.first()
    lottery_apply(lottery_frame=frame, group=group("みどりバレー部"), resident=resident)
    lottery_draw(round=lottery, now=after_close(lottery))
    lottery_results_notify_task.delay(lottery.pk, resident.pk)
    lottery_results_notify_task.delay(lottery.pk, resident.pk)
    assert SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).count() == 1


def test_a_frame_closed_after_the_marking_has_no_winner(world, town, kenko_editor, lottery):
    # given: a closure planned on the first frame's day after groups applied
    from facilities.models import Closure

    frame = lottery.frames.order_by("use_date").first()
    apply_many(lottery, residents(town, 2), frame)
    Closure.objects.create(
        facility=world.facility, starts_on=frame.use_date, ends_on=frame.use_date, reason="床の改修"
    )
    # when
    lottery_draw(round=lottery, now=after_close(lottery))
    # then: nobody wins it, everyone is told they lost, and the log says why
    assert set(LotteryApplication.objects.filter(lottery_frame=frame).values_list("status", flat=True)) == {
        "lost"
    }
    assert not FacilityBooking.objects.exists()
    lottery.refresh_from_db()
    refused = lottery.draw_log["frames"][0]["refused"]
    assert refused[0][1] == "closed"


def test_a_draw_past_the_payment_deadline_is_refused(world, town, kenko_editor, lottery):
    apply_many(lottery, residents(town, 2), lottery.frames.first())
    with pytest.raises(FacilityError) as exc:
        lottery_draw(round=lottery, actor=kenko_editor, now=lottery.payment_due_at)
    assert exc.value.code == "due"
    lottery.refresh_from_db()
    assert lottery.status == LotteryRoundStatus.OPEN and not FacilityBooking.objects.exists()
