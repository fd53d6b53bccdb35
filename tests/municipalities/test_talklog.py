"""The talk log: retention (the beat task deletes rows older than each town's retention) and who
sees which rows (a department's notices are that department's; the general chat is town-wide for
the roles that answer residents)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from municipalities.line.talklog import talk_log_inbound, talk_log_purge
from municipalities.models import ResidentLinkUse, Role, TalkMessage, WebhookEvent
from municipalities.permissions import policy_for
from municipalities.tasks import talk_log_retention_task
from tests.conftest import make_staff


def _aged(resident, days: int, text: str) -> TalkMessage:
    row = talk_log_inbound(resident=resident, kind="text", text=text, payload={})
    TalkMessage.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


def test_rows_older_than_each_towns_retention_are_deleted(town, other_town, resident):
    # given: みどり町 keeps 30 days, あおば市 the default 365
    from municipalities.services import resident_follow

    town.talk_log_retention_days = 30
    town.save(update_fields=["talk_log_retention_days"])
    aoba_resident, _ = resident_follow(municipality=other_town, line_user_id="U" + "c" * 32)
    old = _aged(resident, 31, "古い")
    kept = _aged(resident, 29, "新しい")
    aoba_kept = _aged(aoba_resident, 100, "あおばの記録")
    aoba_old = _aged(aoba_resident, 400, "あおばの古い記録")
    # when
    deleted = talk_log_retention_task()
    # then
    assert deleted == 2
    remaining = set(TalkMessage.objects.values_list("pk", flat=True))
    assert remaining == {kept.pk, aoba_kept.pk}
    assert old.pk not in remaining and aoba_old.pk not in remaining


def test_purge_works_in_batches_and_can_run_again(town, resident):
    for i in range(7):
        _aged(resident, 400, f"古い{i}")
    assert talk_log_purge(batch_size=3) == 7
    assert talk_log_purge(batch_size=3) == 0
    assert TalkMessage.objects.count() == 0


def test_stored_webhook_events_follow_the_same_retention(town, resident):
    # given: みどり町 keeps 30 days; two stored events, one of them older than that
    town.talk_log_retention_days = 30
    town.save(update_fields=["talk_log_retention_days"])
    old, kept = (
        WebhookEvent.objects.create(
            municipality=town,
            webhook_event_id=event_id,
            event_type="message",
            line_user_id=resident.line_user_id,
            payload={"message": {"type": "text", "text": "住所は…"}},
            status=WebhookEvent.Status.PROCESSED,
        )
        for event_id in ("OLD", "KEPT")
    )
    WebhookEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    # when
    deleted = talk_log_retention_task()
    # then
    assert deleted == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [kept.pk]


# --- spent sign-in links ---------------------------------------------------------------------------


def test_spent_sign_in_links_are_purged_after_their_lifetime(settings, town, resident):
    # given: links live 30 minutes; one was spent an hour ago, one just now
    settings.RESIDENT_LINK_MAX_AGE_SECONDS = 30 * 60
    old = ResidentLinkUse.objects.create(municipality=town, resident=resident, nonce="old-nonce")
    ResidentLinkUse.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    recent = ResidentLinkUse.objects.create(municipality=town, resident=resident, nonce="recent-nonce")
    # when
    deleted = talk_log_purge()
    # then
    assert deleted == 1
    assert list(ResidentLinkUse.objects.values_list("pk", flat=True)) == [recent.pk]


# --- the talk log by department --------------------------------------------------------------------


@pytest.fixture
def talk(town, kenko, somu, resident, django_capture_on_commit_callbacks) -> dict[str, TalkMessage]:
    """A 健康福祉課 booking notice, a 総務課 application notice, and the general chat."""
    from reservations.services import reservation_book
    from tests.applications.factories import simple_form, submit
    from tests.reservations.factories import SlotFactory

    with django_capture_on_commit_callbacks(execute=True):
        reservation_book(slot=SlotFactory(menu__department=kenko), resident=resident)
    with django_capture_on_commit_callbacks(execute=True):
        submit(simple_form(somu, title="犬の登録申請"), resident)
    outbound = TalkMessage.objects.filter(direction=TalkMessage.Direction.OUTBOUND)
    return {
        "kenko notice": outbound.get(department=kenko),
        "somu notice": outbound.get(department=somu),
        "question": talk_log_inbound(resident=resident, kind="text", text="開庁時間は？", payload={}),
    }


VISIBLE = {
    "town_admin": {"kenko notice", "somu notice", "question"},
    "kenko_head": {"kenko notice", "question"},
    "kenko_editor": {"kenko notice", "question"},
    "kenko_viewer": {"kenko notice"},
    "somu_editor": {"somu notice", "question"},
    "somu_viewer": {"somu notice"},
    "aoba_admin": set(),
}


@pytest.fixture
def staff(town, other_town, somu, town_admin, kenko_head, kenko_editor, kenko_viewer, somu_editor) -> dict:
    return {
        "town_admin": town_admin,
        "kenko_head": kenko_head,
        "kenko_editor": kenko_editor,
        "kenko_viewer": kenko_viewer,
        "somu_editor": somu_editor,
        "somu_viewer": make_staff("somu_viewer", town, Role.VIEWER, somu),
        "aoba_admin": make_staff("aoba_admin", other_town, Role.MUNICIPALITY_ADMIN),
    }


def test_notices_sent_for_a_department_are_logged_as_that_departments(talk, kenko, somu):
    assert talk["kenko notice"].department == kenko and "予約" in talk["kenko notice"].text
    assert talk["somu notice"].department == somu
    assert talk["question"].department is None


@pytest.mark.parametrize("who", VISIBLE)
def test_the_talk_log_is_visible_by_department_and_role(talk, staff, who):
    # given
    user = staff[who]
    policy = policy_for(TalkMessage)
    # when
    listed = set(policy.instances_user_has_permission_for(user, "view").values_list("pk", flat=True))
    per_row = {
        name for name, row in talk.items() if policy.user_has_permission_for_instance(user, "view", row)
    }
    # then: the list and the object check agree, and give each role what it answers for
    assert {name for name, row in talk.items() if row.pk in listed} == VISIBLE[who]
    assert per_row == VISIBLE[who]


@pytest.mark.parametrize("who", ["somu_editor", "kenko_viewer", "town_admin"])
def test_the_admin_talk_log_shows_the_same(talk, staff, who):
    # given
    browser = Client()
    browser.force_login(staff[who], backend="municipalities.auth.RoleBackend")
    # when
    listed = browser.get(reverse("admin:municipalities_talkmessage_changelist"))
    pages = {
        name: browser.get(reverse("admin:municipalities_talkmessage_change", args=[row.pk])).status_code
        for name, row in talk.items()
    }
    # then
    assert listed.status_code == 200
    shown = {row.pk for row in listed.context_data["cl"].result_list}
    assert {name for name, row in talk.items() if row.pk in shown} == VISIBLE[who]
    assert {name for name, status in pages.items() if status == 200} == VISIBLE[who]


@pytest.mark.parametrize("who", ["somu_editor", "kenko_head", "town_admin"])
def test_the_hand_off_page_shows_only_the_talk_the_user_may_see(talk, staff, resident, who):
    # given
    browser = Client()
    browser.force_login(staff[who], backend="municipalities.auth.RoleBackend")
    # when
    response = browser.get(reverse("admin:chatbot_talkthread_change", args=[resident.pk]))
    # then
    assert response.status_code == 200
    shown = {row.pk for row in response.context["talk"]}
    assert {name for name, row in talk.items() if row.pk in shown} == VISIBLE[who]


def test_a_reply_to_a_known_resident_is_logged_without_reading_them_again(town, resident):
    # given: the webhook's processing has the sender and the event's reply token
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from municipalities.line.simulator import SimulatorClient

    client = SimulatorClient(town)
    # when
    with CaptureQueriesContext(connection) as queries:
        client.reply("token-1", [{"type": "text", "text": "こんにちは"}], resident=resident)
    # then: the answer is in the talk log, and neither the event nor the resident was read
    row = TalkMessage.objects.get(direction=TalkMessage.Direction.OUTBOUND)
    assert (row.resident_id, row.text) == (resident.pk, "こんにちは")
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in reads if "webhookevent" in sql or "municipalities_resident" in sql]
    # and the token is still good for one reply only
    from municipalities.line.errors import LineReplyTokenExpired

    with pytest.raises(LineReplyTokenExpired):
        client.reply("token-1", [{"type": "text", "text": "二度目"}], resident=resident)
