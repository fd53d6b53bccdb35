"""The webhook under transient faults, in process: Redis away at the wake-up, a handler meeting
Redis or a cut database connection, LINE's 429/5xx on the reply, the lane lock's lease.

The same faults from outside (gunicorn, real workers, a Redis stopped and restarted, connections
cut with ``pg_terminate_backend``) are in ``tests/faults/test_webhook_*.py``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from municipalities import tasks
from municipalities.line import dispatch, inbound, webhook
from municipalities.line import messages as m
from municipalities.line.client import get_line_client
from municipalities.line.errors import LineRateLimited, LineReplyTokenExpired, LineRetryableError
from municipalities.line.retry import LINE_MAX_ATTEMPTS, is_transient
from municipalities.line.simulator import SimulatorClient
from municipalities.models import SimulatedDelivery, WebhookEvent
from tests.fakeline import post_webhook, webhook_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def handlers(monkeypatch):
    """Handler registries of this test only."""
    monkeypatch.setattr(dispatch, "_postback_handlers", {})
    monkeypatch.setattr(dispatch, "_text_handlers", [])
    monkeypatch.setattr(dispatch, "_text_fallback", [])
    return dispatch


@pytest.fixture
def broker(settings, monkeypatch, town):
    """Not eager; every drain task sent is recorded (args, kwargs, countdown) instead."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(webhook, "_wake_seen_until", {})
    monkeypatch.setattr(webhook, "_wake_failed", set())
    monkeypatch.setattr(webhook, "_wake_paused_until", 0.0)
    sent = []
    task = tasks.webhook_events_drain_task
    monkeypatch.setattr(task, "delay", lambda *args: sent.append((args, {}, None)))
    monkeypatch.setattr(
        task,
        "apply_async",
        lambda args, kwargs=None, countdown=None: sent.append((args, kwargs or {}, countdown)),
    )

    def clear() -> None:
        for lane in range(settings.LINE_WEBHOOK_LANES):
            for template in (
                webhook.WAKE_KEY,
                tasks.LANE_LOCK_KEY,
                tasks.LANE_AGAIN_KEY,
                tasks.LANE_CHECK_KEY,
            ):
                cache.delete(template.format(municipality_id=town.pk, lane=lane))

    clear()
    yield sent
    clear()


_capture = None


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    # The webhook wakes its lanes on commit; tests run inside a transaction, so run the
    # callbacks when each post returns (what a commit would do).
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


def post(client, town, *events):
    with _capture(execute=True):
        return post_webhook(client, town, *events)


def replies(user_id: str) -> list[str]:
    return [
        d.messages[0]["text"]
        for d in SimulatedDelivery.objects.filter(line_user_id=user_id).order_by("pk")
        if d.messages[0]["type"] == "text"
    ]


def test_transient_faults_are_told_from_permanent_ones():
    assert is_transient(redis.exceptions.ConnectionError("Redis is loading"))
    assert is_transient(LineRetryableError("502", status=502)) and is_transient(LineRateLimited("429"))
    assert is_transient(OperationalError("terminating connection due to administrator command"))
    assert is_transient(InterfaceError("connection already closed"))
    wrapped = RuntimeError("handler")
    wrapped.__cause__ = redis.exceptions.TimeoutError()
    assert is_transient(wrapped)
    assert not is_transient(RuntimeError("bug")) and not is_transient(KeyError("x"))


# --- the wake-up -----------------------------------------------------------------------------


