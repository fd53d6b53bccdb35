"""The worker's path for one stored text event (claim, sender, answer, reply, done): its queries
are pinned, and what it keeps per process (the answer index, 災害モード, the hand-off routes)
follows staff's changes in every process and never mixes towns."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatbot import selectors
from chatbot.models import ChatState, Handoff, HandoffRoute, KeywordRule
from chatbot.services import handoff_route_save, keyword_rule_save
from municipalities.line import inbound, towncache, webhook
from municipalities.line.client import get_line_client
from municipalities.models import SimulatedDelivery, TalkMessage, WebhookEvent
from municipalities.services import resident_follow
from richmenus.models import DisasterMode
from tests.fakeline import webhook_event

from .factories import FaqFactory

pytestmark = pytest.mark.django_db

UNANSWERABLE = "ｘｙｚ何かの質問"


def _store(town, resident, text: str) -> WebhookEvent:
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text=text)]}, municipality_id=town.pk
    )
    return WebhookEvent.objects.create(**fields)


def _work(town, event: WebhookEvent) -> None:
    assert inbound.webhook_event_process(event=event, municipality=town, client=get_line_client(town))


def _last_reply(resident) -> list[str]:
    delivery = SimulatedDelivery.objects.filter(endpoint="reply", line_user_id=resident.line_user_id).latest(
        "pk"
    )
    return [message.get("text", message.get("altText", "")) for message in delivery.messages]


def _process(town, resident, text: str) -> list[str]:
    """Store a text event of ``resident`` and process it as the worker does; the reply's texts."""
    _work(town, _store(town, resident, text))
    return _last_reply(resident)


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """Each query as its verb and table ("SELECT municipalities_resident"), savepoints as such;
    a WITH as the verb and table of each of its parts ("WITH INSERT a, UPDATE b")."""
    found = []
    for query in queries.captured_queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        if verb == "WITH":
            parts = re.findall(r'\b(INSERT INTO|UPDATE)\s+"?(\w+)"?', sql)
            found.append("WITH " + ", ".join(f"{v.split()[0]} {table}" for v, table in parts))
            continue
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
        found.append(
            verb if verb in {"SAVEPOINT", "RELEASE"} else f"{verb} {table.group(1) if table else ''}"
        )
    return found


# The worker's statements for an answered text event, once the worker is warm (its index built,
# the town's versions in the shared cache). The talk log, the outcome and done are written after
# the reply: one statement on PostgreSQL (municipalities.line.pgwrites), the ORM's three in one
# transaction elsewhere. The simulator's SAVEPOINT/RELEASE are there because a test runs in a
# transaction: outside one, its delivery is one autocommitted INSERT, so a worker on PostgreSQL
# runs 4 queries (the api backend writes no SimulatedDelivery: 3).
def answered_text_event() -> list[str]:
    return [
        "UPDATE municipalities_webhookevent",  # the claim
        "SELECT municipalities_resident",  # the sender, with the chat state (one JOIN)
        "SAVEPOINT",
        "INSERT municipalities_simulateddelivery",  # the reply ("LINE")
        "RELEASE",
        *(
            # the message and the reply (one INSERT), the outcome for the reports, done
            [
                "WITH INSERT municipalities_talkmessage, INSERT municipalities_metricevent, "
                "UPDATE municipalities_webhookevent"
            ]
            if connection.vendor == "postgresql"
            else [  # in one transaction (here a savepoint)
                "SAVEPOINT",
                "INSERT municipalities_talkmessage",
                "INSERT municipalities_metricevent",
                "UPDATE municipalities_webhookevent",
                "RELEASE",
            ]
        ),
    ]


@pytest.mark.parametrize(
    ("text", "expected"), [("アルバム", "【可燃ごみ】"), ("住民票の写しはどこで取れますか", "市民課の窓口")]
)
def test_a_garbage_item_or_faq_answer_reads_only_the_sender(kyotango_town, kenko, resident, text, expected):
    # given: a warm worker (an earlier message built the index and read the versions)
    FaqFactory(department=kenko, question="住民票の写しはどこで取れますか", answer="市民課の窓口です。")
    _process(kyotango_town, resident, "こんにちは")
    event = _store(kyotango_town, resident, text)
    # when
    with CaptureQueriesContext(connection) as queries:
        _work(kyotango_town, event)
    # then: the answer, and no read of the chat state, 災害モード, rules or index
    assert any(expected in reply for reply in _last_reply(resident))
    assert _statements(queries) == answered_text_event()
    assert len(queries) == (6 if connection.vendor == "postgresql" else 10)


