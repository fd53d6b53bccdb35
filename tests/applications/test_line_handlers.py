"""「申請状況」 and the app: postbacks, through the real webhook."""

from __future__ import annotations

import pytest
from django.urls import reverse

from municipalities.models import SimulatedDelivery, TalkMessage
from tests.applications.factories import submit
from tests.conftest import link_button, shown_text
from tests.fakeline import post_webhook, webhook_body, webhook_event

pytestmark = pytest.mark.django_db


def post(client, town, body: bytes, capture):
    with capture(execute=True):
        return post_webhook(client, town, body=body)


def last_message(resident) -> dict:
    reply = (
        SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id, endpoint="reply")
        .order_by("pk")
        .last()
    )
    return reply.messages[0]


def last_reply(resident) -> str:
    return shown_text(last_message(resident))


def test_status_text_lists_the_residents_own_submissions(
    client, town, form, resident, other_resident, django_capture_on_commit_callbacks
):
    mine = submit(form, resident)
    theirs = submit(form, other_resident)
    response = post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="申請状況")),
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    text = last_reply(resident)
    assert mine.reference in text and "受付" in text
    mine_page = reverse("applications:submission_list")
    assert link_button(last_message(resident)) == ("申請状況を見る", mine_page)
    assert theirs.reference not in text


def test_status_answer_is_kept_out_of_the_town_wide_talk_log(
    client, town, form, resident, django_capture_on_commit_callbacks
):
    # given: a submission to a department's form
    mine = submit(form, resident)
    # when: the resident asks for the status
    post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="申請状況")),
        django_capture_on_commit_callbacks,
    )
    # then: the resident read the list; the town-wide talk log says only that it was sent
    assert mine.reference in last_reply(resident)
    answer = TalkMessage.objects.filter(resident=resident, direction="out").latest("pk")
    assert (answer.kind, answer.department_id) == ("summary", None)
    assert mine.reference not in answer.text and form.title not in answer.text


def test_status_with_no_submissions(client, town, form, resident, django_capture_on_commit_callbacks):
    post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="申請状況？")),
        django_capture_on_commit_callbacks,
    )
    assert "申請はまだありません" in last_reply(resident)
    assert link_button(last_message(resident)) == (
        "手続きを見る",
        reverse("applications:form_list"),
    )


def test_forms_text_and_status_postback(client, town, form, resident, django_capture_on_commit_callbacks):
    post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="電子申請")),
        django_capture_on_commit_callbacks,
    )
    assert "犬の登録申請" in last_reply(resident)
    assert link_button(last_message(resident)) == ("申請する", reverse("applications:form_list"))
    assert last_message(resident)["quickReply"]["items"][0]["action"]["data"] == "app:status"
    submit(form, resident)
    post(
        client,
        town,
        webhook_body(webhook_event("postback", resident.line_user_id, data="app:status")),
        django_capture_on_commit_callbacks,
    )
    assert "最近の申請" in last_reply(resident)


def test_unknown_postback_gets_a_help_text(client, town, resident, django_capture_on_commit_callbacks):
    post(
        client,
        town,
        webhook_body(webhook_event("postback", resident.line_user_id, data="app:zzz")),
        django_capture_on_commit_callbacks,
    )
    assert "申請状況" in last_reply(resident)
