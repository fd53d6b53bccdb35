"""申請 → 承認 / 却下 with a reason, the LINE notices, and who may decide."""

from __future__ import annotations

import pytest
from django.utils import timezone

from facilities.errors import FacilityError
from facilities.models import BookingStatus
from facilities.services import booking_approve, booking_reject
from municipalities.models import AuditEntry, SimulatedDelivery
from tests.facilities.factories import next_weekday
from tests.facilities.helpers import book


@pytest.fixture
def application(world, resident):
    world.facility.requires_approval = True
    world.facility.save()
    return book(world.arena, world.evening, next_weekday(2, after=20), resident)


def test_approval_confirms_and_sets_the_payment_deadline(
    application, kenko_head, resident, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_approve(booking=application, actor=kenko_head)
    assert (booking.status, booking.decided_by) == (BookingStatus.CONFIRMED, kenko_head)
    assert timezone.now() < booking.payment_due_at <= timezone.now() + timezone.timedelta(days=7)
    push = SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last()
    assert "承認されました" in str(push.messages) and "お支払い期限" in str(push.messages)
    assert AuditEntry.objects.filter(action="facilities.facilitybooking.approved").exists()


def test_rejection_needs_a_reason_tells_it_and_frees_the_frame(
    application, kenko_head, resident, world, django_capture_on_commit_callbacks
):
    with pytest.raises(FacilityError) as exc:
        booking_reject(booking=application, actor=kenko_head, reason=" ")
    assert exc.value.code == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_reject(booking=application, actor=kenko_head, reason="大会の準備のため")
    assert (booking.status, booking.rejection_reason) == (BookingStatus.REJECTED, "大会の準備のため")
    assert "理由: 大会の準備のため" in str(
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).last().messages
    )
    assert book(world.arena, world.evening, booking.use_date, resident).status == BookingStatus.PENDING


def test_only_a_pending_application_is_decided(application, kenko_head):
    booking_approve(booking=application, actor=kenko_head)
    with pytest.raises(FacilityError) as exc:
        booking_approve(booking=application, actor=kenko_head)
    assert exc.value.code == "status"
    with pytest.raises(FacilityError):
        booking_reject(booking=application, actor=kenko_head, reason="x")


def test_an_editor_of_the_department_may_not_approve_another_department_may_not_either(
    application, kenko_editor, somu_editor
):
    for actor in (kenko_editor, somu_editor):
        with pytest.raises(FacilityError) as exc:
            booking_approve(booking=application, actor=actor)
        assert exc.value.code == "permission_denied"