def test_redis_away_at_the_wake_up_still_answers_200_and_the_lane_is_woken_by_the_next_post(
    client, town, resident, broker, monkeypatch
):
    lane = webhook.lane_of(resident.line_user_id)

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as away:
        # given: Redis refuses every command (the flag, and the flag's removal in the except)
        away.setattr(webhook.cache, "add", down)
        away.setattr(webhook.cache, "delete", down)
        # when
        response = post(client, town, webhook_event("message", resident.line_user_id, text="ごみの日は？"))
    # then: 200, the event stored, nothing woken, the lane remembered
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.RECEIVED
    assert broker == [] and (town.pk, lane) in webhook._wake_failed
    # when: Redis is back, and another resident (another lane) posts after the pause
    monkeypatch.setattr(webhook, "_wake_paused_until", 0.0)
    other = next(f"U{n:032x}" for n in range(100) if webhook.lane_of(f"U{n:032x}") != lane)
    assert post(client, town, webhook_event("follow", other)).status_code == 200
    # then: both lanes are woken, the remembered one included
    assert sorted(args for args, _, _ in broker) == sorted(
        [(town.pk, lane), (town.pk, webhook.lane_of(other))]
    )
    assert webhook._wake_failed == set()


def test_while_wake_ups_fail_posts_do_not_ask_redis_again_at_once(
    client, town, resident, broker, monkeypatch
):
    calls = []

    def down(*args, **kwargs):
        calls.append(args)
        raise redis.exceptions.ConnectionError("down")

    with monkeypatch.context() as away:
        away.setattr(webhook.cache, "add", down)
        away.setattr(webhook.cache, "delete", down)
        for text in ("一", "二", "三"):
            response = post(client, town, webhook_event("message", resident.line_user_id, text=text))
            assert response.status_code == 200
    # the first post's add and delete; the next two within the pause, not at all
    assert len(calls) == 2
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).count() == 3


def test_eager_processing_that_fails_still_answers_200(client, town, resident, monkeypatch):
    def broken(*args, **kwargs):
        raise redis.exceptions.ConnectionError("down")

    monkeypatch.setattr(webhook, "enqueue", broken)
    response = post(client, town, webhook_event("message", resident.line_user_id, text="こんにちは"))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.RECEIVED


# --- a handler meets a transient fault -----------------------------------------------------------


def test_a_transient_fault_in_a_handler_gives_the_event_back_instead_of_an_apology(
    client, town, resident, handlers, broker
):
    # given: a handler whose Redis is away the first time, and a second message behind it
    calls = []

    def flaky(ctx):
        calls.append(ctx.text)
        if len(calls) == 1:
            raise redis.exceptions.ConnectionError("Connection refused")
        return [m.text(f"答え: {ctx.text}")]

    handlers.register_text(flaky)
    post(client, town, webhook_event("message", resident.line_user_id, text="一"))
    post(client, town, webhook_event("message", resident.line_user_id, text="二"))
    lane = webhook.lane_of(resident.line_user_id)
    broker.clear()
    # when: the lane is drained
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 0
    # then: no answer, no apology; the first event is received again with its attempt counted,
    # the second waits behind it, and the drain runs again after the policy's wait
    assert replies(resident.line_user_id) == []
    first, second = WebhookEvent.objects.order_by("pk")
    assert first.status == WebhookEvent.Status.RECEIVED and first.attempts == 1
    assert "再試行" in first.error and "ConnectionError" in first.error
    assert second.status == WebhookEvent.Status.RECEIVED and second.attempts == 0
    [(args, kwargs, countdown)] = broker
    assert args == (town.pk, lane) and kwargs == {} and 1 <= countdown <= 2
    assert first.retry_at is not None
    assert cache.get(tasks.LANE_LOCK_KEY.format(municipality_id=town.pk, lane=lane)) is None
    # when: a run woken before the wait is over (a new post, the sweep)
    broker.clear()
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 0
    # then: the lane still waits, and is drained again when the wait ends
    [(args, kwargs, countdown)] = broker
    assert args == (town.pk, lane) and 0 < countdown <= 2
    assert replies(resident.line_user_id) == []
    # when: the drain runs again after the wait, the fault gone
    time.sleep(countdown)
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 2
    # then: both are answered once, in order
    assert replies(resident.line_user_id) == ["答え: 一", "答え: 二"]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}


