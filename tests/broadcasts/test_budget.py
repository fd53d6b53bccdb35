"""The town's monthly message budget (its LINE plan) at approval and at send time: the head sees
the warning on the page before approving and after, and the start of the send records it."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from broadcasts.models import BroadcastStatus
from broadcasts.services import broadcast_approve, broadcast_start, broadcast_submit
from municipalities.line import messages as m
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.models import AuditEntry
from tests.broadcasts.factories import make_broadcast, make_residents

WARNING = "月間の上限 3 通を超えます"


def _login(user) -> Client:
    client = Client()
    client.force_login(user, backend="municipalities.auth.RoleBackend")
    return client


def _town_near_its_budget(town, resident) -> None:
    # 2 of the 3 messages of the month are used
    town.monthly_push_budget = 3
    town.save(update_fields=["monthly_push_budget"])
    for n in range(2):
        get_line_client(town).push(resident.line_user_id, [m.text("a")], retry_key=retry_key_for("budget", n))


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_head_is_warned_before_and_after_approving_past_the_budget(
    town, kenko, kenko_editor, kenko_head, interests, resident
):
    # given a pending broadcast to 2 residents, in a town with 1 message left this month
    _town_near_its_budget(town, resident)
    make_residents(town, 2, interests=[interests["kenko"]])
    broadcast = make_broadcast(
        kenko, category=interests["kenko"], send_mode="at", scheduled_at=timezone.now() + timedelta(hours=3)
    )
    broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    head = _login(kenko_head)
    # when the head opens it
    page = head.get(reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk]))
    # then the warning is on the page, before the 承認する button is pressed
    assert any(WARNING in text and "今月の送信数 2 通 + この配信 2 通" in text for text in _messages(page))
    # when they approve it, it is approved, with the warning again
    url = reverse("admin:broadcasts_broadcast_transition", args=[broadcast.pk, "approve"])
    texts = _messages(head.post(url, follow=True))
    assert "承認しました。" in texts
    assert any(WARNING in text for text in texts)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED


def test_no_warning_within_the_budget(town, kenko, kenko_editor, kenko_head, interests, resident):
    town.monthly_push_budget = 1000
    town.save(update_fields=["monthly_push_budget"])
    make_residents(town, 2, interests=[interests["kenko"]])
    broadcast = make_broadcast(kenko, category=interests["kenko"])
    broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    page = _login(kenko_head).get(reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk]))
    assert not any("月間の上限" in text for text in _messages(page))


def test_the_start_of_a_send_past_the_budget_is_recorded(
    town, kenko, kenko_editor, kenko_head, interests, resident
):
    # given a scheduled broadcast that is due, in a town that used its budget meanwhile
    make_residents(town, 2, interests=[interests["kenko"]])
    broadcast = make_broadcast(
        kenko, category=interests["kenko"], send_mode="at", scheduled_at=timezone.now() + timedelta(hours=1)
    )
    broadcast_submit(broadcast=broadcast, actor=kenko_editor)
    broadcast_approve(broadcast=broadcast, actor=kenko_head)
    _town_near_its_budget(town, resident)
    # when the beat starts it
    broadcast_start(broadcast_id=broadcast.pk, now=timezone.now() + timedelta(hours=2))
    # then it is sent, and its start says it passed the budget
    entry = AuditEntry.objects.get(action="broadcasts.broadcast.started", object_id=str(broadcast.pk))
    assert WARNING in entry.data["budget_warning"]
