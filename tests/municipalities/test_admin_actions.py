"""The one admin action runner (DepartmentScopedAdmin.run_service_per_row), through the HTTP admin.

A member of staff who may act on one selected row and not on the other gets the first done, the
second reported as refused with its reason in Japanese, and a redirect back to the changelist:
never a bare 403 after half the rows were written.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from applications.models import ApplicationForm, Submission
from applications.workflow import SubmissionStatus
from broadcasts.models import Broadcast, BroadcastStatus
from municipalities.models import Role, StaffUser
from municipalities.services import staff_role_grant
from reservations.models import Reservation, ReservationStatus, Slot
from reservations.services import reservation_book
from tests.applications.factories import simple_form, submit
from tests.broadcasts.factories import make_broadcast
from tests.reservations.factories import MenuFactory, SlotFactory

BACKEND = "municipalities.auth.RoleBackend"


@pytest.fixture
def kenko_editor_somu_viewer(kenko_editor, somu) -> StaffUser:
    """Editor in 健康福祉課, viewer in 総務課: sees the rows of both, may change only 健康福祉課's."""
    staff_role_grant(user=kenko_editor, role=Role.VIEWER, department=somu, actor=None)
    return kenko_editor


def run_action(user: StaffUser, changelist: str, action: str, rows: list[Any]) -> tuple[Any, list[Any]]:
    client = Client()
    client.force_login(user, backend=BACKEND)
    response = client.post(
        reverse(f"admin:{changelist}"), {"action": action, "_selected_action": [row.pk for row in rows]}
    )
    return response, list(get_messages(response.wsgi_request))


def lines(messages: list[Any], level: int) -> list[str]:
    return [str(m.message) for m in messages if m.level == level]


def test_marking_two_rows_attended_marks_the_allowed_one_and_reports_the_other(
    kenko, somu, kenko_editor_somu_viewer, resident, other_resident
):
    # given: one booking in each department
    ours = reservation_book(slot=SlotFactory(menu=MenuFactory(department=kenko)), resident=resident)
    theirs = reservation_book(slot=SlotFactory(menu=MenuFactory(department=somu)), resident=other_resident)
    # when
    response, messages = run_action(
        kenko_editor_somu_viewer, "reservations_reservation_changelist", "mark_attended", [ours, theirs]
    )
    # then
    assert response.status_code == 302
    assert Reservation.objects.get(pk=ours.pk).status == ReservationStatus.ATTENDED
    assert Reservation.objects.get(pk=theirs.pk).status == ReservationStatus.BOOKED
    assert lines(messages, SUCCESS) == ["1 件を来場にしました。"]
    assert lines(messages, ERROR) == [f"{theirs.code}: この課の予約を変更する権限がありません。"]


def test_cancelling_two_broadcasts_cancels_the_allowed_one_and_reports_the_other(
    kenko, somu, kenko_editor_somu_viewer
):
    # given
    ours, theirs = make_broadcast(kenko, title="健康のお知らせ"), make_broadcast(somu, title="総務のお知らせ")
    # when
    response, messages = run_action(
        kenko_editor_somu_viewer, "broadcasts_broadcast_changelist", "cancel_action", [ours, theirs]
    )
    # then
    assert response.status_code == 302
    assert Broadcast.objects.get(pk=ours.pk).status == BroadcastStatus.CANCELLED
    assert Broadcast.objects.get(pk=theirs.pk).status == BroadcastStatus.DRAFT
    assert len(lines(messages, SUCCESS)) == 1
    (refusal,) = lines(messages, ERROR)
    assert refusal.startswith("総務のお知らせ") and "権限がありません" in refusal


def test_closing_two_forms_closes_the_allowed_one_and_reports_the_other(
    kenko, somu, kenko_editor_somu_viewer
):
    # given
    ours, theirs = simple_form(kenko, title="犬の登録申請"), simple_form(somu, title="住民票の請求")
    # when
    response, messages = run_action(
        kenko_editor_somu_viewer, "applications_applicationform_changelist", "close_forms", [ours, theirs]
    )
    # then
    assert response.status_code == 302
    assert ApplicationForm.objects.get(pk=ours.pk).closed_at is not None
    assert ApplicationForm.objects.get(pk=theirs.pk).closed_at is None
    assert lines(messages, SUCCESS) == ["1 件のフォームを締め切りました。"]
    assert lines(messages, ERROR) == ["住民票の請求: この課の申請フォームを変更する権限がありません。"]


def test_reviewing_two_submissions_moves_the_allowed_one_and_reports_the_other(
    kenko, somu, kenko_editor_somu_viewer, resident
):
    # given
    ours, theirs = submit(simple_form(kenko), resident), submit(simple_form(somu), resident)
    # when
    response, messages = run_action(
        kenko_editor_somu_viewer, "applications_submission_changelist", "action_review", [ours, theirs]
    )
    # then
    assert response.status_code == 302
    assert Submission.objects.get(pk=ours.pk).status == SubmissionStatus.IN_REVIEW
    assert Submission.objects.get(pk=theirs.pk).status == theirs.status
    assert len(lines(messages, SUCCESS)) == 1 and lines(messages, SUCCESS)[0].startswith("1 件を")
    assert lines(messages, ERROR) == [f"{theirs.reference}: この課の申請を処理する権限がありません。"]


def test_resetting_two_factor_for_self_and_another_resets_the_other_and_reports_self(
    town_admin, kenko_editor
):
    # given: the editor lost the phone with his authenticator; nobody resets their own
    TOTPDevice.objects.create(user=kenko_editor, name="app", confirmed=True)
    # when
    response, messages = run_action(
        town_admin, "municipalities_staffuser_changelist", "reset_two_factor", [kenko_editor, town_admin]
    )
    # then
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=kenko_editor).exists()
    assert lines(messages, SUCCESS) == ["1 人の二段階認証をリセットしました。"]
    assert lines(messages, ERROR) == [f"{town_admin}: 自分自身の二段階認証はリセットできません。"]


def test_closing_two_slots_closes_the_allowed_one_and_reports_the_other(
    kenko, somu, kenko_editor_somu_viewer
):
    # given
    ours = SlotFactory(menu=MenuFactory(department=kenko))
    theirs = SlotFactory(menu=MenuFactory(department=somu))
    # when
    response, messages = run_action(
        kenko_editor_somu_viewer, "reservations_slot_changelist", "close_slots", [ours, theirs]
    )
    # then
    assert response.status_code == 302
    assert not Slot.objects.get(pk=ours.pk).is_open
    assert Slot.objects.get(pk=theirs.pk).is_open
    assert lines(messages, SUCCESS) == ["1 枠の受付を停止しました。"]
    assert lines(messages, ERROR) == [f"{theirs}: この課の枠を変更する権限がありません。"]
