"""Browser tests of 施設予約: a resident books and pays a court; a lottery is applied for, drawn,
the winner pays and the loser books another frame."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from facilities.models import (
    BookingPaymentState,
    BookingStatus,
    FacilityBooking,
    LotteryApplication,
    LotteryApplicationStatus,
)
from facilities.services import GroupDetails
from facilities.services.lottery import lottery_apply, lottery_frames_mark, lottery_round_open
from facilities.services.lottery_draw import lottery_draw
from municipalities.line.liff import resident_token
from tests.e2e.conftest import TrackedContext
from tests.facilities.factories import facility_world, next_weekday
from tests.facilities.test_models import make_round

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, resident, path: str) -> None:
    """Open ``path`` as LINE would: the resident's one-time link."""
    token = resident_token(resident, path)
    page.goto(live_server.url + reverse("line:resident_link", kwargs={"token": token}))


def tap(page, selector: str) -> None:
    page.locator(selector).first.tap()
    page.wait_for_load_state("domcontentloaded")


def fill_details(page, *, group: str, headcount: str = "１２") -> None:
    page.fill("#id_group_name", group)
    page.fill("#id_representative", "山田 太郎")
    page.fill("#id_headcount", headcount)
    page.fill("#id_purpose", "バレーボールの練習")


def pay_in_sandbox(page) -> None:
    page.wait_for_selector("button[name=outcome][value=paid]")
    tap(page, "button[name=outcome][value=paid]")
    page.wait_for_selector("#booking")


def test_resident_books_and_pays_a_court(mobile_page, live_server, kenko, resident):
    # given: a gym with two rooms; a free afternoon in the first or second week
    world = facility_world(kenko, name="町民体育館")
    day = next_weekday(2)
    page = mobile_page
    sign_in(page, live_server, resident, "/liff/facilities/")
    page.wait_for_selector(f"[data-facility='{world.facility.pk}']")
    # when: facility → court → week grid → the frame
    tap(page, f"[data-facility='{world.facility.pk}']")
    tap(page, f"[data-room='{world.arena.pk}']")
    page.wait_for_selector("#week")
    if day >= timezone.localdate() + dt.timedelta(days=7):
        tap(page, "#next-week")
    cell = f"a[data-day='{day.isoformat()}'][data-frame='{world.afternoon.pk}']"
    assert page.locator(cell).inner_text().strip() == "○"
    tap(page, cell)
    page.wait_for_selector("#book-form")
    fill_details(page, group="みどりバレー部")
    # the fee follows the choices: 3,000円, then 冷暖房 +500円
    assert "3,000円" in page.inner_text("[data-total]")
    page.locator(f"input[name=extras][value='{world.aircon.pk}']").check()
    page.wait_for_selector("#fee[data-total-value='3500']")
    assert "3,500円" in page.inner_text("[data-total]")
    page.locator("input[name=payment_method][value=sandbox]").check()
    tap(page, "#book")
    # then: the checkout, paid, and the done page with the code
    pay_in_sandbox(page)
    booking = FacilityBooking.objects.get(resident=resident)
    assert (booking.status, booking.payment_state, booking.total_fee, booking.headcount) == (
        BookingStatus.CONFIRMED,
        BookingPaymentState.PAID,
        3500,
        12,
    )
    text = page.inner_text("main")
    assert booking.code in text and "お支払いが完了しました" in text and "支払済み" in text
    # and 「施設の予約確認」 lists it as paid
    page.goto(live_server.url + reverse("facilities:my_list"))
    assert "支払済み" in page.inner_text(f"[data-booking='{booking.code}']")


def test_lottery_apply_draw_winner_pays_loser_books_another_frame(
    browser, live_server, kenko, kenko_editor, resident, other_resident
):
    # given: Saturday and Sunday evenings of the month after next are 抽選, open now
    world = facility_world(kenko, name="町民体育館", booking_opens_days_before=120)
    now = timezone.now()
    round_ = make_round(
        world.facility,
        month=(timezone.localdate() + dt.timedelta(days=62)).replace(day=1),
        applications_open_at=now - dt.timedelta(hours=1),
        applications_close_at=now + dt.timedelta(days=1),
        draw_at=now + dt.timedelta(days=1, hours=1),
        payment_due_at=now + dt.timedelta(days=8),
    )
    lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[5, 6], actor=kenko_editor
    )
    lottery_round_open(round=round_, actor=kenko_editor)
    frame = round_.frames.order_by("use_date").first()
    contexts = [
        TrackedContext(
            browser, locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 390, "height": 844}
        )
        for _ in range(2)
    ]
    try:
        pages = {
            r.pk: c.context.new_page() for r, c in zip((resident, other_resident), contexts, strict=True)
        }
        # when: a group applies from the week grid
        page = pages[resident.pk]
        sign_in(
            page, live_server, resident, f"/liff/facilities/room/{world.arena.pk}/?start={frame.use_date}"
        )
        cell = f"a[data-day='{frame.use_date.isoformat()}'][data-frame='{world.evening.pk}']"
        assert page.locator(cell).inner_text().strip() == "抽選"
        page.locator(cell).click()
        page.wait_for_selector("#lottery-form")
        fill_details(page, group="みどりバレー部")
        page.locator("#apply").click()
        page.wait_for_selector("#application[data-status='applied']")
        assert "抽選に申し込みました" in page.inner_text("main")
        # another group applies too, and the draw runs after the close
        lottery_apply(
            lottery_frame=frame,
            group=GroupDetails(
                group_name="さくらバド会", representative="佐藤 一郎", purpose="練習", headcount=8
            ),
            resident=other_resident,
        )
        lottery_draw(round=round_, now=round_.draw_at)
        won = LotteryApplication.objects.get(status=LotteryApplicationStatus.WON)
        lost = LotteryApplication.objects.get(status=LotteryApplicationStatus.LOST)
        # then: the winner opens the result and pays online
        winner = pages[won.resident_id]
        sign_in(winner, live_server, won.resident, f"/liff/facilities/lottery/{won.pk}/")
        winner.wait_for_selector("#application[data-status='won']")
        winner.locator("#to-booking").click()
        winner.wait_for_selector("#pay-form")
        winner.locator("#pay-form input[name=payment_method][value=sandbox]").check()
        winner.locator("#pay").click()
        winner.wait_for_selector("button[name=outcome][value=paid]")
        winner.locator("button[name=outcome][value=paid]").click()
        winner.wait_for_selector("#booking[data-payment='paid']")
        won.booking.refresh_from_db()
        assert won.booking.payment_state == BookingPaymentState.PAID
        # and the loser is offered the room's free frames and books one at the counter
        loser = pages[lost.resident_id]
        sign_in(loser, live_server, lost.resident, f"/liff/facilities/lottery/{lost.pk}/")
        loser.wait_for_selector("#application[data-status='lost']")
        offer = loser.locator("[data-offer-day]").first
        offer_day, offer_frame = (
            offer.get_attribute("data-offer-day"),
            offer.get_attribute("data-offer-frame"),
        )
        offer.click()
        loser.wait_for_selector("#book-form")
        fill_details(loser, group=lost.group_name, headcount="8")
        loser.locator("input[name=payment_method][value=counter]").check()
        loser.locator("#book").click()
        loser.wait_for_selector("#booking")
        booking = FacilityBooking.objects.get(resident=lost.resident)
        assert (booking.use_date.isoformat(), booking.frame_id) == (offer_day, int(offer_frame))
        assert booking.code in loser.inner_text("#booking-code")
        assert booking.status == BookingStatus.CONFIRMED
    finally:
        for c in contexts:
            c.close_when_answered()
