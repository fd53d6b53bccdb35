"""Staff notices on the admin home: residents waiting for staff and unanswered questions, only
where the user answers them; 承認待ち for those who approve."""

from __future__ import annotations

from django.utils import timezone

from chatbot.models import Handoff, UnansweredQuestion
from chatbot.services import handoff_request
from municipalities.notices import notices_for


def test_handoff_and_unanswered_notices_follow_the_department(
    town, kenko, somu, resident, other_resident, kenko_editor, somu_editor, kenko_viewer
):
    # given one hand-off in 健康福祉課's inbox with two unread messages, one open question
    handoff_request(resident=resident, department=kenko)
    Handoff.objects.filter(resident=resident).update(unread=2)
    UnansweredQuestion.objects.create(
        municipality=town, normalized="q", text="質問", last_asked_at=timezone.now()
    )
    # when each member of staff opens the admin home
    kenko_texts = [n.text for n in notices_for(kenko_editor)]
    somu_texts = [n.text for n in notices_for(somu_editor)]
    # then 健康福祉課 sees the waiting resident with the new messages; 総務課 does not
    assert "職員との会話を待っている住民 1 人（新しいメッセージ 2 件）" in kenko_texts
    assert not any("職員との会話" in t for t in somu_texts)
    assert "答えられなかった質問 1 件" in kenko_texts
    # and a viewer, who cannot answer, sees no waiting resident
    assert not any("職員との会話" in t for t in [n.text for n in notices_for(kenko_viewer)])


def test_town_wide_handoff_is_seen_by_everyone_who_answers(town, resident, kenko_editor, somu_editor):
    handoff_request(resident=resident)
    for user in (kenko_editor, somu_editor):
        assert any("職員との会話を待っている住民 1 人" == n.text for n in notices_for(user))


def test_admin_home_shows_the_notices(client, town, resident, town_admin):
    handoff_request(resident=resident)
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    response = client.get("/admin/")
    assert "対応が必要なこと" in response.content.decode()
    assert "職員との会話を待っている住民 1 人" in response.content.decode()