def test_a_lanes_drain_reads_the_town_once_and_each_batch_in_one_query(kyotango_town, resident, monkeypatch):
    # given: a warm worker and three stored messages of one lane, drained two at a time
    _process(kyotango_town, resident, "こんにちは")
    events = [_store(kyotango_town, resident, text) for text in ("アルバム", "乾電池", "アルバム")]
    monkeypatch.setattr(inbound, "DRAIN_BATCH", 2)
    # when
    with CaptureQueriesContext(connection) as queries:
        processed, finished = inbound.webhook_events_drain(
            municipality_id=kyotango_town.pk, lane=events[0].lane, budget_seconds=60
        )
    # then: each answered, and around them only the run's own reads
    assert (processed, finished) == (3, True)
    assert {e.status for e in WebhookEvent.objects.filter(pk__in=[e.pk for e in events])} == {"processed"}
    statements = _statements(queries)
    each = answered_text_event()
    run = [
        "SELECT municipalities_municipality",  # the town, once
        "UPDATE municipalities_webhookevent",  # the events a dead run left 処理中
        "SELECT municipalities_webhookevent",  # the first two
        *each,
        *each,
        "SELECT municipalities_webhookevent",  # the third
        *each,
        "SELECT municipalities_webhookevent",  # none left
    ]
    assert statements == run


def test_the_message_and_its_answer_are_logged_in_order_in_one_insert(kyotango_town, resident):
    _process(kyotango_town, resident, "アルバム")
    inbound_row, outbound_row = TalkMessage.objects.filter(resident=resident).order_by("created_at", "pk")
    assert (inbound_row.direction, inbound_row.text) == (TalkMessage.Direction.INBOUND, "アルバム")
    assert outbound_row.direction == TalkMessage.Direction.OUTBOUND and "【可燃ごみ】" in outbound_row.text
    assert inbound_row.pk < outbound_row.pk


def test_the_chat_state_read_with_the_sender_is_the_current_one(kyotango_town, resident):
    # given: staff paused the bot for this resident, during an open hand-off
    Handoff.objects.create(
        municipality=kyotango_town,
        resident=resident,
        status=Handoff.Status.ACTIVE,
        requested_at=timezone.now(),
    )
    ChatState.objects.create(
        municipality=kyotango_town, resident=resident, silenced_until=timezone.now() + dt.timedelta(hours=1)
    )
    # when / then: said once, then quiet (no reply at all), as before the state came with the sender
    assert _process(kyotango_town, resident, "アルバム") == [
        "担当者が対応中です。お返事まで少しお待ちください。"
    ]
    replies_before = SimulatedDelivery.objects.filter(endpoint="reply").count()
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text="アルバム")]},
        municipality_id=kyotango_town.pk,
    )
    event = WebhookEvent.objects.create(**fields)
    inbound.webhook_event_process(
        event=event, municipality=kyotango_town, client=get_line_client(kyotango_town)
    )
    assert SimulatedDelivery.objects.filter(endpoint="reply").count() == replies_before
    # and the unanswered message is in the talk log all the same
    assert TalkMessage.objects.filter(resident=resident, direction=TalkMessage.Direction.INBOUND).count() == 2


def test_an_event_reads_the_towns_versions_in_one_cache_round_trip(kyotango_town, resident, monkeypatch):
    _process(kyotango_town, resident, "こんにちは")
    calls = []
    real = towncache.cache

    class Counting:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(real, name)

    monkeypatch.setattr(towncache, "cache", Counting())
    _process(kyotango_town, resident, UNANSWERABLE)  # keyword rules, fallback, 災害モード note
    assert calls == ["get_many"]


# --- staff changes, in this process and in the others ------------------------------------------


def test_disaster_mode_switched_is_seen_by_the_next_message(kyotango_town, resident):
    # given: the fallback without a note, and 災害モード no longer read per message
    assert not any("災害モード" in r for r in _process(kyotango_town, resident, UNANSWERABLE))
    with CaptureQueriesContext(connection) as queries:
        _process(kyotango_town, resident, UNANSWERABLE)
    assert not any("richmenus_disastermode" in q["sql"] for q in queries.captured_queries)
    # when: staff switch it on (the switch saves the row; so does the admin)
    mode = DisasterMode.objects.create(municipality=kyotango_town, is_on=True, disaster_type="flood")
    # then
    assert "災害モード" in _process(kyotango_town, resident, UNANSWERABLE)[0]
    # and off again
    mode.is_on = False
    mode.save(update_fields=["is_on", "updated_at"])
    assert not any("災害モード" in r for r in _process(kyotango_town, resident, UNANSWERABLE))


