"""Paying a booking through the core's payments, cancelling it by the refund rule, refunds and lapses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from facilities.errors import FacilityError
from facilities.models import BookingPaymentState, BookingStatus, FacilityBooking
from facilities.services import (
    GroupDetails,
    booking_cancel,
    booking_payment_record_counter,
    booking_payment_start,
    booking_refund,
    bookings_lapse_unpaid,
)
from municipalities.models import AuditEntry, Payment, PaymentStatus, SimulatedDelivery
from municipalities.payments import CallbackRequest
from municipalities.payments.sandbox import signed_result
from municipalities.services.payments import payment_checkout_url, payment_record_callback
from tests.facilities.factories import days_ahead, next_weekday
from tests.facilities.helpers import book, pay_online


def test_an_online_payment_through_the_core_marks_the_booking_paid(world, resident):
    # given
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    # when
    payment = pay_online(booking, resident)
    # then
    booking.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    assert (payment.amount, payment.department, payment.subject) == (4000, world.facility.department, booking)
    assert payment.description == "施設使用料 町民体育館"
    assert booking.payment_state == BookingPaymentState.PAID
    assert booking.paid_at == payment.paid_at


def test_payment_start_returns_the_same_pending_payment_twice(world, resident):
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    first = booking_payment_start(booking=booking, resident=resident, provider_code="sandbox")
    again = booking_payment_start(booking=booking, resident=resident, provider_code="sandbox")
    assert first.pk == again.pk
    assert Payment.objects.count() == 1


def test_payment_start_refuses_a_pending_application_and_another_resident(world, resident, other_resident):
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    with pytest.raises(FacilityError) as exc:
        booking_payment_start(booking=booking, resident=other_resident, provider_code="sandbox")
    assert exc.value.code == "not_found"
    world.facility.requires_approval = True
    world.facility.save()
    pending = book(world.arena, world.morning, next_weekday(2), resident)
    with pytest.raises(FacilityError, match="承認されてから"):
        booking_payment_start(booking=pending, resident=resident, provider_code="sandbox")


def test_staff_record_a_counter_payment(world, kenko_editor):
    booking = book(world.arena, world.morning, next_weekday(2), actor=kenko_editor)
    payment = booking_payment_record_counter(booking=booking, actor=kenko_editor, receipt_number="R-0012")
    booking.refresh_from_db()
    assert (payment.provider, payment.status, payment.detail["receipt_number"]) == (
        "counter",
        "paid",
        "R-0012",
    )
    assert booking.payment_state == BookingPaymentState.PAID
    with pytest.raises(FacilityError, match="お支払い待ちではありません"):
        booking_payment_record_counter(booking=booking, actor=kenko_editor)


def _paid(world, resident, days: int) -> FacilityBooking:
    booking = book(world.arena, world.evening, days_ahead(days), resident)
    pay_online(booking, resident)
    booking.refresh_from_db()
    return booking


def test_cancel_inside_the_free_period_refunds_everything_after_the_head_refunds(
    world, resident, kenko_head, django_capture_on_commit_callbacks
):
    # given: paid, 10 days before (the rule: free until 7 days before)
    booking = _paid(world, resident, 10)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_cancel(booking=booking, resident=resident)
    # then
    assert booking.status == BookingStatus.CANCELLED
    assert (booking.cancellation_fee, booking.refund_amount) == (0, 4000)
    assert booking.payment_state == BookingPaymentState.REFUND_PENDING
    assert "4,000円を返金します" in str(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last().messages
    )
    # when the head refunds
    booking = booking_refund(booking=booking, actor=kenko_head)
    # then
    payment = Payment.objects.get()
    assert booking.payment_state == BookingPaymentState.REFUNDED
    assert (payment.status, payment.detail["refund_amount"]) == ("refunded", 4000)
    assert AuditEntry.objects.filter(action="facilities.facilitybooking.refunded").exists()


def test_cancel_after_the_free_period_keeps_the_fee_percentage(world, resident, kenko_head):
    world.facility.cancel_fee_percent = 50
    world.facility.save()
    booking = _paid(world, resident, 3)
    booking = booking_cancel(booking=booking, resident=resident)
    assert (booking.cancellation_fee, booking.refund_amount) == (2000, 2000)
    booking_refund(booking=booking, actor=kenko_head)
    payment = Payment.objects.get()
    assert (payment.status, payment.detail["refund_amount"]) == ("refunded", 2000)


def test_cancel_after_the_free_period_with_a_full_fee_refunds_nothing(world, resident):
    booking = _paid(world, resident, 3)  # cancel_fee_percent defaults to 100
    booking = booking_cancel(booking=booking, resident=resident)
    assert (booking.cancellation_fee, booking.refund_amount) == (4000, 0)
    assert booking.payment_state == BookingPaymentState.PAID
    assert Payment.objects.get().status == PaymentStatus.PAID


def test_an_editor_cannot_refund(world, resident, kenko_editor):
    booking = booking_cancel(booking=_paid(world, resident, 10), resident=resident)
    with pytest.raises(FacilityError, match="所属長"):
        booking_refund(booking=booking, actor=kenko_editor)
    booking.refresh_from_db()
    assert booking.payment_state == BookingPaymentState.REFUND_PENDING


def test_cancelling_an_unpaid_booking_cancels_its_pending_payment(world, resident):
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    payment = booking_payment_start(booking=booking, resident=resident, provider_code="sandbox")
    booking_cancel(booking=booking, resident=resident)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED


def test_a_resident_cannot_cancel_anothers_booking_or_twice(world, resident, other_resident):
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    with pytest.raises(FacilityError) as exc:
        booking_cancel(booking=booking, resident=other_resident)
    assert exc.value.code == "not_found"
    booking_cancel(booking=booking, resident=resident)
    with pytest.raises(FacilityError) as exc:
        booking_cancel(booking=booking, resident=resident)
    assert exc.value.code == "status"


def test_the_cancelled_frame_is_free_again(world, resident, other_resident):
    day = next_weekday(2)
    booking_cancel(booking=book(world.arena, world.evening, day, resident), resident=resident)
    assert book(
        world.arena,
        world.evening,
        day,
        other_resident,
        group=GroupDetails(representative="佐藤", purpose="卓球"),
    ).is_active


def test_unpaid_bookings_lapse_after_their_deadline_once(world, resident, django_capture_on_commit_callbacks):
    # given
    day = next_weekday(2)
    booking = book(world.arena, world.evening, day, resident)
    paid = book(world.arena, world.morning, day, resident)
    pay_online(paid, resident)
    later = booking.payment_due_at + dt.timedelta(minutes=1)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        assert bookings_lapse_unpaid(now=later) == 1
    assert bookings_lapse_unpaid(now=later) == 0
    # then
    booking.refresh_from_db()
    assert (booking.status, booking.lapsed_at) == (BookingStatus.LAPSED, later)
    assert "失効しました" in str(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last().messages
    )
    paid.refresh_from_db()
    assert paid.status == BookingStatus.CONFIRMED


def test_a_payment_arriving_after_the_lapse_is_to_be_refunded(world, resident):
    # given: the resident opened the checkout, then the booking lapsed
    booking = book(world.arena, world.evening, next_weekday(2), resident)
    payment = booking_payment_start(booking=booking, resident=resident, provider_code="sandbox")
    payment_checkout_url(payment=payment, return_url="https://example.jp/")
    bookings_lapse_unpaid(now=booking.payment_due_at + dt.timedelta(minutes=1))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED  # the lapse cancelled the pending payment
    # when: the provider's notice of a payment made just before arrives late (still pending there)
    Payment.objects.filter(pk=payment.pk).update(status="pending")
    payment_record_callback(
        provider_code="sandbox",
        municipality=None,
        request=CallbackRequest(
            params=signed_result(reference=payment.reference, outcome="paid", amount=4000)
        ),
    )
    # then: the frame stays free; the money is owed back
    booking.refresh_from_db()
    assert (booking.status, booking.payment_state, booking.refund_amount) == (
        BookingStatus.LAPSED,
        BookingPaymentState.REFUND_PENDING,
        4000,
    )


def test_staff_bookings_have_no_deadline_and_never_lapse(world, kenko_editor):
    booking = book(world.arena, world.evening, next_weekday(2), actor=kenko_editor)
    assert bookings_lapse_unpaid(now=timezone.now() + dt.timedelta(days=60)) == 0
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