def test_a_transient_fault_that_does_not_pass_ends_in_the_apology(client, town, resident, handlers):
    # given: a handler that always meets the fault, an event that has been tried all but once
    def down(ctx):
        raise redis.exceptions.ConnectionError("Connection refused")

    handlers.register_postback("rsv", down)
    assert (
        post(client, town, webhook_event("postback", resident.line_user_id, data="rsv:1")).status_code == 200
    )
    assert WebhookEvent.objects.get().attempts == 1 and replies(resident.line_user_id) == []
    WebhookEvent.objects.update(attempts=LINE_MAX_ATTEMPTS - 1, retry_at=None)
    # when
    event = WebhookEvent.objects.get()
    inbound.webhook_events_process(municipality_id=town.pk, webhook_event_ids=[event.webhook_event_id])
    # then: recorded as failed, and the resident is told
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and "ConnectionError" in event.error
    assert "ただいま処理できませんでした" in replies(resident.line_user_id)[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_handler_whose_connection_is_cut_gives_the_event_back_on_a_fresh_connection(
    client, town, resident, handlers
):
    # given: a handler whose database connection is terminated under it
    def cut(ctx):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return [m.text("届かない答え")]

    handlers.register_text(cut)
    # when
    assert (
        post(client, town, webhook_event("message", resident.line_user_id, text="こんにちは")).status_code
        == 200
    )
    # then: not 処理済み without an answer: received again, its attempt and the fault recorded
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.RECEIVED and event.attempts == 1
    assert "OperationalError" in event.error or "InterfaceError" in event.error
    assert replies(resident.line_user_id) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failure_after_the_connection_was_cut_is_recorded_on_a_fresh_one(client, town, resident, handlers):
    # given: a handler that loses its connection and then fails for good (a bug)
    def cut_then_bug(ctx):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        except Exception:
            pass
        raise RuntimeError("bug after the cut")

    handlers.register_text(cut_then_bug)
    # when
    assert (
        post(client, town, webhook_event("message", resident.line_user_id, text="こんにちは")).status_code
        == 200
    )
    # then: the failure is on the row, and the resident got the apology
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED and "bug after the cut" in event.error
    assert "ただいま処理できませんでした" in replies(resident.line_user_id)[0]


# --- the reply meets a transient fault -----------------------------------------------------------


@pytest.fixture
def reply_faults(monkeypatch):
    """Make the simulator's reply fail with the queued errors first."""
    queued: list[Exception] = []
    real_reply = SimulatorClient.reply
    slept: list[float] = []

    def reply(self, *args, **kwargs):
        if queued:
            raise queued.pop(0)
        return real_reply(self, *args, **kwargs)

    monkeypatch.setattr(SimulatorClient, "reply", reply)
    monkeypatch.setattr(inbound.time, "sleep", slept.append)
    return SimpleNamespace(queued=queued, slept=slept)


def test_a_reply_throttled_by_line_is_sent_again_after_the_policys_wait(
    client, town, resident, handlers, reply_faults
):
    handlers.register_text(lambda ctx: [m.text("答えです")])
    reply_faults.queued.extend([LineRateLimited("Too Many Requests", status=429)] * 2)
    post(client, town, webhook_event("message", resident.line_user_id, text="質問"))
    assert replies(resident.line_user_id) == ["答えです"]
    assert len(reply_faults.slept) == 2 and all(s >= 1 for s in reply_faults.slept)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_after_a_5xx_a_refused_token_is_recorded_not_pushed(client, town, resident, handlers, reply_faults):
    # given: LINE answers 500 (the reply may have arrived), then refuses the token as used
    handlers.register_text(lambda ctx: [m.text("答えです")])
    reply_faults.queued.extend(
        [
            LineRetryableError("Internal Server Error", status=500),
            LineReplyTokenExpired("Invalid reply token"),
        ]
    )
    # when
    post(client, town, webhook_event("message", resident.line_user_id, text="質問"))
    # then: no push (it could be the second answer); the row says why
    assert SimulatedDelivery.objects.filter(endpoint="push").count() == 0
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED and "確認できません" in event.error


def test_an_expired_token_without_an_earlier_fault_is_answered_by_push(
    client, town, resident, handlers, reply_faults
):
    handlers.register_text(lambda ctx: [m.text("答えです")])
    reply_faults.queued.append(LineReplyTokenExpired("Invalid reply token"))
    post(client, town, webhook_event("message", resident.line_user_id, text="質問"))
    [push] = SimulatedDelivery.objects.filter(endpoint="push")
    assert push.messages[0]["text"] == "答えです"


# --- the lane lock ---------------------------------------------------------------------------------


def test_a_lane_lock_is_short_and_extended_while_its_run_works(
    client, town, resident, handlers, broker, monkeypatch
):
    # given: a lease of 1 s extended every 0.2 s, and a handler that works 1.5 s
    monkeypatch.setattr(tasks, "LANE_LOCK_SECONDS", 1)
    monkeypatch.setattr(tasks, "LANE_LOCK_EXTEND_SECONDS", 0.2)
    lane = webhook.lane_of(resident.line_user_id)
    lock_key = cache.make_key(tasks.LANE_LOCK_KEY.format(municipality_id=town.pk, lane=lane))
    held = []

    def slow(ctx):
        time.sleep(1.5)
        held.append(tasks._redis().pttl(lock_key))  # still held, its lease renewed
        return [m.text("ゆっくり答えます")]

    handlers.register_text(slow)
    post(client, town, webhook_event("message", resident.line_user_id, text="質問"))
    # when
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 1
    # then
    assert 0 < held[0] <= 1000
    assert tasks._redis().exists(lock_key) == 0
    assert replies(resident.line_user_id) == ["ゆっくり答えます"]


def test_a_run_that_lost_its_lane_lock_stops_before_its_next_event(
    client, town, resident, handlers, broker, monkeypatch
):
    # given: two messages; while the first is answered, Redis forgets the lock (restarted
    # without its data) and another run takes the lane
    monkeypatch.setattr(tasks, "LANE_LOCK_EXTEND_SECONDS", 0.1)
    lane = webhook.lane_of(resident.line_user_id)
    lock_key = cache.make_key(tasks.LANE_LOCK_KEY.format(municipality_id=town.pk, lane=lane))

    def taken(ctx):
        if ctx.text == "一":
            tasks._redis().set(lock_key, "another run", ex=15)
            time.sleep(0.5)  # the keeper finds out
        return [m.text(f"答え: {ctx.text}")]

    handlers.register_text(taken)
    post(client, town, webhook_event("message", resident.line_user_id, text="一"))
    post(client, town, webhook_event("message", resident.line_user_id, text="二"))
    broker.clear()
    # when
    processed = tasks.webhook_events_drain_task.run(town.pk, lane)
    # then: it answered the event it had begun, left the second to the run that holds the lane,
    # and did not release that run's lock
    assert processed == 1
    assert replies(resident.line_user_id) == ["答え: 一"]
    assert tasks._redis().get(lock_key) == b"another run"
    tasks._redis().delete(lock_key)


def test_a_dead_runs_lock_holds_its_lane_for_the_short_lease_only(town):
    # a run killed while holding the lock (or whose Redis restarted with the lock in its data)
    lock = tasks._lane_lock(tasks.LANE_LOCK_KEY.format(municipality_id=town.pk, lane=0))
    assert lock.acquire()
    ttl = tasks._redis().pttl(lock.lock.name)
    assert 0 < ttl <= tasks.LANE_LOCK_SECONDS * 1000 <= 20_000
    lock.release()


def test_the_sweep_wakes_lanes_waiting_over_its_threshold(town, resident):
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text="一")]}, municipality_id=town.pk
    )
    event = WebhookEvent.objects.create(**fields)
    assert inbound.webhook_lanes_pending() == []
    WebhookEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - inbound.SWEEP_AFTER - timedelta(seconds=1)
    )
    assert inbound.webhook_lanes_pending() == [(town.pk, event.lane)]
    assert inbound.SWEEP_AFTER <= timedelta(seconds=15)


