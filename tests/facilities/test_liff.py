"""Resident pages of 施設予約: facility → room → week grid → details → pay → done, and the
Japanese messages for every input that cannot be booked."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from facilities.models import BookingPaymentState, BookingStatus, Closure, FacilityBooking
from facilities.services import booking_approve
from tests.conftest import resident_client
from tests.facilities.factories import booking_row, days_ahead, facility_world, next_weekday
from tests.facilities.helpers import book, pay_online
from tests.municipalities.factories import resident_in

pytestmark = pytest.mark.django_db


def form_data(**overrides) -> dict:
    data = {
        "group_name": "みどりバレー部",
        "representative": "山田 太郎",
        "representative_kana": "やまだ たろう",
        "phone": "０９０－１２３４－５６７８",
        "headcount": "１２",
        "purpose": "バレーボールの練習",
        "rate": "resident",
        "discount": "",
        "discount_reason": "",
        "payment_method": "counter",
    }
    data.update(overrides)
    return data


def book_url(room, day, frame) -> str:
    return reverse("facilities:book", args=[room.pk, day.isoformat(), frame.pk])


def test_pages_need_a_signed_in_resident(world):
    assert Client().get(reverse("facilities:list")).status_code == 403
    assert Client().get(reverse("facilities:room_week", args=[world.arena.pk])).status_code == 403


def test_list_shows_the_towns_published_facilities_only(world, resident, other_department):
    # given: a draft facility and another town's one
    hidden = facility_world(world.facility.department, name="準備中の公民館", is_published=False)
    foreign = facility_world(other_department, name="よその町の体育館")
    client = resident_client(resident)
    # when
    page = client.get(reverse("facilities:list")).content.decode()
    # then
    assert world.facility.name in page and hidden.facility.name not in page
    assert foreign.facility.name not in page
    assert client.get(reverse("facilities:room_week", args=[foreign.arena.pk])).status_code == 404
    assert client.get(reverse("facilities:facility", args=[hidden.facility.pk])).status_code == 404


def test_week_grid_marks_free_booked_closed_and_stays_in_the_window(world, resident):
    # given: Mondays closed, one frame booked, the window 14 days
    facility = world.facility
    facility.open_weekdays = "123456"
    facility.booking_opens_days_before = 14
    facility.save()
    tuesday = next_weekday(1)
    monday = next_weekday(0)
    booking_row(world.arena, world.morning, tuesday)
    client = resident_client(resident)
    url = reverse("facilities:room_week", args=[world.arena.pk])
    # when
    page = client.get(url, {"start": min(monday, tuesday).isoformat()}).content.decode()
    # then
    cell = 'data-day="{}" data-frame="{}" data-state="{}"'
    assert cell.format(tuesday, world.morning.pk, "booked") in page
    assert cell.format(tuesday, world.afternoon.pk, "free") in page
    assert cell.format(monday, world.morning.pk, "closed") in page
    assert book_url(world.arena, tuesday, world.afternoon) in page
    assert book_url(world.arena, tuesday, world.morning) not in page
    # the window: no week before today, none after the last bookable day
    first = client.get(url).content.decode()
    assert 'id="prev-week"' not in first and 'id="next-week"' in first
    far = client.get(url, {"start": days_ahead(400).isoformat()}).content.decode()
    assert 'id="next-week"' not in far and 'id="prev-week"' in far


def test_a_shared_room_shows_the_places_left(world, resident):
    day = next_weekday(2)
    booking_row(world.training, world.morning, day, headcount=7, group_name="ヨガの会")
    page = resident_client(resident).get(
        reverse("facilities:room_week", args=[world.training.pk]), {"start": day.isoformat()}
    )
    assert "残3" in page.content.decode()


def test_booking_with_counter_payment_shows_the_code_and_the_counter(world, resident):
    # given
    day = next_weekday(2)
    client = resident_client(resident)
    page = client.get(book_url(world.arena, day, world.afternoon)).content.decode()
    assert "3,000円" in page and "この内容で予約する" in page
    # when: full-width digits and a hiragana furigana
    response = client.post(book_url(world.arena, day, world.afternoon), form_data())
    # then
    booking = FacilityBooking.objects.get(resident=resident)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/booking/{booking.code}/?after=booked")
    assert (booking.headcount, booking.phone, booking.representative_kana) == (
        12,
        "09012345678",
        "ヤマダ タロウ",
    )
    assert (booking.status, booking.payment_state, booking.payment_method) == (
        "confirmed",
        "unpaid",
        "counter",
    )
    done = client.get(response["Location"]).content.decode()
    assert booking.code in done and "窓口でお支払いください" in done and "お支払い期限" in done


def test_online_payment_goes_to_the_checkout_and_back(world, resident):
    # given
    day = next_weekday(3)
    client = resident_client(resident)
    # when: 冷暖房 and the sandbox gateway
    response = client.post(
        book_url(world.arena, day, world.evening),
        form_data(extras=[str(world.aircon.pk)], payment_method="sandbox"),
    )
    booking = FacilityBooking.objects.get(resident=resident)
    # then: straight to the core's checkout for 4,000 + 500
    assert booking.total_fee == 4500
    payment = booking.payments.get()
    assert response["Location"] == reverse("payments:checkout", kwargs={"pk": payment.pk})
    sandbox = client.get(response["Location"])
    paid = client.post(sandbox["Location"], {"outcome": "paid"}, follow=True)
    booking.refresh_from_db()
    assert booking.payment_state == BookingPaymentState.PAID
    page = paid.content.decode()
    assert "お支払いが完了しました" in page and booking.code in page and "支払済み" in page


def test_fee_follows_the_choices(world, resident):
    client = resident_client(resident)
    url = reverse("facilities:fee", args=[world.arena.pk, world.morning.pk])
    # 町外 4,000, 高齢者団体減免 50% → 2,000, 冷暖房 +500
    fee = client.get(
        url, {"rate": "non_resident", "discount": world.elderly.pk, "extras": [world.aircon.pk]}
    ).json()
    assert fee["total"] == 2500
    assert [line["amount"] for line in fee["lines"]] == [4000, -2000, 500]
    # a 減免 only staff may give is not offered here
    assert client.get(url, {"discount": world.disabled.pk}).json()["total"] == 2000


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"representative": "　"}, "representative", "代表者のお名前を入力してください。"),
        ({"headcount": "十二"}, "headcount", "人数は数字で入力してください"),
        ({"headcount": "０"}, "headcount", "人数は1人以上"),
        ({"headcount": "101"}, "headcount", "アリーナA の定員は 100 人です。"),
        ({"phone": "12345"}, "phone", "電話番号は 0 から始まる"),
        ({"representative_kana": "yamada"}, "representative_kana", "フリガナはカタカナ"),
        ({"purpose": ""}, "purpose", "利用目的を入力してください"),
        ({"payment_method": ""}, "payment_method", "お支払い方法を選んでください。"),
    ],
)
def test_bad_input_is_told_next_to_the_field_and_kept(world, resident, overrides, field, message):
    day = next_weekday(2)
    response = resident_client(resident).post(
        book_url(world.arena, day, world.morning), form_data(**overrides)
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert f'id="{field}-error"' in page and message in page
    assert "みどりバレー部" in page  # what was typed is kept
    assert not FacilityBooking.objects.exists()


def test_a_discount_needs_its_reason(world, resident):
    day = next_weekday(2)
    client = resident_client(resident)
    url = book_url(world.arena, day, world.morning)
    response = client.post(url, form_data(discount=str(world.elderly.pk)))
    assert response.status_code == 409 and "減免を受ける理由を入力してください。" in response.content.decode()
    client.post(url, form_data(discount=str(world.elderly.pk), discount_reason="会員の多くが７０歳以上"))
    booking = FacilityBooking.objects.get()
    assert (booking.discount_name, booking.total_fee, booking.discount_reason) == (
        "高齢者団体減免",
        1000,
        "会員の多くが70歳以上",
    )


def test_a_frame_taken_meanwhile_is_a_clear_message(world, resident, other_resident):
    # given: the page is open, someone else books the frame
    day = next_weekday(4)
    client = resident_client(resident)
    url = book_url(world.arena, day, world.morning)
    assert client.get(url).status_code == 200
    book(world.arena, world.morning, day, other_resident)
    # when
    response = client.post(url, form_data())
    # then
    page = response.content.decode()
    assert response.status_code == 409
    assert 'data-error="taken"' in page and "この枠はすでに予約されています" in page
    assert "ほかの枠を選ぶ" in page
    # and opening it again says so before anything is typed
    again = client.get(url).content.decode()
    assert "すでに予約されています" in again and 'id="book-form"' not in again


def test_outside_the_window_and_closed_days_are_explained(world, resident):
    facility = world.facility
    facility.booking_opens_days_before = 30
    facility.save()
    client = resident_client(resident)
    far = days_ahead(45)
    page = client.get(book_url(world.arena, far, world.morning)).content.decode()
    opens = far - dt.timedelta(days=30)
    assert f"この日の予約受付は {opens.month}月{opens.day}日 からです。" in page
    response = client.post(book_url(world.arena, far, world.morning), form_data())
    assert response.status_code == 409 and "予約受付は" in response.content.decode()
    # a closure
    day = next_weekday(2)
    Closure.objects.create(facility=facility, starts_on=day, ends_on=day, reason="床の改修工事")
    page = client.get(book_url(world.arena, day, world.morning)).content.decode()
    assert "この日は利用できません（臨時休館（床の改修工事））。" in page


def test_the_monthly_limit_is_explained(world, resident):
    facility = world.facility
    facility.monthly_limit_per_group = 1
    facility.save()
    day = next_weekday(2, after=3)
    client = resident_client(resident)
    client.post(book_url(world.arena, day, world.morning), form_data())
    # 「ミドリバレー部」 (katakana) is another group; the same name in any width and spacing is not
    response = client.post(book_url(world.arena, day, world.evening), form_data(group_name="ミドリバレー部"))
    assert response.status_code == 302
    response = client.post(
        book_url(world.arena, day, world.afternoon), form_data(group_name="みどり バレー部")
    )
    assert response.status_code == 409
    assert "1か月 1 件まで" in response.content.decode()


def test_approval_facility_shows_pending_and_pays_after_approval(world, resident, kenko_head):
    # given
    facility = world.facility
    facility.requires_approval = True
    facility.save()
    day = next_weekday(5)
    client = resident_client(resident)
    assert "この内容で申請する" in client.get(book_url(world.arena, day, world.morning)).content.decode()
    # when
    response = client.post(book_url(world.arena, day, world.morning), form_data(payment_method="sandbox"))
    # then: 申請中, nothing to pay yet
    booking = FacilityBooking.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert booking.status == BookingStatus.PENDING
    assert "利用の申請を受け付けました" in page and "申請中" in page and 'id="pay-form"' not in page
    assert client.post(reverse("facilities:booking_pay", args=[booking.code]), {"payment_method": "sandbox"})
    assert "承認されてからお支払いください" in client.get(response["Location"]).content.decode()
    # and after approval the page offers the payment
    booking_approve(booking=booking, actor=kenko_head)
    page = client.get(reverse("facilities:booking_detail", args=[booking.code])).content.decode()
    assert 'id="pay-form"' in page
    pay = client.post(reverse("facilities:booking_pay", args=[booking.code]), {"payment_method": "sandbox"})
    assert pay["Location"].startswith("/payments/")


def test_cancel_shows_the_refund_before_confirming(world, resident):
    # given: paid 2,000, cancelled 3 days before, the rule keeps 50% after 7 days before
    facility = world.facility
    facility.cancel_fee_percent = 50
    facility.save()
    day = next_weekday(timezone.localdate().weekday(), after=3)
    booking = book(world.arena, world.morning, day, resident)
    pay_online(booking, resident)
    client = resident_client(resident)
    url = reverse("facilities:booking_cancel", args=[booking.code])
    days_before = (day - timezone.localdate()).days
    # when
    page = client.get(url).content.decode()
    # then
    if days_before >= 7:
        assert "全額（2,000円）を返金します。" in page
    else:
        assert "取消手数料 1,000円 を差し引き、1,000円 を返金します。" in page
    response = client.post(url)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.payment_state == BookingPaymentState.REFUND_PENDING
    assert "予約を取り消しました" in client.get(response["Location"]).content.decode()


def test_cancel_of_an_unpaid_booking_costs_nothing(world, resident):
    booking = book(world.arena, world.morning, next_weekday(2), resident, payment_method="counter")
    client = resident_client(resident)
    url = reverse("facilities:booking_cancel", args=[booking.code])
    assert "お支払い前のため、料金はかかりません。" in client.get(url).content.decode()
    client.post(url)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    # a second cancel (double tap) is a message, not an error page
    again = client.post(url)
    assert again.status_code == 409 and "すでに取り消されて" in again.content.decode()


def test_my_list_shows_bookings_with_their_payment_state(world, resident, other_resident):
    paid = book(world.arena, world.morning, next_weekday(2), resident)
    pay_online(paid, resident)
    unpaid = book(world.arena, world.evening, next_weekday(3), resident, payment_method="counter")
    foreign = book(world.arena, world.afternoon, next_weekday(2), other_resident)
    client = resident_client(resident)
    page = client.get(reverse("facilities:my_list")).content.decode()
    assert paid.code in page and unpaid.code in page and foreign.code not in page
    assert "支払済み" in page and "未払い" in page
    assert client.get(reverse("facilities:booking_detail", args=[foreign.code])).status_code == 404


def test_a_resident_of_another_town_cannot_see_the_booking(world, resident, other_town):
    booking = book(world.arena, world.morning, next_weekday(2), resident)
    outsider = resident_in(other_town)
    assert (
        resident_client(outsider).get(reverse("facilities:booking_detail", args=[booking.code])).status_code
        == 404
    )


def test_the_page_prefills_the_groups_last_details(world, resident):
    book(world.arena, world.morning, next_weekday(2), resident)
    page = (
        resident_client(resident).get(book_url(world.arena, next_weekday(3), world.evening)).content.decode()
    )
    assert re.search(r'name="group_name"[^>]*value="みどりバレー部"', page)
    assert re.search(r'name="purpose"[^>]*value="バレーボールの練習"', page)


def test_a_double_tap_shows_the_booking_already_made(world, resident):
    # given: a shared room, where a second booking of the same frame would fit
    day = next_weekday(2)
    client = resident_client(resident)
    url = book_url(world.training, day, world.morning)
    first = client.post(url, form_data(headcount="2"))
    # when: the same form again
    second = client.post(url, form_data(headcount="2"))
    # then
    booking = FacilityBooking.objects.get(resident=resident)
    assert first["Location"] == second["Location"]
    assert booking.code in second["Location"]
