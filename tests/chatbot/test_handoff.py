"""The hand-off to a person through the real webhook: 「職員と話す」 at any time and as the
fallback, the department inbox, office hours, 「担当者が対応中です」 once, the bot still answering
garbage and FAQ unless paused, 対応完了, and the e-mail notice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from chatbot.errors import ChatbotError
from chatbot.models import ChatState, Handoff
from chatbot.services import handoff_request, talk_bot_pause, talk_handoff_end, talk_reply_send
from municipalities.models import AuditEntry, SimulatedDelivery

from .factories import FaqFactory


def test_staff_button_opens_a_town_wide_handoff_and_tells_the_office_hours(kyotango_town, resident, say):
    # given a town with its office hours
    kyotango_town.office_hours = "平日 9:00〜17:00"
    kyotango_town.save(update_fields=["office_hours"])
    # when the resident sends 「職員と話す」
    replies = say(kyotango_town, resident, "職員と話す")
    # then a hand-off waits in the town-wide inbox, and they are told when someone answers
    handoff = Handoff.objects.get(resident=resident)
    assert handoff.status == Handoff.Status.WAITING and handoff.department is None
    assert "平日 9:00〜17:00" in replies[0]
    assert AuditEntry.objects.filter(action="chatbot.handoff.requested").count() == 1
    # and asking again keeps the one hand-off
    replies = say(kyotango_town, resident, "職員と話したい")
    assert "すでに" in replies[0]
    assert Handoff.objects.filter(resident=resident).count() == 1


def test_unanswered_question_offers_staff_as_a_quick_reply(kyotango_town, resident, say):
    # when the bot cannot answer
    replies = say(kyotango_town, resident, "先月の会議の議事録はどこで読めますか")
    # then the apology offers 「職員と話す」 as a quick reply (postback cb:staff)
    reply = SimulatedDelivery.objects.filter(endpoint="reply").last().messages[0]
    assert "職員と話す" in replies[0]
    last = reply["quickReply"]["items"][-1]["action"]
    assert (last["label"], last["data"]) == ("職員と話す", "cb:staff")


def test_postback_staff_routes_by_the_last_unanswered_question(kyotango_town, kenko, resident, say, tap):
    FaqFactory(department=kenko, question="予防接種の持ち物", answer="母子手帳をお持ちください。")
    say(kyotango_town, resident, "予防接種について相談したい")
    # when the resident taps 「職員と話す」 under the bot's apology
    replies = tap(kyotango_town, resident, "cb:staff")
    # then the department of the closest FAQ gets the hand-off, with the question as its topic
    handoff = Handoff.objects.get(resident=resident)
    assert handoff.department == kenko
    assert handoff.topic == "予防接種について相談したい"
    assert "健康福祉課" in replies[0]


def test_during_a_handoff_the_bot_answers_garbage_and_says_busy_once(
    kyotango_town, resident, kenko_editor, say
):
    # given a resident talking with staff
    say(kyotango_town, resident, "職員と話す")
    # when they send something the bot cannot answer, twice
    first = say(kyotango_town, resident, "先日の件ですが、書類は届きましたか")
    second = say(kyotango_town, resident, "よろしくお願いします、お返事ください")
    # then the bot says 「担当者が対応中です」 once, then leaves it to staff (counted as unread)
    assert any("担当者が対応中です" in r for r in first)
    assert second == []
    assert Handoff.objects.get(resident=resident).unread == 2
    # and garbage questions are still answered
    assert any("有害ごみ" in r for r in say(kyotango_town, resident, "乾電池"))
    # when staff reply, the hand-off is active and nothing is unread
    talk_reply_send(resident=resident, text="届いております。", actor=kenko_editor)
    handoff = Handoff.objects.get(resident=resident)
    assert handoff.status == Handoff.Status.ACTIVE and handoff.unread == 0


def test_paused_bot_is_silent_after_one_notice_until_done(kyotango_town, resident, kenko_editor, say):
    # given staff paused the bot for this resident
    state = talk_bot_pause(resident=resident, actor=kenko_editor)
    minutes = (state.silenced_until - timezone.now()) / dt.timedelta(minutes=1)
    assert 29 < minutes <= 30  # the town's pause time (default 30 minutes)
    # when the resident asks about garbage
    first = say(kyotango_town, resident, "乾電池")
    second = say(kyotango_town, resident, "乾電池")
    # then the bot says once that staff are on it, and otherwise stays quiet
    assert first == ["担当者が対応中です。お返事まで少しお待ちください。"]
    assert second == []
    # when staff mark the conversation done
    talk_handoff_end(resident=resident, actor=kenko_editor)
    # then the bot answers again and the hand-off is closed
    assert any("有害ごみ" in r for r in say(kyotango_town, resident, "乾電池"))
    assert ChatState.objects.get(resident=resident).silenced_until is None
    handoff = Handoff.objects.get(resident=resident)
    assert handoff.status == Handoff.Status.DONE and handoff.closed_by == kenko_editor
    assert AuditEntry.objects.filter(action="chatbot.chatstate.bot_paused").count() == 1


def test_pause_ends_by_itself_after_the_set_time(kyotango_town, resident, kenko_editor, say):
    talk_bot_pause(resident=resident, actor=kenko_editor)
    ChatState.objects.filter(resident=resident).update(
        silenced_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert any("有害ごみ" in r for r in say(kyotango_town, resident, "乾電池"))


def test_handoff_services_refuse_staff_without_reply_and_other_towns(
    town, other_town, other_department, resident, kenko_viewer
):
    with pytest.raises(ChatbotError, match="権限がありません"):
        talk_bot_pause(resident=resident, actor=kenko_viewer)
    with pytest.raises(ChatbotError, match="権限がありません"):
        talk_handoff_end(resident=resident, actor=kenko_viewer)
    with pytest.raises(ChatbotError, match="別の自治体"):
        handoff_request(resident=resident, department=other_department)
    assert not Handoff.objects.exists()


def test_one_open_handoff_per_resident_is_a_database_rule(town, resident):
    from django.db import IntegrityError, transaction

    Handoff.objects.create(municipality=town, resident=resident, requested_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Handoff.objects.create(municipality=town, resident=resident, requested_at=timezone.now())


def test_handoff_mail_goes_to_the_town_address_without_the_residents_words(
    town, resident, django_capture_on_commit_callbacks
):
    town.handoff_notify_email = "madoguchi@example.jp"
    town.save(update_fields=["handoff_notify_email"])
    with django_capture_on_commit_callbacks(execute=True):
        handoff_request(resident=resident, topic="個人的な相談内容")
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["madoguchi@example.jp"]
    assert "職員との会話を希望" in sent.subject and "自治体全体の窓口" in sent.subject
    assert "個人的な相談内容" not in sent.body
    assert f"/admin/chatbot/talkthread/{resident.pk}/change/" in sent.body