def test_giving_an_event_back_costs_one_query(town, resident):
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text="一")]}, municipality_id=town.pk
    )
    event = WebhookEvent.objects.create(**{**fields, "status": WebhookEvent.Status.PROCESSING})
    with CaptureQueriesContext(connection) as queries:
        wait = inbound._give_back(event, redis.exceptions.ConnectionError("down"), inbound_logged=True)
    assert len(queries) == 1
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED and event.processed_at is None
    assert event.attempts == 1 and 1 <= wait <= 2 and event.retry_at is not None and event.inbound_logged


def test_a_run_turned_away_by_a_dead_runs_lock_comes_back_when_its_lease_ends(client, town, resident, broker):
    # given: the lane held by a run that died (its lock has 2 s of its lease left) and a message
    lane = webhook.lane_of(resident.line_user_id)
    lock_key = cache.make_key(tasks.LANE_LOCK_KEY.format(municipality_id=town.pk, lane=lane))
    tasks._redis().set(lock_key, "a dead run", px=2000)
    post(client, town, webhook_event("message", resident.line_user_id, text="一"))
    broker.clear()
    # when: the woken run is turned away
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 0
    # then: it comes back when the lease ends (once, however many runs are turned away)
    [(args, kwargs, countdown)] = broker
    assert args == (town.pk, lane) and 1 < countdown <= 2.1
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 0
    assert len(broker) == 1
    # and then drains the lane
    time.sleep(countdown)
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 1
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


