"""The topic → 課 table of the hand-off: staff say which department's inbox receives the hand-offs
about a topic; the bot sends a resident's 「職員と話す」 there by the question asked just before."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chatbot.errors import ChatbotError
from chatbot.models import Handoff, HandoffRoute
from chatbot.services import handoff_route_delete, handoff_route_save
from municipalities.models import AuditEntry

from .factories import FaqFactory


def _route(department, topic: str, keywords: str, *, actor=None, sort_order: int = 0) -> HandoffRoute:
    return handoff_route_save(
        route=HandoffRoute(department=department, topic=topic, keywords=keywords, sort_order=sort_order),
        actor=actor,
        created=True,
    )


def test_a_route_sends_the_handoff_to_its_department_before_the_faq_owner(
    kyotango_town, kenko, somu, resident, say, tap
):
    # given an FAQ of 健康福祉課 close to the question, and a route of 総務課 for its words
    FaqFactory(department=kenko, question="予防接種の持ち物", answer="母子手帳をお持ちください。")
    _route(somu, "予防接種の日程調整", "予防接種\n日程")
    # when the resident asks, then taps 「職員と話す」
    say(kyotango_town, resident, "予防接種について相談したい")
    replies = tap(kyotango_town, resident, "cb:staff")
    # then the route wins: 総務課 gets the hand-off and the resident is told so
    handoff = Handoff.objects.get(resident=resident)
    assert handoff.department == somu
    assert "総務課" in replies[0]


def test_route_words_match_across_widths_kana_and_readings(kyotango_town, somu, resident, say):
    _route(somu, "住民票・戸籍", "住民票\nコセキ")
    say(kyotango_town, resident, "じゅうみんひょうを取りたいのですが")
    say(kyotango_town, resident, "職員と話す")
    assert Handoff.objects.get(resident=resident).department == somu


def test_the_first_route_by_order_wins_and_inactive_routes_are_ignored(
    kyotango_town, kenko, somu, resident, say
):
    _route(kenko, "健診", "申し込み", sort_order=2)
    first = _route(somu, "申請全般", "申し込み", sort_order=1)
    say(kyotango_town, resident, "申し込みの方法を教えて")
    say(kyotango_town, resident, "職員と話す")
    assert Handoff.objects.get(resident=resident).department == somu
    # when staff turn the first route off, the next one counts
    Handoff.objects.all().delete()
    first.is_active = False
    handoff_route_save(route=first, actor=None, created=False)
    say(kyotango_town, resident, "申し込みの方法を教えて")
    say(kyotango_town, resident, "職員と話す")
    assert Handoff.objects.get(resident=resident).department == kenko


def test_without_a_matching_route_the_town_wide_inbox_gets_it(kyotango_town, somu, resident, say):
    _route(somu, "住民票", "住民票")
    say(kyotango_town, resident, "先月の会議の議事録はどこで読めますか")
    say(kyotango_town, resident, "職員と話す")
    assert Handoff.objects.get(resident=resident).department is None


def test_route_service_checks_the_department_and_audits(town, kenko, somu, kenko_editor):
    # an editor of 健康福祉課 may route to their own department, audited
    route = _route(kenko, "予防接種", "予防接種\n予防接種\n ワクチン ", actor=kenko_editor)
    assert route.keyword_list() == ["予防接種", "ワクチン"]  # duplicates and blanks dropped
    entry = AuditEntry.objects.get(action="chatbot.handoffroute.created")
    assert entry.actor == kenko_editor and entry.department_id == kenko.pk
    # not to another department
    with pytest.raises(ChatbotError):
        _route(somu, "住民票", "住民票", actor=kenko_editor)
    # a route needs a word
    with pytest.raises(ChatbotError, match="言葉"):
        _route(kenko, "空", " \n ", actor=kenko_editor)
    handoff_route_delete(route=route, actor=kenko_editor)
    assert not HandoffRoute.objects.exists()
    assert AuditEntry.objects.filter(action="chatbot.handoffroute.deleted").count() == 1


def test_routes_admin_lists_only_the_users_departments(client, kenko, somu, kenko_editor):
    _route(kenko, "予防接種", "予防接種")
    _route(somu, "住民票", "住民票")
    client.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")
    page = client.get(reverse("admin:chatbot_handoffroute_changelist")).content.decode()
    assert "予防接種" in page and "住民票" not in page
    # and adding one through the admin goes through the service (audited)
    response = client.post(
        reverse("admin:chatbot_handoffroute_add"),
        {
            "department": kenko.pk,
            "topic": "健診",
            "keywords": "健診\n検診",
            "sort_order": 0,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert HandoffRoute.objects.get(topic="健診").keyword_list() == ["健診", "検診"]
    assert AuditEntry.objects.filter(action="chatbot.handoffroute.created", actor=kenko_editor).exists()


def test_the_demo_routes_residency_questions_to_somu(town, kenko, somu, areas, resident, say):
    from chatbot import demo

    demo.seed(town)
    say(town, resident, "住民票の写しを郵送で取りたい")
    say(town, resident, "職員と話す")
    assert Handoff.objects.get(resident=resident).department == somu