def test_a_change_another_process_made_is_seen_through_the_shared_version(kyotango_town, kenko, resident):
    # given: this process's copies of the town's keyword rules and 災害モード
    KeywordRule.objects.create(department=kenko, keyword="開庁時間", reply="8時30分からです。")
    assert _process(kyotango_town, resident, "開庁時間") == ["8時30分からです。"]
    assert not any("災害モード" in r for r in _process(kyotango_town, resident, UNANSWERABLE))
    # when: another process changes them (written without this process's signals or services:
    # what reaches this process is the new version in the shared cache, as its invalidate leaves it)
    KeywordRule.objects.filter(keyword="開庁時間").update(reply="9時からです。")
    DisasterMode.objects.bulk_create([DisasterMode(municipality=kyotango_town, is_on=True)])
    assert _process(kyotango_town, resident, "開庁時間") == ["8時30分からです。"]  # the copy, still
    for key in ("chatbot:index-version:{}", "richmenus:disaster-version:{}"):
        cache.set(key.format(kyotango_town.pk), uuid.uuid4().hex, None)
    # then
    assert _process(kyotango_town, resident, "開庁時間") == ["9時からです。"]
    assert "災害モード" in _process(kyotango_town, resident, UNANSWERABLE)[0]


def test_a_keyword_rule_staff_change_answers_on_commit(
    kyotango_town, kenko, resident, django_capture_on_commit_callbacks
):
    rule = KeywordRule(department=kenko, keyword="健診", reply="5月です。")
    with django_capture_on_commit_callbacks(execute=True):
        keyword_rule_save(rule=rule, actor=None, created=True)
    assert _process(kyotango_town, resident, "健診") == ["5月です。"]
    rule.reply = "6月に変わりました。"
    with django_capture_on_commit_callbacks(execute=True):
        keyword_rule_save(rule=rule, actor=None, created=False)
    assert _process(kyotango_town, resident, "健診") == ["6月に変わりました。"]


def test_hand_off_routes_are_cached_and_follow_staff_changes(town, kenko, somu):
    # given: one route, its words read once
    route = handoff_route_save(
        route=HandoffRoute(department=somu, topic="住民票", keywords="住民票"), actor=None, created=True
    )
    assert selectors.handoff_route_for(municipality_id=town.pk, text="住民票がほしい") == route
    with CaptureQueriesContext(connection) as queries:
        assert selectors.handoff_route_for(municipality_id=town.pk, text="犬の登録") is None
    assert len(queries) == 0
    # when staff change its words (on commit for the other processes, at once for this one)
    route.keywords = "戸籍"
    handoff_route_save(route=route, actor=None, created=False)
    # then
    assert selectors.handoff_route_for(municipality_id=town.pk, text="住民票がほしい") is None
    assert selectors.handoff_route_for(municipality_id=town.pk, text="戸籍の写し").department == somu
    # and when they delete it
    route.delete()
    assert selectors.handoff_route_for(municipality_id=town.pk, text="戸籍の写し") is None


def test_a_copy_built_before_the_writers_commit_is_not_kept(town, django_capture_on_commit_callbacks):
    # given: a cache whose value is how many times it was built
    builds = []
    name = f"test.counting.{uuid.uuid4().hex}"
    counting = towncache.TownCache(
        name, lambda municipality_id: builds.append(1) or len(builds), version_key=name + ":{}"
    )
    try:
        assert counting.get(town.pk) == 1 and counting.get(town.pk) == 1
        # when: a writer changes the rows; a reader builds before the commit (the old rows)
        with django_capture_on_commit_callbacks(execute=True):
            counting.invalidate_now_and_on_commit(town.pk)
            assert counting.get(town.pk) == 2
        # then: after the commit the copy is built again, once
        assert counting.get(town.pk) == 3 and counting.get(town.pk) == 3
    finally:
        towncache._caches.pop(name)


# --- towns ---------------------------------------------------------------------------------------


def test_a_town_never_sees_another_towns_rules_or_disaster_mode(
    town, kenko, other_town, other_department, resident
):
    # given: the same keyword in both towns, 災害モード in one, a route in one
    KeywordRule.objects.create(department=kenko, keyword="開庁時間", reply="みどり町は8時30分から")
    KeywordRule.objects.create(department=other_department, keyword="開庁時間", reply="あおば市は9時から")
    DisasterMode.objects.create(municipality=town, is_on=True)
    HandoffRoute.objects.create(department=kenko, topic="健診", keywords="健診")
    neighbour, _ = resident_follow(municipality=other_town, line_user_id="U" + "a" * 32)
    # when / then: each town's own, read in either order, from warm copies too
    for _round in range(2):
        assert _process(town, resident, "開庁時間") == ["みどり町は8時30分から"]
        assert _process(other_town, neighbour, "開庁時間") == ["あおば市は9時から"]
        assert "災害モード" in _process(town, resident, UNANSWERABLE)[0]
        assert not any("災害モード" in r for r in _process(other_town, neighbour, UNANSWERABLE))
        assert selectors.handoff_route_for(municipality_id=town.pk, text="健診の予約").department == kenko
        assert selectors.handoff_route_for(municipality_id=other_town.pk, text="健診の予約") is None