# --- a run killed while it answered --------------------------------------------------------------


def _taken_by_a_dead_run(town, resident, text: str) -> WebhookEvent:
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text=text)]}, municipality_id=town.pk
    )
    return WebhookEvent.objects.create(
        **{**fields, "status": WebhookEvent.Status.PROCESSING, "processed_at": timezone.now()}
    )


def test_an_event_a_killed_run_left_taken_is_answered_by_the_lanes_next_run(town, resident, handlers, broker):
    # given: an event a run had taken (処理中) when its worker was killed, before it replied
    handlers.register_text(lambda ctx: [m.text(f"答え: {ctx.text}")])
    event = _taken_by_a_dead_run(town, resident, "一")
    # when: the lane's next run drains it
    assert tasks.webhook_events_drain_task.run(town.pk, event.lane) == 1
    # then: answered once, and 処理済み
    assert replies(resident.line_user_id) == ["答え: 一"]
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED and event.attempts == 1


def test_an_event_a_killed_run_may_have_answered_is_not_pushed_again(town, resident, handlers, broker):
    # given: the dead run had replied (the token is used) but died before it marked the event
    handlers.register_text(lambda ctx: [m.text("答えです")])
    event = _taken_by_a_dead_run(town, resident, "一")
    get_line_client(town).reply(event.reply_token, [m.text("答えです")])
    # when
    tasks.webhook_events_drain_task.run(town.pk, event.lane)
    # then: LINE refused the token; nothing is pushed in its stead, and the row says why
    assert replies(resident.line_user_id) == ["答えです"]
    assert SimulatedDelivery.objects.filter(endpoint="push").count() == 0
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and "確認できません" in event.error


def test_the_sweep_wakes_a_lane_whose_event_was_left_taken(town, resident):
    event = _taken_by_a_dead_run(town, resident, "一")
    assert inbound.webhook_lanes_pending() == []  # a run may still be answering it
    WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now() - timedelta(seconds=16))
    assert inbound.webhook_lanes_pending() == [(town.pk, event.lane)]
