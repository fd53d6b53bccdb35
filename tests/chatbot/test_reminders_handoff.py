"""The nightly reminder (once per resident and day) and the staff hand-off (reply + silence)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chatbot import line_handlers
from chatbot.errors import ChatbotError
from chatbot.matching import get_index, invalidate
from chatbot.models import ChatState, CollectionRule, GarbageReminder, StaffReply
from chatbot.services import chat_state_update, talk_reply_send
from chatbot.tasks import garbage_reminders_dispatch_task
from municipalities.line.dispatch import InboundContext
from municipalities.models import Area, AuditEntry, SimulatedDelivery, TalkMessage
from municipalities.services import resident_update_preferences


def _area_collecting_tomorrow(town) -> Area:
    """An area with a collection tomorrow; on a day no area collects (a Sunday for 京丹後市), one
    area's 可燃ごみ also gets tomorrow's date, as a town lists an extra collection day."""
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    index = get_index(town.pk)
    area_id = next((a for a, calendar in index.calendars.items() if calendar.categories_on(tomorrow)), None)
    if area_id is None:
        rule = CollectionRule.objects.filter(calendar__municipality=town).order_by("pk").first()
        CollectionRule.objects.filter(pk=rule.pk).update(rule=f"{rule.rule} {tomorrow:%Y%m%d}")
        invalidate(town.pk)
        area_id = rule.calendar.area_id
    return Area.objects.get(pk=area_id)


def test_nightly_reminder_goes_out_once_when_the_task_runs_twice(
    kyotango_town, resident, other_resident, django_capture_on_commit_callbacks
):
    # given one resident with the reminder on and an area collecting tomorrow, one with it off
    area = _area_collecting_tomorrow(kyotango_town)
    for r in (resident, other_resident):
        resident_update_preferences(resident=r, area=area)
    chat_state_update(resident=resident, garbage_reminder=True)
    # when the beat task runs twice
    with django_capture_on_commit_callbacks(execute=True):
        garbage_reminders_dispatch_task()
        garbage_reminders_dispatch_task()
    # then one push to the resident who asked, listing tomorrow's categories
    pushes = SimulatedDelivery.objects.filter(endpoint="push")
    assert pushes.count() == 1
    assert pushes.get().line_user_id == resident.line_user_id
    reminder = GarbageReminder.objects.get()
    assert reminder.sent_at is not None and reminder.categories
    assert all(label in pushes.get().messages[0]["text"] for label in reminder.categories)


def test_reminder_claimed_but_not_sent_is_sent_by_the_next_run(
    kyotango_town, resident, django_capture_on_commit_callbacks
):
    from chatbot.services import garbage_reminder_send, garbage_reminders_claim

    resident_update_preferences(resident=resident, area=_area_collecting_tomorrow(kyotango_town))
    chat_state_update(resident=resident, garbage_reminder=True)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    # given a run that claimed and pushed but died before recording sent_at
    [reminder_id] = garbage_reminders_claim(collection_on=tomorrow)
    garbage_reminder_send(reminder_id=reminder_id)
    GarbageReminder.objects.filter(pk=reminder_id).update(sent_at=None)
    # when the task runs again, LINE sees the same retry key and accepts nothing new
    garbage_reminders_dispatch_task()
    assert SimulatedDelivery.objects.filter(endpoint="push").count() == 1
    assert GarbageReminder.objects.get().sent_at is not None


def test_no_reminder_without_a_collection_tomorrow_or_when_unfollowed(kyotango_town, resident):
    resident_update_preferences(
        resident=resident, area=Area.objects.create(municipality=kyotango_town, name="計画中の地区")
    )
    chat_state_update(resident=resident, garbage_reminder=True)
    garbage_reminders_dispatch_task()
    assert not GarbageReminder.objects.exists()


def _ctx(town, resident, text):
    return InboundContext(
        municipality=town,
        resident=resident,
        event={
            "type": "message",
            "source": {"type": "user", "userId": resident.line_user_id},
            "message": {"type": "text", "text": text},
        },
    )


def test_staff_reply_pushes_logs_sender_and_may_pause_the_bot(
    kyotango_town, resident, kenko_editor, django_capture_on_commit_callbacks
):
    # when a member of staff replies from the talk log
    with django_capture_on_commit_callbacks(execute=True):
        reply = talk_reply_send(
            resident=resident, text="担当の者です。明日お電話します。", actor=kenko_editor, pause_bot=True
        )
    # then it is pushed once, logged with the sender, audited
    reply.refresh_from_db()
    assert reply.sent_at is not None
    push = SimulatedDelivery.objects.get(endpoint="push")
    assert push.messages[0]["text"] == "担当の者です。明日お電話します。"
    logged = TalkMessage.objects.filter(resident=resident, direction="out")
    assert [(t.text, t.sent_by) for t in logged] == [("担当の者です。明日お電話します。", kenko_editor)]
    assert AuditEntry.objects.filter(action="chatbot.staffreply.sent").count() == 1
    # and, asked to pause, the bot stays quiet for the town's pause time (30 minutes) after
    # saying once that staff are on it
    state = ChatState.objects.get(resident=resident)
    assert dt.timedelta(minutes=29) < state.silenced_until - timezone.now() <= dt.timedelta(minutes=30)
    assert "担当者が対応中" in line_handlers.answer(_ctx(kyotango_town, resident, "乾電池"))[0]["text"]
    assert line_handlers.keyword_reply(_ctx(kyotango_town, resident, "ごみ通知オン")) == []
    ChatState.objects.filter(pk=state.pk).update(silenced_until=timezone.now() - dt.timedelta(seconds=1))
    assert "有害ごみ" in line_handlers.answer(_ctx(kyotango_town, resident, "乾電池"))[0]["text"]


def test_staff_reply_permissions_and_validation(town, other_town, resident, kenko_viewer, kenko_editor):
    from municipalities.models import Role
    from tests.conftest import make_staff

    with pytest.raises(ChatbotError, match="権限がありません"):
        talk_reply_send(resident=resident, text="こんにちは", actor=kenko_viewer)
    outsider = make_staff("aoba_admin", other_town, Role.MUNICIPALITY_ADMIN)
    with pytest.raises(ChatbotError, match="権限がありません"):
        talk_reply_send(resident=resident, text="こんにちは", actor=outsider)
    with pytest.raises(ChatbotError, match="内容を入力"):
        talk_reply_send(resident=resident, text="  ", actor=kenko_editor)
    assert not StaffReply.objects.exists()
