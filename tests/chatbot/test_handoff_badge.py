"""The hand-off badge in the header of every admin page: residents waiting for staff, only where
the user answers them, from the cache (no query on a page while nothing changed), right again as
soon as a hand-off changes."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chatbot.models import Handoff
from chatbot.notices import handoff_badge
from chatbot.services import handoff_note_message, handoff_request, talk_handoff_end
from municipalities.notices import badges_for


def _badge_html(client, url: str) -> str:
    page = client.get(url).content.decode()
    start = page.find('class="cms-header-badge"')
    return page[start : page.find("</a>", start)] if start >= 0 else ""


def test_the_badge_is_on_every_admin_page_and_follows_the_handoffs(
    client, town, kenko, resident, other_resident, town_admin, django_capture_on_commit_callbacks
):
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    assert _badge_html(client, reverse("admin:index")) == ""
    # given two residents waiting for staff, one with a new message
    with django_capture_on_commit_callbacks(execute=True):
        handoff_request(resident=resident, topic="相談")
        handoff_request(resident=other_resident, topic="相談", department=kenko)
        handoff_note_message(resident=resident)
    # then every admin page shows 「職員対応待ち 2」 linking to the waiting talks
    for url in (
        reverse("admin:index"),
        reverse("admin:chatbot_faq_changelist"),
        reverse("admin:municipalities_auditentry_changelist"),
    ):
        badge = _badge_html(client, url)
        assert "職員対応待ち" in badge and ">2</span>" in badge, url
        assert reverse("admin:chatbot_talkthread_changelist") + "?handoff=open" in badge
        assert "新しいメッセージ 1 件" in badge
    # when staff mark one done, the badge counts one at once
    with django_capture_on_commit_callbacks(execute=True):
        talk_handoff_end(resident=resident, actor=town_admin)
    assert ">1</span>" in _badge_html(client, reverse("admin:index"))


def test_the_badge_counts_only_the_inboxes_the_user_answers(
    town, kenko, somu, resident, other_resident, kenko_editor, somu_editor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        handoff_request(resident=resident, department=kenko)
        handoff_request(resident=other_resident, department=somu)
    assert handoff_badge(kenko_editor).count == 1
    assert handoff_badge(somu_editor).count == 1
    assert Handoff.objects.count() == 2


def test_the_badge_reads_the_database_once_until_a_handoff_changes(
    town, resident, other_resident, town_admin, django_capture_on_commit_callbacks
):
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        handoff_request(resident=resident)
    # the first page computes it with one query
    with CaptureQueriesContext(connection) as first:
        assert badges_for(town_admin)[0].count == 1
    assert len([q for q in first.captured_queries if "chatbot_handoff" in q["sql"]]) == 1
    # the next pages read the cache only
    with CaptureQueriesContext(connection) as again:
        for _ in range(3):
            assert badges_for(town_admin)[0].count == 1
    assert [q for q in again.captured_queries if "chatbot_handoff" in q["sql"]] == []
    # a new hand-off is counted on the next page
    with django_capture_on_commit_callbacks(execute=True):
        handoff_request(resident=other_resident)
    assert badges_for(town_admin)[0].count == 2
