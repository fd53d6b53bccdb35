"""Nothing assumes one machine: two gunicorn nodes and two Celery workers on one PostgreSQL and
one Redis (``conftest.py``) take a booking rush, a webhook burst and a broadcast, and the
invariants hold across them: no slot oversold and every counter right, each resident's
messages answered once and in order, each broadcast recipient reached exactly once.

A resident signs in on one node and books on the other; a resident's messages arrive at both
nodes in turn; the broadcast's batches are shared by both workers while LINE answers some of
them with 500 and 429.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock
from urllib.parse import urlencode

import pytest

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.services import broadcast_approve, broadcast_submit
from chatbot.models import KeywordRule
from chatbot.services import keyword_rule_save
from municipalities.line.liff import resident_token
from municipalities.models import Department, Resident, WebhookEvent
from municipalities.services import resident_follow
from reservations.models import Reservation, ReservationStatus, Slot
from tests.broadcasts.factories import interest_of, make_broadcast, make_residents
from tests.conftest import make_town
from tests.fakeline import sign, webhook_body, webhook_event
from tests.multinode.conftest import Browser, Cluster
from tests.processes import send_task, wait_until
from tests.reservations.factories import MenuFactory, SlotFactory, in_days

pytestmark = pytest.mark.django_db(transaction=True)

BOOKED_ANSWERS = range(
    200, 400
)  # the confirm form answers a booking with the done page (or a redirect to it)
REFUSED = 409  # full, or the resident's limit


def _residents(town, count: int, prefix: str) -> list[Resident]:
    return [
        resident_follow(municipality=town, line_user_id=f"U{prefix}{n:0{32 - len(prefix)}x}")[0]
        for n in range(count)
    ]


def _post_form(browser: Browser, node, path: str, token: str) -> int:
    return browser.request(
        node,
        "POST",
        path,
        body=urlencode({"csrfmiddlewaretoken": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).status


def test_a_booking_rush_across_two_nodes_oversells_nothing_and_keeps_the_limits(cluster_cache: Cluster):
    # given: a menu with one booking per resident, a hot slot of 15 places and two roomy ones
    cluster = cluster_cache
    town = make_town("nodes-book", "二拠点予約町")
    department = Department.objects.create(municipality=town, code="kenko", name="健康福祉課")
    menu = MenuFactory(
        department=department, reminder_offsets="", max_active_per_resident=1, max_per_resident_per_day=1
    )
    hot = SlotFactory(menu=menu, starts_at=in_days(3, 9), capacity=15)
    roomy = [SlotFactory(menu=menu, starts_at=in_days(3, 13 + n), capacity=40) for n in range(2)]
    residents = _residents(town, 40, "b")
    browsers = [Browser() for _ in residents]
    tokens: list[str] = []

    # ... each resident signed in on one node (the link the bot sends) and shown the confirm
    # page of the hot slot by the other: the session is the cluster's, not a node's
    def sign_in(i: int) -> str:
        first, other = cluster.nodes[i % 2], cluster.nodes[1 - i % 2]
        opened = browsers[i].request(
            first, "GET", f"/r/{resident_token(residents[i], '/liff/reservations/')}/"
        )
        assert opened.status == 302, opened.body[:300]
        page = browsers[i].request(other, "GET", f"/liff/reservations/slot/{hot.pk}/")
        assert page.status == 200, page.body[:300]
        return browsers[i].csrf_token(page.body)

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(sign_in, range(len(residents))))

    # when: all of them post the hot slot at once, half through each node
    def book_hot(i: int) -> int:
        return _post_form(browsers[i], cluster.nodes[i % 2], f"/liff/reservations/slot/{hot.pk}/", tokens[i])

    with ThreadPoolExecutor(16) as pool:
        first_rush = list(pool.map(book_hot, range(len(residents))))

    # ... and then each of them posts both roomy slots at once, one through each node
    def book_both(i: int) -> list[int]:
        with ThreadPoolExecutor(2) as pair:
            answers = [
                pair.submit(_post_form, browsers[i], node, f"/liff/reservations/slot/{slot.pk}/", tokens[i])
                for node, slot in zip(cluster.nodes, roomy, strict=True)
            ]
            return [answer.result() for answer in answers]

    with ThreadPoolExecutor(8) as pool:
        second_rush = list(pool.map(book_both, range(len(residents))))

    # then: the hot slot is exactly full and the others were refused, from either node
    assert sum(status in BOOKED_ANSWERS for status in first_rush) == 15, first_rush
    assert sorted(set(first_rush) - set(BOOKED_ANSWERS)) == [REFUSED], first_rush
    # ... one more booking for each resident without one, none for those who have one
    for i, answers in enumerate(second_rush):
        wanted = 0 if first_rush[i] in BOOKED_ANSWERS else 1
        assert sum(status in BOOKED_ANSWERS for status in answers) == wanted, (i, first_rush[i], answers)
        assert all(status in BOOKED_ANSWERS or status == REFUSED for status in answers), answers
    # ... in the database: every resident holds exactly one booking, no slot is oversold, and
    # every counter equals its bookings
    booked = Reservation.objects.filter(menu=menu, status=ReservationStatus.BOOKED)
    assert sorted(collections.Counter(booked.values_list("resident_id", flat=True)).values()) == [1] * 40
    for slot in Slot.objects.filter(menu=menu):
        holders = booked.filter(slot=slot).count()
        assert slot.reserved == holders <= slot.capacity, (slot.pk, slot.reserved, holders, slot.capacity)
    assert booked.filter(slot=hot).count() == 15
    # ... and each booking's confirmation reached its resident once, from whichever worker
    users = set(booked.values_list("resident__line_user_id", flat=True))
    deliveries = cluster.line.state.deliveries_per_user
    wait_until(lambda: all(deliveries[user] for user in users), timeout=60)
    time.sleep(1)  # a duplicate would arrive within the same second
    assert {user: deliveries[user] for user in users} == dict.fromkeys(users, 1)
    cluster.assert_alive()


KEYWORDS = 5


def test_a_webhook_burst_across_two_nodes_answers_each_resident_once_and_in_order(cluster_cache: Cluster):
    # given: five keyword answers, and residents who send them one after the other, each
    # message to the other node than the one before, one of them redelivered by LINE to the
    # node that did not get it first
    cluster = cluster_cache
    town = make_town("nodes-hook", "二拠点応答町")
    department = Department.objects.create(municipality=town, code="somu", name="総務課")
    for k in range(1, KEYWORDS + 1):
        keyword_rule_save(
            rule=KeywordRule(department=department, keyword=f"順番{k}", reply=f"{k}番目の答えです"),
            actor=None,
            created=True,
        )
    residents = _residents(town, 24, "h")
    secret = town.channel_secret

    def post(node, event: dict) -> int:
        body = webhook_body(event)
        return node.request(
            "POST",
            f"/line/webhook/{town.slug}/",
            body=body,
            headers={"Content-Type": "application/json", "X-Line-Signature": sign(secret, body)},
        )[0]

    def talk(i: int) -> list[int]:
        statuses = []
        for k in range(1, KEYWORDS + 1):
            event = webhook_event("message", residents[i].line_user_id, text=f"順番{k}")
            statuses.append(post(cluster.nodes[(i + k) % 2], event))
            if k == 2:
                event["deliveryContext"] = {"isRedelivery": True}
                statuses.append(post(cluster.nodes[(i + k + 1) % 2], event))
        return statuses

    # when: they all talk at once
    with ThreadPoolExecutor(12) as pool:
        acknowledged = list(pool.map(talk, range(len(residents))))

    # then: every post was acknowledged, and each event stored once
    assert {status for statuses in acknowledged for status in statuses} == {200}
    events = WebhookEvent.objects.filter(municipality=town)
    assert events.count() == len(residents) * KEYWORDS
    # ... every event answered (by reply, or by push once the reply token was stale) once, and
    # each resident's answers came in the order of the questions, whichever worker answered
    users = {r.line_user_id for r in residents}
    by_token = {e.payload.get("replyToken"): e.line_user_id for e in events}

    def answers() -> dict[str, list[str]]:
        found: dict[str, list[str]] = collections.defaultdict(list)
        for request in cluster.line.requests:
            if request.status != 200 or request.endpoint not in ("reply", "push"):
                continue
            user = by_token.get(request.body.get("replyToken")) or request.body.get("to")
            if user in users:
                found[user] += [message.get("text", "") for message in request.body["messages"]]
        return found

    wait_until(lambda: sum(map(len, answers().values())) >= len(users) * KEYWORDS, timeout=60)
    settled = [WebhookEvent.Status.PROCESSED, WebhookEvent.Status.FAILED, WebhookEvent.Status.SKIPPED]
    wait_until(lambda: not events.exclude(status__in=settled).exists(), timeout=30)
    time.sleep(1)  # a second answer to any event would arrive within the same second
    expected = [f"{k}番目の答えです" for k in range(1, KEYWORDS + 1)]
    assert answers() == dict.fromkeys(users, expected)
    assert set(events.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    cluster.assert_alive()


RECIPIENTS = 10_001  # 21 batches of at most 500


def test_a_broadcast_sent_by_two_workers_reaches_everyone_exactly_once_through_faults(
    cluster_cache: Cluster,
):
    # given: an approved broadcast to 10,001 residents, not started yet, and a LINE that
    # answers some multicasts with 500 (some after accepting them) and 429
    cluster = cluster_cache
    town = make_town("nodes-cast", "二拠点配信町")
    department = Department.objects.create(municipality=town, code="kenko", name="健康福祉課")
    interest = interest_of(town)
    recipients = {r.line_user_id for r in make_residents(town, RECIPIENTS, interests=[interest])}
    broadcast = broadcast_submit(broadcast=make_broadcast(department, category=interest), actor=None)
    with mock.patch("broadcasts.tasks.broadcast_start_task.delay"):  # the workers start it, not this process
        broadcast_approve(broadcast=broadcast, actor=None)
    line = cluster.line
    line.fail("multicast", 500, 429)
    line.fail_rate, line.throttle_rate, line.fail_after_accept = 0.1, 0.05, 0.5
    try:
        # when: the start goes through Redis, as the beat sends it
        send_task(cluster.redis, "broadcasts.tasks.broadcast_start_task", [broadcast.pk])

        def sent() -> bool:
            cluster.assert_alive()
            return Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SENT).exists()

        wait_until(sent, timeout=90)
    finally:
        line.fail_rate = line.throttle_rate = line.fail_after_accept = 0.0
        injected = dict(line.faults_injected)

    # then: every batch sent
    batches = DeliveryBatch.objects.filter(broadcast=broadcast)
    assert set(batches.values_list("status", flat=True)) == {BatchStatus.SENT}
    assert batches.count() == 21
    # ... LINE was asked again after every refusal (the two queued ones and each injected fault)
    assert line.request_count("multicast") >= 21 + 2 + sum(injected.values()), injected
    # ... each recipient reached exactly once at LINE, nobody else
    deliveries = line.state.deliveries_per_user
    reached = {user for batch in batches for user in line.recipients_by_key[str(batch.retry_key)]}
    assert reached == recipients
    assert {user: deliveries[user] for user in recipients} == dict.fromkeys(recipients, 1)
    # ... and both workers sent batches
    for log in cluster.worker_logs():
        assert "delivery_batch_send_task" in log
