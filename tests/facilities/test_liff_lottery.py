"""Resident pages of the lottery: apply from the week grid, the result, paying a win, and a loser
booking another frame of the room."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from facilities.models import LotteryApplication, LotteryApplicationStatus, LotteryRound
from facilities.services import GroupDetails
from facilities.services.lottery import lottery_apply, lottery_frames_mark, lottery_round_open
from facilities.services.lottery_draw import lottery_draw
from tests.conftest import resident_client
from tests.facilities.test_liff import form_data
from tests.facilities.test_models import make_round

pytestmark = pytest.mark.django_db
SAT, SUN = 5, 6


@pytest.fixture
def lottery(world, kenko_editor) -> LotteryRound:
    """The month after next: 土日の夜間 of アリーナ are 抽選, open for applications now."""
    now = timezone.now()
    world.facility.booking_opens_days_before = 120
    world.facility.save(update_fields=["booking_opens_days_before"])
    round_ = make_round(
        world.facility,
        month=(timezone.localdate() + dt.timedelta(days=62)).replace(day=1),
        applications_open_at=now - dt.timedelta(hours=1),
        applications_close_at=now + dt.timedelta(days=1),
        draw_at=now + dt.timedelta(days=1, hours=1),
        payment_due_at=now + dt.timedelta(days=8),
        max_applications_per_group=2,
    )
    lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT, SUN], actor=kenko_editor
    )
    lottery_round_open(round=round_, actor=kenko_editor)
    round_.refresh_from_db()
    return round_


def apply_url(lottery_frame) -> str:
    return reverse(
        "facilities:lottery_apply",
        args=[lottery_frame.room_id, lottery_frame.use_date.isoformat(), lottery_frame.frame_id],
    )


def test_the_week_grid_offers_the_lottery_frames(world, resident, lottery):
    frame = lottery.frames.order_by("use_date").first()
    page = (
        resident_client(resident)
        .get(reverse("facilities:room_week", args=[world.arena.pk]), {"start": frame.use_date.isoformat()})
        .content.decode()
    )
    assert apply_url(frame) in page and "抽選に申し込めます" in page
    # a first-come booking of it is refused with the reason
    book_page = resident_client(resident).get(
        reverse("facilities:book", args=[world.arena.pk, frame.use_date.isoformat(), world.evening.pk])
    )
    assert "この枠は抽選の対象です" in book_page.content.decode()


def test_a_group_applies_and_sees_when_the_draw_is(world, resident, lottery):
    # given
    frame = lottery.frames.order_by("use_date").first()
    client = resident_client(resident)
    assert "抽選に申し込む" in client.get(apply_url(frame)).content.decode()
    # when
    response = client.post(apply_url(frame), form_data())
    # then
    application = LotteryApplication.objects.get(resident=resident)
    assert (application.headcount, application.group_name) == (12, "みどりバレー部")
    page = client.get(response["Location"]).content.decode()
    assert "抽選に申し込みました" in page and "抽選待ち" in page
    assert "抽選待ち" in client.get(reverse("facilities:my_list")).content.decode()
    # the same group again (any width) is told so
    again = client.post(apply_url(frame), form_data(group_name="みどり バレー部"))
    assert again.status_code == 409 and "すでに申し込んでいます" in again.content.decode()


def test_bad_input_on_the_application_is_told_next_to_the_field(world, resident, lottery):
    frame = lottery.frames.order_by("use_date").first()
    response = resident_client(resident).post(apply_url(frame), form_data(headcount="たくさん"))
    assert response.status_code == 409 and "人数は数字で入力してください" in response.content.decode()
    assert not LotteryApplication.objects.exists()


def test_a_resident_may_withdraw_while_the_window_is_open(world, resident, lottery):
    frame = lottery.frames.order_by("use_date").first()
    application = lottery_apply(
        lottery_frame=frame,
        group=GroupDetails(group_name="A", representative="山田", purpose="練習"),
        resident=resident,
    )
    client = resident_client(resident)
    client.post(reverse("facilities:lottery_withdraw", args=[application.pk]))
    application.refresh_from_db()
    assert application.status == LotteryApplicationStatus.WITHDRAWN


def test_after_the_draw_the_winner_pays_and_the_loser_books_another_frame(
    world, resident, other_resident, lottery
):
    # given: two groups for one frame, drawn
    frame = lottery.frames.order_by("use_date").first()
    for person, name in ((resident, "みどりバレー部"), (other_resident, "さくらバド会")):
        lottery_apply(
            lottery_frame=frame,
            group=GroupDetails(group_name=name, representative="代表", purpose="練習", headcount=8),
            resident=person,
        )
    lottery_draw(round=lottery, now=lottery.draw_at)
    won = LotteryApplication.objects.get(status=LotteryApplicationStatus.WON)
    lost = LotteryApplication.objects.get(status=LotteryApplicationStatus.LOST)
    winner, loser = resident_client(won.resident), resident_client(lost.resident)
    # when / then: the winner's page leads to the booking, which offers the payment
    page = winner.get(reverse("facilities:lottery_detail", args=[won.pk])).content.decode()
    assert "当選しました" in page and won.booking.code in page
    booking_page = winner.get(reverse("facilities:booking_detail", args=[won.booking.code])).content.decode()
    assert 'id="pay-form"' in booking_page
    # the loser is offered free frames of the room and books one
    page = loser.get(reverse("facilities:lottery_detail", args=[lost.pk])).content.decode()
    assert "落選" in page and "空いている枠" in page
    offer = reverse("facilities:book", args=[world.arena.pk, frame.use_date.isoformat(), world.afternoon.pk])
    assert offer in page
    response = loser.post(offer, form_data(group_name="さくらバド会", payment_method="counter"))
    assert response.status_code == 302
    assert lost.resident.facility_bookings.filter(use_date=frame.use_date).count() == 1
    # another town's application is not shown
    assert winner.get(reverse("facilities:lottery_detail", args=[lost.pk])).status_code == 404
