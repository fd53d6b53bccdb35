"""The staff console of 施設予約: scoping by department, the day grid, 窓口予約, 定期利用, decisions, report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from facilities.errors import FacilityError
from facilities.models import BookingStatus, Facility, FacilityBooking
from facilities.services import booking_delete, booking_payment_record_counter
from tests.facilities.factories import booking_row, facility_world, next_weekday
from tests.facilities.helpers import book

BACKEND = "municipalities.auth.RoleBackend"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def somu_world(somu):
    return facility_world(somu, name="中央公民館")


def test_a_department_sees_only_its_facilities_and_bookings(world, somu_world, kenko_editor):
    # given
    day = next_weekday(2)
    booking_row(world.arena, world.evening, day, group_name="健康バレー部")
    other = booking_row(somu_world.arena, somu_world.evening, day, group_name="公民館囲碁会")
    client = client_for(kenko_editor)
    # when
    facilities = client.get(reverse("admin:facilities_facility_changelist")).content.decode()
    bookings = client.get(reverse("admin:facilities_facilitybooking_changelist")).content.decode()
    # then
    assert "町民体育館" in facilities and "中央公民館" not in facilities
    assert "健康バレー部" in bookings and "公民館囲碁会" not in bookings
    assert client.get(reverse("admin:facilities_facilitybooking_decide", args=[other.pk])).status_code == 404
    assert (
        client.get(
            reverse("admin:facilities_facilitybooking_grid"), {"facility": somu_world.facility.pk}
        ).status_code
        == 404
    )
    assert (
        client.get(reverse("admin:facilities_facility_change", args=[somu_world.facility.pk])).status_code
        == 302
    )


def test_the_day_grid_shows_who_booked_and_whether_they_paid(
    world, kenko_viewer, resident, django_assert_max_num_queries
):
    day = next_weekday(2)
    book(world.arena, world.evening, day, resident)
    booking_row(world.arena, world.morning, day, group_name="朝ヨガの会", payment_state="paid")
    client = client_for(kenko_viewer)
    with django_assert_max_num_queries(20):
        response = client.get(
            reverse("admin:facilities_facilitybooking_grid"),
            {"facility": world.facility.pk, "date": day.isoformat()},
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "みどりバレー部" in html and "未払い 4000円" in html
    assert "朝ヨガの会" in html and "支払済み 2000円" in html
    assert "空き" in html
    assert "窓口・電話の予約" not in html  # a viewer cannot book


def test_staff_book_at_the_counter_from_the_admin(world, kenko_editor):
    day = next_weekday(3)
    client = client_for(kenko_editor)
    url = reverse("admin:facilities_facilitybooking_book") + f"?facility={world.facility.pk}"
    data = {
        "facility": world.facility.pk,
        "room": world.arena.pk,
        "frame": world.afternoon.pk,
        "use_date": f"{day:%Y/%m/%d}",
        "group_name": "老人クラブ",
        "representative": "高橋",
        "headcount": "8",
        "purpose": "ゲートボール",
        "is_resident_rate": "on",
        "discount": world.elderly.pk,
        "discount_reason": "会員名簿を確認",
    }
    response = client.post(url, data)
    booking = FacilityBooking.objects.get()
    assert response.status_code == 302
    assert (booking.origin, booking.total_fee, booking.discount_reason, booking.booked_by) == (
        "staff",
        1500,
        "会員名簿を確認",
        kenko_editor,
    )
    # the same frame again: the error is shown next to the form, nothing else written
    response = client.post(url, data)
    assert "この枠はすでに予約されています。" in response.content.decode()
    assert FacilityBooking.objects.count() == 1


def test_bulk_page_previews_then_registers(world, kenko_editor):
    start = next_weekday(1, after=7)
    client = client_for(kenko_editor)
    url = reverse("admin:facilities_facilitybooking_bulk") + f"?facility={world.facility.pk}"
    data = {
        "facility": world.facility.pk,
        "room": world.arena.pk,
        "frame": world.evening.pk,
        "weekday": "1",
        "starts_on": start.isoformat(),
        "ends_on": (start + dt.timedelta(weeks=4)).isoformat(),
        "representative": "田中",
        "group_name": "火曜バレー会",
        "headcount": "12",
        "purpose": "バレーボール",
        "is_resident_rate": "on",
    }
    preview = client.post(url, data)
    assert "この内容で登録する" in preview.content.decode()
    assert FacilityBooking.objects.count() == 0
    booking_row(world.arena, world.evening, start, group_name="先客")  # start is never a closed day
    refused = client.post(url, {**data, "confirm": "1"}).content.decode()
    assert "何も登録しませんでした" in refused and "この枠はすでに予約されています。" in refused
    FacilityBooking.objects.filter(group_name="先客").update(status="cancelled")
    assert client.post(url, {**data, "confirm": "1"}).status_code == 302
    assert FacilityBooking.objects.filter(
        group_name="火曜バレー会"
    ).count() == preview.content.decode().count("予約できます")


def test_the_head_rejects_with_a_reason_on_the_booking_page(world, resident, kenko_head, kenko_editor):
    world.facility.requires_approval = True
    world.facility.save()
    booking = book(world.arena, world.evening, next_weekday(2, after=10), resident)
    url = reverse("admin:facilities_facilitybooking_decide", args=[booking.pk])
    assert "承認する" not in client_for(kenko_editor).get(url).content.decode()
    client = client_for(kenko_head)
    assert "承認する" in client.get(url).content.decode()
    client.post(url, {"op": "reject", "reason": ""})
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING  # no reason: refused, shown as a message
    client.post(url, {"op": "reject", "reason": "改修工事の予定のため"})
    booking.refresh_from_db()
    assert (booking.status, booking.rejection_reason) == (BookingStatus.REJECTED, "改修工事の予定のため")


def test_the_approve_action_reports_row_by_row(world, resident, other_resident, kenko_head):
    world.facility.requires_approval = True
    world.facility.save()
    a = book(world.arena, world.evening, next_weekday(2, after=10), resident)
    b = book(world.arena, world.morning, next_weekday(2, after=10), other_resident)
    FacilityBooking.objects.filter(pk=b.pk).update(status="cancelled")
    response = client_for(kenko_head).post(
        reverse("admin:facilities_facilitybooking_changelist"),
        {"action": "approve", "_selected_action": [a.pk, b.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "1 件を承認しました。" in html
    assert f"{b.code}: {b.code} は申請中ではありません。" in html


def test_the_usage_report_shows_utilisation_and_income(world, kenko_viewer):
    day = next_weekday(2)
    booking_row(world.arena, world.evening, day, payment_state="paid", total_fee=4000, base_fee=4000)
    response = client_for(kenko_viewer).get(
        reverse("admin:facilities_facility_report"), {"start": day.isoformat(), "end": day.isoformat()}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "アリーナA" in html and "4000円" in html
    assert "33%" in html  # one of three frames of the arena


def test_the_facility_form_takes_opening_weekdays_as_boxes(kenko_head, kenko):
    client = client_for(kenko_head)
    data = {
        "department": kenko.pk,
        "name": "町営グラウンド",
        "frame_kind": "blocks",
        "open_weekdays": ["1", "2", "3", "5"],
        "closed_year_end": "on",
        "booking_opens_days_before": "60",
        "booking_closes_days_before": "1",
        "pay_online": "on",
        "pay_at_counter": "on",
        "payment_due_days": "7",
        "cancel_free_days_before": "7",
        "cancel_fee_percent": "100",
        "monthly_limit_per_group": "4",
        "sort_order": "0",
    }
    for prefix in ("rooms", "frames", "discounts", "extras"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(reverse("admin:facilities_facility_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Facility.objects.get(name="町営グラウンド").open_weekdays == "1235"


def test_a_mistaken_booking_is_deleted_but_one_with_payments_is_kept(world, kenko_head):
    day = next_weekday(2)
    mistaken = booking_row(world.arena, world.evening, day)
    paid = booking_row(world.arena, world.morning, day)
    booking_payment_record_counter(booking=paid, actor=kenko_head)
    client = client_for(kenko_head)
    client.post(reverse("admin:facilities_facilitybooking_delete", args=[mistaken.pk]), {"post": "yes"})
    response = client.post(
        reverse("admin:facilities_facilitybooking_delete", args=[paid.pk]), {"post": "yes"}
    )
    assert not FacilityBooking.objects.filter(pk=mistaken.pk).exists()
    # the payment record would go with it: refused (the admin's own check, then the service's)
    assert response.status_code == 403
    assert FacilityBooking.objects.filter(pk=paid.pk).exists()
    with pytest.raises(FacilityError, match="支払の記録があるため削除できません"):
        booking_delete(booking=paid, actor=kenko_head)
