"""Who asked an unanswered question, and sending them the new FAQ answer in one logged action."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from chatbot.errors import ChatbotError
from chatbot.models import UnansweredAsk, UnansweredQuestion
from chatbot.services import unanswered_answer_send, unanswered_resolve
from municipalities.models import AuditEntry, SimulatedDelivery, TalkMessage

QUESTION = "粗大ごみシールはどこで買えますか"


def test_askers_are_recorded_and_get_the_new_answer_once(
    kyotango_town, somu, resident, other_resident, somu_editor, say, django_capture_on_commit_callbacks
):
    # given two residents asked a question the bot could not answer (one of them twice)
    say(kyotango_town, resident, QUESTION)
    say(kyotango_town, resident, QUESTION)
    say(kyotango_town, other_resident, QUESTION)
    question = UnansweredQuestion.objects.get(municipality=kyotango_town)
    assert question.count == 3
    assert set(question.asks.values_list("resident_id", flat=True)) == {resident.pk, other_resident.pk}
    # and staff cannot send before there is an FAQ
    with pytest.raises(ChatbotError, match="先にこの質問を FAQ に登録"):
        unanswered_answer_send(question=question, actor=somu_editor)
    # when staff register the answer and send it (twice by mistake)
    unanswered_resolve(
        question=question, actor=somu_editor, department=somu, answer="役場の総務課で買えます。"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert unanswered_answer_send(question=question, actor=somu_editor) == 2
    with pytest.raises(ChatbotError, match="回答を送る住民がいません"):
        unanswered_answer_send(question=question, actor=somu_editor)
    # then each asker got the answer once, logged in their talk, and one audit entry says so
    pushes = SimulatedDelivery.objects.filter(endpoint="push")
    assert sorted(p.line_user_id for p in pushes) == sorted(
        [resident.line_user_id, other_resident.line_user_id]
    )
    assert all("役場の総務課で買えます。" in p.messages[0]["text"] for p in pushes)
    assert not UnansweredAsk.objects.filter(answered_at__isnull=True).exists()
    assert (
        TalkMessage.objects.filter(
            resident=resident, direction="out", text__contains="総務課で買えます"
        ).count()
        == 1
    )
    entry = AuditEntry.objects.get(action="chatbot.unansweredquestion.answer_sent")
    assert entry.data["residents"] == 2


def test_admin_lists_who_asked_with_links_and_sends_by_action(
    kyotango_town, somu, resident, town_admin, say, django_capture_on_commit_callbacks
):
    say(kyotango_town, resident, QUESTION)
    question = UnansweredQuestion.objects.get(municipality=kyotango_town)
    client = Client()
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    page = client.get(reverse("admin:chatbot_unansweredquestion_change", args=[question.pk])).content.decode()
    assert reverse("admin:chatbot_talkthread_change", args=[resident.pk]) in page and "回答待ち" in page
    unanswered_resolve(question=question, actor=town_admin, department=somu, answer="総務課で買えます。")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:chatbot_unansweredquestion_changelist"),
            {"action": "send_answer", "_selected_action": [question.pk]},
            follow=True,
        )
    assert "1 件の質問の回答を送りました。" in response.content.decode()
    assert SimulatedDelivery.objects.filter(endpoint="push", line_user_id=resident.line_user_id).count() == 1
