"""Composing, submitting, approving, cancelling: the workflow and its bad inputs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from broadcasts.errors import BroadcastError
from broadcasts.models import Broadcast, BroadcastStatus, Recurrence, SendMode
from broadcasts.services import (
    broadcast_approve,
    broadcast_cancel,
    broadcast_emergency_send,
    broadcast_return_to_draft,
    broadcast_start,
    broadcast_submit,
    broadcast_test_send,
)
from broadcasts.services.recurrence import next_occurrence
from broadcasts.tasks import broadcasts_start_due_task
from municipalities.models import AuditEntry, SimulatedDelivery
from tests.broadcasts.factories import make_broadcast, make_residents


@pytest.fixture
def readers(town, interests):
    return make_residents(town, 3, interests=[interests["kenko"]])


def audit_actions(broadcast: Broadcast) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_id=str(broadcast.pk), action__startswith="broadcasts.broadcast")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_submit_freezes_messages_and_is_audited(kenko, kenko_editor, interests, readers):
    # given
    broadcast = make_broadcast(kenko, category=interests["kenko"], texts=["一通目", "二通目"])
    # when
    broadcast = broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    # then
    assert broadcast.status == BroadcastStatus.PENDING
    assert [m["text"] for m in broadcast.rendered_messages] == ["一通目", "二通目"]
    assert broadcast.submitted_by == kenko_editor
    entry = AuditEntry.objects.get(action="broadcasts.broadcast.submitted", object_id=str(broadcast.pk))
    assert entry.actor == kenko_editor
    assert entry.data["recipients"] == 3


@pytest.mark.parametrize(
    ("texts", "fields", "message"),
    [
        ([], {}, "1 件以上"),
        (["a"] * 6, {}, "5 件まで"),
        (["😀" * 2501], {}, "長すぎます"),  # 2,501 characters but 5,002 UTF-16 units
        (["ok"], {"send_mode": SendMode.AT, "scheduled_at": "past"}, "過去"),
        (["ok"], {"send_mode": SendMode.AT}, "配信日時を入力"),
        (
            ["ok"],
            {
                "recurrence": Recurrence.WEEKLY,
                "send_mode": SendMode.AT,
                "scheduled_at": "future",
                "recurrence_until": "past",
            },
            "終了日が最初の配信日より前",
        ),
    ],
)
def test_submit_refuses_bad_input_and_saves_nothing(
    kenko, kenko_editor, interests, readers, texts, fields, message
):
    # given
    if fields.get("scheduled_at") == "past":
        fields["scheduled_at"] = timezone.now() - timedelta(minutes=5)
    elif fields.get("scheduled_at") == "future":
        fields["scheduled_at"] = timezone.now() + timedelta(days=1)
    if fields.get("recurrence_until") == "past":
        fields["recurrence_until"] = timezone.localdate() - timedelta(days=1)
    broadcast = make_broadcast(kenko, category=interests["kenko"], texts=texts)
    Broadcast.objects.filter(pk=broadcast.pk).update(**fields)
    broadcast.refresh_from_db()
    # when
    with pytest.raises(BroadcastError, match=message):
        broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    # then
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DRAFT
    assert broadcast.rendered_messages == []
    assert audit_actions(broadcast) == []


def test_text_of_exactly_5000_utf16_units_is_accepted(kenko, kenko_editor, interests, readers):
    broadcast = make_broadcast(kenko, category=interests["kenko"], texts=["😀" * 2500])
    assert broadcast_submit(broadcast=broadcast, actor=kenko_editor).status == BroadcastStatus.PENDING


def test_submit_refuses_a_segment_nobody_is_in(kenko, kenko_editor, interests, areas, readers):
    # given: the readers live nowhere in particular; the broadcast is for 東区 only
    broadcast = make_broadcast(kenko, category=interests["kenko"], areas=[areas["東区"]])
    # when / then
    with pytest.raises(BroadcastError, match="当てはまる住民がいません"):
        broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DRAFT


def test_submit_refuses_a_broadcast_without_category(kenko, kenko_editor, readers):
    broadcast = make_broadcast(kenko, emergency=True)
    Broadcast.objects.filter(pk=broadcast.pk).update(is_emergency=False)
    broadcast.refresh_from_db()
    with pytest.raises(BroadcastError, match="分野を選ぶか"):
        broadcast_submit(broadcast=broadcast, actor=kenko_editor)


def test_only_drafts_can_be_submitted(kenko, kenko_editor, interests, readers):
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    with pytest.raises(BroadcastError, match="承認待ちのため申請できません"):
        broadcast_submit(broadcast=broadcast, actor=kenko_editor)


def test_editor_of_another_department_cannot_submit(kenko, somu_editor, interests, readers):
    broadcast = make_broadcast(kenko, category=interests["kenko"])
    with pytest.raises(BroadcastError, match="権限"):
        broadcast_submit(broadcast=broadcast, actor=somu_editor)


def test_editor_cannot_approve(kenko, kenko_editor, interests, readers):
    # given
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    # when / then
    with pytest.raises(BroadcastError, match="承認する権限がありません"):
        broadcast_approve(broadcast=broadcast, actor=kenko_editor)
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.PENDING
    assert "broadcasts.broadcast.approved" not in audit_actions(broadcast)


def test_head_approves_and_it_goes_out_at_once(
    kenko, kenko_editor, kenko_head, interests, readers, django_capture_on_commit_callbacks
):
    # given
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_approve(broadcast=broadcast, actor=kenko_head)
    # then
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENT
    assert broadcast.approved_by == kenko_head
    assert (broadcast.recipient_count, broadcast.delivered_count, broadcast.failed_count) == (3, 3, 0)
    assert set(
        SimulatedDelivery.objects.filter(endpoint="multicast").values_list("line_user_id", flat=True)
    ) == {r.line_user_id for r in readers}
    assert audit_actions(broadcast) == [
        "broadcasts.broadcast.submitted",
        "broadcasts.broadcast.approved",
        "broadcasts.broadcast.started",
        "broadcasts.broadcast.finished",
    ]


def test_town_admin_may_approve_in_any_department(kenko, kenko_editor, town_admin, interests, readers):
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        send_mode=SendMode.AT, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    broadcast.refresh_from_db()
    assert broadcast_approve(broadcast=broadcast, actor=town_admin).status == BroadcastStatus.SCHEDULED


def test_scheduled_broadcast_waits_for_its_time(
    kenko, kenko_editor, kenko_head, interests, readers, django_capture_on_commit_callbacks
):
    # given
    broadcast = make_broadcast(
        kenko,
        category=interests["kenko"],
        send_mode=SendMode.AT,
        scheduled_at=timezone.now() + timedelta(hours=2),
    )
    broadcast = broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    broadcast = broadcast_approve(broadcast=broadcast, actor=kenko_head)
    assert broadcast.status == BroadcastStatus.SCHEDULED
    # when: the beat runs before the time
    broadcasts_start_due_task()
    # then
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.SCHEDULED
    # when: the time has come
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts_start_due_task()
    # then
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.SENT


def test_approval_refuses_a_time_that_passed_while_pending(
    kenko, kenko_editor, kenko_head, interests, readers
):
    broadcast = make_broadcast(
        kenko,
        category=interests["kenko"],
        send_mode=SendMode.AT,
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    broadcast = broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(BroadcastError, match="過去"):
        broadcast_approve(broadcast=broadcast, actor=kenko_head)


def test_emergency_goes_to_every_follower_even_paused_ones(
    town, kenko, kenko_head, interests, readers, django_capture_on_commit_callbacks
):
    # given
    paused = make_residents(town, 2, notices_paused=True)
    blocked = make_residents(town, 1, is_following=False)
    broadcast = make_broadcast(kenko, emergency=True, texts=["【避難指示】西区に避難指示を発令しました。"])
    # when
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_emergency_send(broadcast=broadcast, actor=kenko_head)
    # then
    broadcast.refresh_from_db()
    sent_to = set(
        SimulatedDelivery.objects.filter(endpoint="multicast").values_list("line_user_id", flat=True)
    )
    assert sent_to == {r.line_user_id for r in readers + paused}
    assert blocked[0].line_user_id not in sent_to
    assert broadcast.status == BroadcastStatus.SENT
    assert "broadcasts.broadcast.emergency_sent" in audit_actions(broadcast)


def test_editor_cannot_send_an_emergency_at_once(kenko, kenko_editor, readers):
    broadcast = make_broadcast(kenko, emergency=True)
    with pytest.raises(BroadcastError, match="緊急配信を送る権限"):
        broadcast_emergency_send(broadcast=broadcast, actor=kenko_editor)


def test_return_to_draft_keeps_the_comment(kenko, kenko_editor, kenko_head, interests, readers):
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    broadcast = broadcast_return_to_draft(
        broadcast=broadcast, actor=kenko_head, comment="日付を確認してください"
    )
    assert (broadcast.status, broadcast.review_comment) == (BroadcastStatus.DRAFT, "日付を確認してください")


def test_cancelled_scheduled_broadcast_never_starts(kenko, kenko_editor, kenko_head, interests, readers):
    # given
    broadcast = make_broadcast(
        kenko,
        category=interests["kenko"],
        send_mode=SendMode.AT,
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    broadcast = broadcast_approve(
        broadcast=broadcast_submit(broadcast=broadcast, actor=kenko_editor), actor=kenko_head
    )
    # when
    broadcast_cancel(broadcast=broadcast, actor=kenko_head)
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=timezone.now() - timedelta(minutes=1))
    # then
    assert broadcast_start(broadcast_id=broadcast.pk) is None
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.CANCELLED
    assert not SimulatedDelivery.objects.exists()


def test_editor_cannot_cancel_an_approved_broadcast(kenko, kenko_editor, kenko_head, interests, readers):
    broadcast = make_broadcast(
        kenko,
        category=interests["kenko"],
        send_mode=SendMode.AT,
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    broadcast = broadcast_approve(
        broadcast=broadcast_submit(broadcast=broadcast, actor=kenko_editor), actor=kenko_head
    )
    with pytest.raises(BroadcastError, match="取り消す権限"):
        broadcast_cancel(broadcast=broadcast, actor=kenko_editor)


def test_finished_broadcast_cannot_be_cancelled(
    kenko, kenko_head, interests, readers, django_capture_on_commit_callbacks
):
    broadcast = make_broadcast(kenko, emergency=True)
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_emergency_send(broadcast=broadcast, actor=kenko_head)
    with pytest.raises(BroadcastError, match="配信完了のため取消できません"):
        broadcast_cancel(broadcast=broadcast, actor=kenko_head)


def test_test_send_needs_the_staff_line_id(kenko, kenko_editor, interests):
    broadcast = make_broadcast(kenko, category=interests["kenko"])
    with pytest.raises(BroadcastError, match="LINE ユーザーID が登録されていません"):
        broadcast_test_send(broadcast=broadcast, actor=kenko_editor)


def test_test_send_pushes_to_the_staff_member_only(
    kenko, kenko_editor, interests, readers, django_capture_on_commit_callbacks
):
    # given
    kenko_editor.line_user_id = "U" + "f" * 32
    kenko_editor.save(update_fields=["line_user_id"])
    broadcast = make_broadcast(kenko, category=interests["kenko"], texts=["本文"])
    # when
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_test_send(broadcast=broadcast, actor=kenko_editor)
    # then
    rows = list(SimulatedDelivery.objects.all())
    assert [(r.endpoint, r.line_user_id) for r in rows] == [("push", kenko_editor.line_user_id)]
    assert rows[0].messages[0]["text"].startswith("【テスト送信】")
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DRAFT


def test_weekly_broadcast_schedules_its_next_occurrence(kenko, kenko_editor, kenko_head, interests, readers):
    # given
    first_at = timezone.now() + timedelta(hours=1)
    broadcast = make_broadcast(
        kenko,
        category=interests["kenko"],
        send_mode=SendMode.AT,
        scheduled_at=first_at,
        recurrence=Recurrence.WEEKLY,
        recurrence_until=timezone.localdate(first_at) + timedelta(days=10),
    )
    broadcast = broadcast_approve(
        broadcast=broadcast_submit(broadcast=broadcast, actor=kenko_editor), actor=kenko_head
    )
    # when: its time comes
    broadcast_start(broadcast_id=broadcast.pk, now=first_at + timedelta(seconds=1))
    # then: the same broadcast is scheduled a week later
    nxt = Broadcast.objects.get(series_parent=broadcast)
    assert nxt.status == BroadcastStatus.SCHEDULED
    assert nxt.scheduled_at == first_at + timedelta(days=7)
    assert [m.text for m in nxt.messages.all()] == ["健康診断のお知らせです。"]
    # and after the end date (10 days) there is no third one
    broadcast_start(broadcast_id=nxt.pk, now=nxt.scheduled_at + timedelta(seconds=1))
    assert Broadcast.objects.filter(series_parent=broadcast).count() == 1


def test_monthly_recurrence_keeps_the_day_and_clamps_short_months(kenko):
    at = timezone.make_aware(timezone.datetime(2027, 1, 31, 9, 0))
    broadcast = Broadcast(
        department=kenko, scheduled_at=at, recurrence=Recurrence.MONTHLY, recurrence_until=date(2027, 12, 31)
    )
    assert timezone.localtime(next_occurrence(broadcast)).strftime("%m-%d %H:%M") == "02-28 09:00"


# --- the two-person rule (issue 18, finding 13) --------------------------------------------------


def _approved_entry(broadcast: Broadcast) -> AuditEntry:
    return AuditEntry.objects.get(action="broadcasts.broadcast.approved", object_id=str(broadcast.pk))


def test_the_submitter_cannot_approve_their_own_broadcast(kenko, kenko_head, interests, readers):
    # given: a head submits a broadcast of their own department (the town keeps the rule: default)
    assert kenko.municipality.broadcast_needs_second_approver
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_head
    )
    # when / then
    with pytest.raises(BroadcastError, match="申請した本人は承認できません。別の職員が承認してください。"):
        broadcast_approve(broadcast=broadcast, actor=kenko_head)
    # and nothing changed, nothing audited
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.approved_by, broadcast.approved_at) == (
        BroadcastStatus.PENDING,
        None,
        None,
    )
    assert audit_actions(broadcast) == ["broadcasts.broadcast.submitted"]


def test_another_head_approves_what_a_head_submitted(kenko, kenko_head, town_admin, interests, readers):
    # given
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_head
    )
    # when
    approved = broadcast_approve(broadcast=broadcast, actor=town_admin)
    # then: approved, by a second person, and the audit row is not flagged
    assert approved.status == BroadcastStatus.APPROVED
    assert (approved.submitted_by, approved.approved_by) == (kenko_head, town_admin)
    assert "self_approved" not in _approved_entry(broadcast).data


def test_an_emergency_submitted_by_a_head_is_approved_by_them_and_flagged(kenko, kenko_head, readers):
    # given: a 緊急 broadcast the head submitted
    broadcast = broadcast_submit(broadcast=make_broadcast(kenko, emergency=True), actor=kenko_head)
    # when
    approved = broadcast_approve(broadcast=broadcast, actor=kenko_head)
    # then: one person may, and the audit row says so
    assert approved.status == BroadcastStatus.APPROVED
    assert approved.submitted_by == approved.approved_by == kenko_head
    entry = _approved_entry(broadcast)
    assert entry.actor == kenko_head
    assert (entry.data["self_approved"], entry.data["reason"]) == (True, "emergency")


def test_an_emergency_sent_at_once_by_its_author_is_flagged(kenko, kenko_head, readers):
    # when: a head writes and sends an emergency at once (from 下書き)
    broadcast = broadcast_emergency_send(broadcast=make_broadcast(kenko, emergency=True), actor=kenko_head)
    # then
    entry = AuditEntry.objects.get(action="broadcasts.broadcast.emergency_sent", object_id=str(broadcast.pk))
    assert (entry.data["self_approved"], entry.data["reason"]) == (True, "emergency")


def test_a_town_without_the_rule_lets_the_submitter_approve(town, kenko, kenko_head, interests, readers):
    # given: the town turned the two-person rule off
    town.broadcast_needs_second_approver = False
    town.save(update_fields=["broadcast_needs_second_approver"])
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_head
    )
    # when
    approved = broadcast_approve(broadcast=broadcast, actor=kenko_head)
    # then: approved, and still recorded as a one-person approval
    assert approved.status == BroadcastStatus.APPROVED
    assert approved.submitted_by == approved.approved_by == kenko_head
    assert _approved_entry(broadcast).data["self_approved"] is True
