"""The webhook: signature, limits, storing each event once, and what processing does."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from municipalities import tasks
from municipalities.line import dispatch, webhook
from municipalities.line import messages as m
from municipalities.line.webhook import signature_valid
from municipalities.models import Resident, SimulatedDelivery, TalkMessage, WebhookEvent
from tests.fakeline import post_webhook, sign, validate_body, webhook_body, webhook_event

NEW_USER = "U" + "9" * 32


_capture = None


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    # The webhook enqueues processing on commit; tests run inside a transaction, so run the
    # callbacks when each post returns (what a commit would do).
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


@pytest.fixture
def broker(settings, monkeypatch, town):
    """A real broker (not eager), with the drain task's wake-ups (``delay``) and follow-ups
    (``apply_async``) recorded instead of sent, and no wake flag, lane lock or word of the
    town's lanes left in Redis before or after."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(webhook, "_wake_seen_until", {})  # no flag seen by an earlier test
    monkeypatch.setattr(webhook, "_wake_failed", set())  # nor a wake-up that failed in one
    monkeypatch.setattr(webhook, "_wake_paused_until", 0.0)
    sent = SimpleNamespace(woken=[], follow_ups=[])
    monkeypatch.setattr(tasks.webhook_events_drain_task, "delay", lambda *args: sent.woken.append(args))
    monkeypatch.setattr(
        tasks.webhook_events_drain_task,
        "apply_async",
        lambda args, kwargs=None, countdown=None: sent.follow_ups.append((args, kwargs, countdown)),
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


def post(client: Client, town, body: bytes, *, signature: str | None = None, slug: str | None = None):
    with _capture(execute=True):
        return post_webhook(client, town, body=body, signature=signature, slug=slug)


def replies_to(user_id: str) -> list[SimulatedDelivery]:
    return list(SimulatedDelivery.objects.filter(line_user_id=user_id, endpoint="reply").order_by("pk"))


def test_signature_known_answer():
    assert signature_valid(
        channel_secret="channel_secret",
        body="bodybodybodybody",
        signature="/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=",
    )
    assert not signature_valid(channel_secret="channel_secret", body="bodybodybodybody", signature="AAAA")
    assert not signature_valid(channel_secret="channel_secret", body="bodybodybodybody", signature="")


def test_bad_or_missing_signature_is_400_and_stores_nothing(client, town):
    body = webhook_body(webhook_event("follow", NEW_USER))
    assert post(client, town, body, signature="").status_code == 400
    assert post(client, town, body, signature=sign("another-secret", body)).status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert not Resident.objects.filter(line_user_id=NEW_USER).exists()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"destination": "U1"}',
        b'{"events": [1]}',
        b'{"events": [{"type": "follow"}]}',
        b'{"events": [{"type": "follow", "webhookEventId": "X", "timestamp": "soon", "mode": "active"}]}',
        b"\xff\xfe",
    ],
)
def test_bodies_that_do_not_parse_are_400(client, town, body):
    assert post(client, town, body).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_verify_button_with_no_events_is_200(client, town):
    assert post(client, town, b'{"destination": "U0", "events": []}').status_code == 200


def test_an_unknown_slug_gets_the_same_400_as_a_bad_signature_after_the_same_hmac(client, town, monkeypatch):
    # given: a spy on the signature check (the slow part: its cost must not tell the slugs apart)
    checked = []
    real = webhook.signature_valid
    monkeypatch.setattr(
        webhook,
        "signature_valid",
        lambda **kwargs: checked.append(kwargs["channel_secret"]) or real(**kwargs),
    )
    body = webhook_body(webhook_event("follow", NEW_USER))
    # when: signed with the town's secret but posted to a slug no town has, then a bad signature
    unknown = post(client, town, body, slug="nowhere")
    unknown_again = post(client, town, body, slug="nowhere")
    forged = post(client, town, body, signature=sign("another-secret", body))
    # then: the same answer, after an HMAC each time, and nothing stored
    assert unknown.status_code == unknown_again.status_code == forged.status_code == 400
    assert unknown.content == unknown_again.content == forged.content
    assert len(checked) == 3 and checked[0] not in ("", town.channel_secret)
    assert WebhookEvent.objects.count() == 0


def test_unknown_slugs_remembered_are_bounded(client, town, monkeypatch):
    # given: room for three unknown slugs
    monkeypatch.setattr(webhook, "UNKNOWN_SLUGS_KEPT", 3)
    webhook.forget_channel()
    body = webhook_body()
    # when: ten different unknown slugs are probed, and the town posts
    for number in range(10):
        assert post(client, town, body, slug=f"probe{number}").status_code == 400
    assert post(client, town, body).status_code == 200
    # then: at most three unknown slugs are kept, and the town's channel is still cached
    unknown = [slug for slug, cached in webhook._channels.items() if cached[0] is None]
    assert 0 < len(unknown) <= 3
    assert webhook._channels[town.slug][0] == town.pk


def test_bodies_over_a_megabyte_are_413(client, town):
    event = webhook_event("message", NEW_USER, text="あ" * 600_000)
    body = webhook_body(event)
    assert len(body) > 1024 * 1024
    assert post(client, town, body).status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_only_post_is_allowed(client, town):
    assert client.get(reverse("line:webhook", kwargs={"slug": town.slug})).status_code == 405


def test_follow_creates_the_resident_and_replies_a_greeting_with_the_settings_link(client, town, settings):
    # given
    settings.SITE_URL = "https://cms.example.jp"
    body = webhook_body(webhook_event("follow", NEW_USER))
    # when
    response = post(client, town, body)
    # then
    assert response.status_code == 200
    resident = Resident.objects.get(municipality=town, line_user_id=NEW_USER)
    assert resident.is_following and resident.followed_at is not None
    assert resident.display_name  # from the (simulated) profile
    [reply] = replies_to(NEW_USER)
    greeting, card = reply.messages
    assert "みどり町" in greeting["text"]
    link = card["template"]["actions"][0]["uri"]
    assert link == "https://cms.example.jp" + reverse("line:receive_settings")  # the staff copy: no token
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_the_greeting_link_as_staff_read_it_signs_nobody_in(client, town):
    # given: the greeting as recorded where staff can read it
    post(client, town, webhook_body(webhook_event("follow", NEW_USER)))
    link = replies_to(NEW_USER)[0].messages[1]["template"]["actions"][0]["uri"]
    # when
    response = Client().get(link)
    # then: the settings page asks to open it from LINE (what LINE got is tested in test_resident_links)
    assert response.status_code == 403
    assert "LINE から開いて" in response.content.decode()


def test_the_towns_own_greeting_is_used(client, town):
    town.follow_greeting = "ようこそ！みどり町です。"
    town.save(update_fields=["follow_greeting"])
    post(client, town, webhook_body(webhook_event("follow", NEW_USER)))
    assert replies_to(NEW_USER)[0].messages[0]["text"] == "ようこそ！みどり町です。"


def test_unfollow_marks_the_resident_blocked_and_follow_reactivates(client, town, resident):
    # when
    post(client, town, webhook_body(webhook_event("unfollow", resident.line_user_id)))
    # then
    resident.refresh_from_db()
    assert not resident.is_following and resident.unfollowed_at is not None
    # when: they unblock
    post(client, town, webhook_body(webhook_event("follow", resident.line_user_id)))
    resident.refresh_from_db()
    assert resident.is_following and resident.unfollowed_at is None
    assert resident.display_name == "山田 花子"


def test_a_redelivery_is_stored_once_and_processed_once(client, town):
    # given
    event = webhook_event("follow", NEW_USER)
    post(client, town, webhook_body(event))
    # when: LINE redelivers the same event
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    response = post(client, town, webhook_body(redelivered))
    # then
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert len(replies_to(NEW_USER)) == 1


def test_the_same_event_twice_in_one_body_is_stored_once(client, town):
    event = webhook_event("message", NEW_USER, text="こんにちは")
    post(client, town, webhook_body(event, event))
    assert WebhookEvent.objects.count() == 1
    assert TalkMessage.objects.filter(direction="in", kind="text").count() == 1


def test_standby_events_are_stored_and_never_answered(client, town, resident):
    post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="もしもし", mode="standby")),
    )
    event = WebhookEvent.objects.get()
    assert event.mode == "standby" and event.status == WebhookEvent.Status.SKIPPED
    assert replies_to(resident.line_user_id) == []


def test_text_with_no_handler_gets_the_help_message_and_is_in_the_talk_log(client, town, resident, handlers):
    # when
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="開庁時間は？")))
    # then
    [reply] = replies_to(resident.line_user_id)
    assert "お答えできませんでした" in reply.messages[0]["text"]
    talk = list(TalkMessage.objects.filter(resident=resident).order_by("pk").values_list("direction", "text"))
    assert talk[0] == ("in", "開庁時間は？")
    assert talk[1][0] == "out"


def test_an_answer_whose_reply_token_lapsed_is_pushed_instead(client, town, resident, handlers):
    # given: an event whose reply token LINE no longer takes (here: already used)
    post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="最初", reply_token="tok-1")),
    )
    # when
    post(
        client,
        town,
        webhook_body(webhook_event("message", resident.line_user_id, text="二回目", reply_token="tok-1")),
    )
    # then: the second answer reached the resident as a push, and the event is not a failure
    assert len(replies_to(resident.line_user_id)) == 1
    [push] = SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id, endpoint="push")
    assert "お答えできませんでした" in push.messages[0]["text"]
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).exists()


@pytest.fixture
def handlers():
    """Register test handlers and take them out again afterwards."""
    saved = (dict(dispatch._postback_handlers), list(dispatch._text_handlers), list(dispatch._text_fallback))
    # Start from an empty registry: the apps' own handlers (chatbot fallback …) are tested there.
    dispatch._postback_handlers.clear()
    dispatch._text_handlers.clear()
    dispatch._text_fallback.clear()
    yield dispatch
    dispatch._postback_handlers.clear()
    dispatch._postback_handlers.update(saved[0])
    dispatch._text_handlers[:] = saved[1]
    dispatch._text_fallback[:] = saved[2]


def test_text_handlers_run_in_order_then_the_fallback(client, town, resident, handlers):
    # given
    seen = []

    def first(ctx):
        seen.append("first")
        return [m.text("ごみの日です")] if "ごみ" in ctx.text else None

    def fallback(ctx):
        seen.append("fallback")
        return [m.text(f"{ctx.resident.display_name}さん、わかりません")]

    handlers.register_text(first, priority=10)
    handlers.set_text_fallback(fallback)
    # when
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="明日のごみは？")))
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="天気は？")))
    # then
    assert seen == ["first", "first", "fallback"]
    assert [r.messages[0]["text"] for r in replies_to(resident.line_user_id)] == [
        "ごみの日です",
        "山田 花子さん、わかりません",
    ]


def test_postbacks_go_to_the_handler_of_their_prefix(client, town, resident, handlers):
    # given
    handlers.register_postback("test", lambda ctx: [m.text(f"受け付けました: {ctx.postback_data}")])
    # when
    post(client, town, webhook_body(webhook_event("postback", resident.line_user_id, data="test:42")))
    post(client, town, webhook_body(webhook_event("postback", resident.line_user_id, data="other:1")))
    # then
    texts = [r.messages[0]["text"] for r in replies_to(resident.line_user_id)]
    assert texts[0] == "受け付けました: test:42"
    assert "ご利用いただけません" in texts[1]


def test_a_failing_handler_is_recorded_and_the_resident_gets_an_apology(client, town, resident, handlers):
    def broken(ctx):
        raise RuntimeError("bug")

    handlers.register_postback("boom", broken)
    post(client, town, webhook_body(webhook_event("postback", resident.line_user_id, data="boom:1")))
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED and "bug" in event.error
    assert "申し訳ありません" in replies_to(resident.line_user_id)[0].messages[0]["text"]


def test_a_service_error_from_a_handler_is_told_to_the_resident(client, town, resident, handlers):
    from municipalities.errors import ServiceError

    def full(ctx):
        raise ServiceError("この枠は満席です。")

    handlers.register_postback("full", full)
    post(client, town, webhook_body(webhook_event("postback", resident.line_user_id, data="full:1")))
    assert replies_to(resident.line_user_id)[0].messages[0]["text"] == "この枠は満席です。"


def test_a_message_from_an_unknown_friend_creates_the_resident(client, town, handlers):
    post(client, town, webhook_body(webhook_event("message", NEW_USER, text="はじめまして")))
    assert Resident.objects.get(line_user_id=NEW_USER).is_following
    assert len(replies_to(NEW_USER)) == 1


def test_processing_twice_is_a_no_op(client, town):
    # given
    post(client, town, webhook_body(webhook_event("follow", NEW_USER)))
    event = WebhookEvent.objects.get()
    # when: the task runs again (a worker redelivery)
    from municipalities.tasks import webhook_events_process_task

    processed = webhook_events_process_task(town.pk, [event.webhook_event_id])
    # then
    assert processed == 0
    assert len(replies_to(NEW_USER)) == 1


def test_events_of_other_towns_stay_apart(client, town, other_town):
    event = webhook_event("follow", NEW_USER, event_id="SAMEID")
    post(client, town, webhook_body(event))
    post(client, other_town, webhook_body(event))
    assert WebhookEvent.objects.filter(webhook_event_id="SAMEID").count() == 2
    assert Resident.objects.filter(line_user_id=NEW_USER).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_posts_store_one_row_and_process_once(town, live_server):
    # given: eight clients post the same follow at the same moment
    import requests

    body = webhook_body(webhook_event("follow", NEW_USER))
    url = live_server.url + reverse("line:webhook", kwargs={"slug": town.slug})
    headers = {"X-Line-Signature": sign(town.channel_secret, body), "Content-Type": "application/json"}
    barrier = threading.Barrier(8)
    statuses = []

    def send():
        barrier.wait()
        statuses.append(requests.post(url, data=body, headers=headers, timeout=10).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert connection.vendor == "postgresql"
    assert statuses == [200] * 8
    assert WebhookEvent.objects.count() == 1
    assert len(replies_to(NEW_USER)) == 1
    assert Resident.objects.filter(line_user_id=NEW_USER).count() == 1


def _inbound_texts(line_user_id: str) -> list[str]:
    """What the resident wrote, as the talk log has it, in the order it was processed."""
    return list(
        TalkMessage.objects.filter(resident__line_user_id=line_user_id, direction="in")
        .order_by("pk")
        .values_list("text", flat=True)
    )


def _stored(municipality_id: int) -> list[tuple]:
    skip = {"id", "municipality", "created_at", "updated_at"}
    columns = [f.name for f in WebhookEvent._meta.concrete_fields if f.name not in skip]
    rows = WebhookEvent.objects.filter(municipality_id=municipality_id).order_by("webhook_event_id")
    return list(rows.values_list(*columns))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_postgresql_insert_stores_what_the_orm_would(town, other_town):
    # given: a body with a message, a standby event, a redelivery, an over-long reply token and
    # the same event twice
    from django.db import transaction

    from municipalities.line.webhook import _store, parse_events

    events = [
        webhook_event("message", NEW_USER, text="明日のごみは？", event_id="EV-A"),
        webhook_event("follow", NEW_USER, event_id="EV-B", mode="standby"),
        webhook_event("unfollow", NEW_USER, event_id="EV-C", redelivery=True),
        webhook_event("message", NEW_USER, text="x", event_id="EV-D", reply_token="r" * 300),
        webhook_event("message", NEW_USER, text="明日のごみは？", event_id="EV-A"),
    ]
    # when: stored on the request path (one prepared statement) and inside a transaction (the ORM)
    assert connection.vendor == "postgresql"
    _store(parse_events({"events": events}, municipality_id=town.pk))
    _store(parse_events({"events": events}, municipality_id=town.pk))  # a redelivery of the body
    with transaction.atomic():
        _store(parse_events({"events": events}, municipality_id=other_town.pk))
    # then: the same four rows, value for value
    assert len(_stored(town.pk)) == 4
    assert _stored(town.pk) == _stored(other_town.pk)
    row = WebhookEvent.objects.get(municipality=town, webhook_event_id="EV-A")
    assert row.payload["message"]["text"] == "明日のごみは？"
    assert (
        row.occurred_at
        == WebhookEvent.objects.get(municipality=other_town, webhook_event_id="EV-A").occurred_at
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_events_after_a_database_restart_are_stored_on_a_new_connection(town, caplog):
    # given: the web process's connection was cut (as a database restart does)
    from municipalities.line.webhook import _store, parse_events

    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    admin = connection.get_new_connection(connection.get_connection_params())
    admin.autocommit = True
    admin.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    admin.close()
    # when: the webhook stores a body (no health check before the insert)
    _store(parse_events({"events": [webhook_event("follow", NEW_USER)]}, municipality_id=town.pk))
    # then: stored once, on a new connection
    assert "storing again on a new one" in caplog.text
    assert WebhookEvent.objects.count() == 1
    assert connection.connection.info.backend_pid != old_pid


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_asynchronous_commit_the_events_are_stored_too(client, town, settings):
    settings.LINE_WEBHOOK_ASYNC_COMMIT = True
    body = webhook_body(webhook_event("follow", NEW_USER), webhook_event("follow", "U" + "7" * 32))
    assert post(client, town, body).status_code == 200
    assert post(client, town, body).status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert not connection.connection.info.transaction_status  # idle: the transaction was closed


def test_the_sweep_processes_events_whose_task_was_lost(client, town, settings):
    # given: an event stored a few minutes ago whose task never ran (the broker was down)
    from datetime import timedelta

    from django.utils import timezone

    from municipalities.line.webhook import parse_events
    from municipalities.tasks import webhook_events_sweep_task

    [fields] = parse_events({"events": [webhook_event("follow", NEW_USER)]}, municipality_id=town.pk)
    row = WebhookEvent.objects.create(**fields)
    WebhookEvent.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    # and one of the same resident (so in the same lane) from seven hours ago: too late to answer
    [fields] = parse_events(
        {"events": [webhook_event("message", NEW_USER, text="昨日の")]}, municipality_id=town.pk
    )
    too_old = WebhookEvent.objects.create(**fields)
    WebhookEvent.objects.filter(pk=too_old.pk).update(created_at=timezone.now() - timedelta(hours=7))
    # when
    swept = webhook_events_sweep_task()
    # then
    assert swept == 1
    assert WebhookEvent.objects.get(pk=row.pk).status == WebhookEvent.Status.PROCESSED
    assert len(replies_to(NEW_USER)) == 1
    assert WebhookEvent.objects.get(pk=too_old.pk).status == WebhookEvent.Status.RECEIVED
    # and a second sweep finds nothing to do
    assert webhook_events_sweep_task() == 0


def test_a_broker_outage_still_answers_200_and_keeps_the_event(client, town, broker, monkeypatch):
    # given: not eager, and the broker refuses
    key = webhook.WAKE_KEY.format(municipality_id=town.pk, lane=webhook.lane_of(NEW_USER))

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.webhook_events_drain_task, "delay", down)
    # when
    response = post(client, town, webhook_body(webhook_event("follow", NEW_USER)))
    # then: stored for the sweep, and the wake flag is not left set
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.RECEIVED
    assert cache.get(key) is None


def test_with_a_broker_one_drain_task_is_woken_for_many_posts(client, town, resident, broker, monkeypatch):
    # given: a real broker (not eager), the wake-ups and follow-ups recorded
    lane = webhook.lane_of(resident.line_user_id)
    woken, follow_ups = broker.woken, broker.follow_ups
    # when: three posts arrive before the drain task starts
    for text in ("一", "二", "三"):
        post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text=text)))
    # then: one wake-up, of the resident's lane
    assert woken == [(town.pk, lane)]
    # when: the drain task runs
    processed = tasks.webhook_events_drain_task.run(town.pk, lane)
    # then: every event was processed in order, and a follow-up run is due a second later
    assert processed == 3
    assert _inbound_texts(resident.line_user_id) == ["一", "二", "三"]
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).exists()
    assert follow_ups == [((town.pk, lane), {"follow_up": True}, webhook.WAKE_SEEN_SECONDS)]
    # when: a post arrives within the second in which this process saw the flag set
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="四")))
    # then: no new wake-up, and the follow-up reads the event (and has no follow-up itself)
    assert woken == [(town.pk, lane)]
    assert tasks.webhook_events_drain_task.run(town.pk, lane, follow_up=True) == 1
    assert len(follow_ups) == 1
    assert _inbound_texts(resident.line_user_id)[-1] == "四"
    # when: that second has passed, the next post wakes a new run
    monkeypatch.setattr(webhook.time, "monotonic", lambda: float("inf"))
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="五")))
    assert woken == [(town.pk, lane), (town.pk, lane)]


def test_a_towns_lanes_are_drained_apart_and_each_resident_in_order(client, town, settings, broker):
    """Several workers answer one town at once, each draining a lane; a resident's messages
    all go to one lane, so they are still answered in the order they were sent."""
    # given: a broker (not eager), four lanes, and two residents in different lanes (a known
    # answer: a user id's lane must be the same in every process and release)
    settings.LINE_WEBHOOK_LANES = 4
    first, second = "U" + "0" * 32, "U" + "1" * 32
    lanes = {first: 3, second: 2}
    assert {user: webhook.lane_of(user) for user in lanes} == lanes
    woken = broker.woken
    # when: both write, in turns, and one body carries a message of each
    for n in range(3):
        for user, label in ((first, "a"), (second, "b")):
            post(client, town, webhook_body(webhook_event("message", user, text=f"{label}{n}")))
    post(
        client,
        town,
        webhook_body(webhook_event("message", first, text="a3"), webhook_event("message", second, text="b3")),
    )
    # then: each lane was woken once, and each event is stored in its resident's lane
    assert sorted(woken) == sorted((town.pk, lane) for lane in lanes.values())
    for user, lane in lanes.items():
        assert set(WebhookEvent.objects.filter(line_user_id=user).values_list("lane", flat=True)) == {lane}
    # when: the first resident's lane is drained
    assert tasks.webhook_events_drain_task.run(town.pk, lanes[first]) == 4

    # then: only the first resident was answered, in order; the other lane is still waiting
    assert _inbound_texts(first) == ["a0", "a1", "a2", "a3"]
    assert _inbound_texts(second) == []
    assert WebhookEvent.objects.filter(line_user_id=second, status=WebhookEvent.Status.RECEIVED).count() == 4
    # when: the other lane is drained
    assert tasks.webhook_events_drain_task.run(town.pk, lanes[second]) == 4
    # then
    assert _inbound_texts(second) == ["b0", "b1", "b2", "b3"]
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).exists()


def _texts_in(node: object) -> list[str]:
    """Every text a resident reads in messages: texts, flex texts, alt texts, labels."""
    if isinstance(node, list):
        return [t for item in node for t in _texts_in(item)]
    if not isinstance(node, dict):
        return []
    keys = {"text", "altText", "label", "displayText"}
    own = [value for key, value in node.items() if key in keys and isinstance(value, str)]
    return own + _texts_in(list(node.values()))


def test_no_text_sent_to_a_resident_carries_a_link(client, town, kenko, resident, settings):
    """A regression guard: the apps' answers and notices open sign-in links with a button;
    a long signed URL pasted into a text is what residents should never see."""
    from reservations.services import reservation_book
    from tests.applications.factories import simple_form, submit
    from tests.reservations.factories import SlotFactory

    # given: absolute links, as in production
    settings.SITE_URL = "https://cms.example.jp"

    def chat() -> None:
        for text in ["予約確認", "予約", "申請状況", "電子申請", "受信設定", "開庁時間は？"]:
            post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text=text)))
        for data in ["rsv:my", "rsv:menus", "app:status", "app:forms", "bc:menu", "bc:areas"]:
            post(client, town, webhook_body(webhook_event("postback", resident.line_user_id, data=data)))

    # when: the resident asks with nothing booked or applied for, books and applies (notices by
    # push), and asks again
    chat()
    with _capture(execute=True):
        reservation_book(slot=SlotFactory(menu__department=kenko), resident=resident)
        submit(simple_form(kenko, title="犬の登録申請"), resident)
    chat()
    # then
    deliveries = SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    sent = [msg for delivery in deliveries for msg in delivery.messages]
    assert [t for t in _texts_in(sent) if "http" in t or "/r/" in t] == []
    flex = [msg for msg in sent if msg["type"] == "flex"]
    uris = [button["action"]["uri"] for msg in flex for button in msg["contents"]["footer"]["contents"]]
    # (as recorded for staff: the plain pages, no sign-in token)
    assert len(uris) >= 12 and all(uri.startswith("https://cms.example.jp/liff/") for uri in uris)
    for msg in sent:  # and LINE's schema takes every one of them
        validate_body("PushMessageRequest", {"to": resident.line_user_id, "messages": [msg]})


def test_a_lane_is_drained_by_one_run_at_a_time(client, town, resident, broker, monkeypatch):
    """A run woken while another drains the same lane does not drain alongside (it would answer
    a resident's messages out of order): it leaves word, and the running one drains again."""
    from municipalities.line import inbound

    # given: a broker (not eager) and a message waiting in the resident's lane
    lane = webhook.lane_of(resident.line_user_id)
    keys = {"municipality_id": town.pk, "lane": lane}
    woken, follow_ups = broker.woken, broker.follow_ups
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="一")))
    assert woken == [(town.pk, lane)]
    cache.delete(webhook.WAKE_KEY.format(**keys))  # the wake-up was delivered
    woken.clear()
    drain = inbound.webhook_events_drain
    turned_away = []

    def drain_while_a_second_run_starts(**kwargs):
        # a second worker starts a run of the same lane while this one drains
        turned_away.append(tasks.webhook_events_drain_task.run(town.pk, lane))
        return drain(**kwargs)

    monkeypatch.setattr(tasks, "webhook_events_drain", drain_while_a_second_run_starts)
    # when
    processed = tasks.webhook_events_drain_task.run(town.pk, lane)
    # then: the second run drained nothing (it comes back when the holder's lease would end,
    # in case the holder died); the first processed the message, and because word was left,
    # woke a new run instead of a follow-up
    assert turned_away == [0]
    assert processed == 1
    [((check_args, check_kwargs, countdown))] = follow_ups
    assert check_args == (town.pk, lane) and check_kwargs is None
    assert tasks.LANE_LOCK_SECONDS - 1 < countdown <= tasks.LANE_LOCK_SECONDS + 0.1
    follow_ups.clear()
    assert woken == [(town.pk, lane)]
    assert cache.get(tasks.LANE_LOCK_KEY.format(**keys)) is None
    # when: that run comes, nobody else draining
    monkeypatch.setattr(tasks, "webhook_events_drain", drain)
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="二")))
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 1
    # then: it drained, and its follow-up is due as usual
    assert follow_ups == [((town.pk, lane), {"follow_up": True}, webhook.WAKE_SEEN_SECONDS)]
    assert _inbound_texts(resident.line_user_id) == ["一", "二"]


def test_a_run_whose_lane_lock_lapsed_does_not_release_the_next_runs_lock(
    client, town, resident, broker, monkeypatch
):
    """A run that outlived its lease finds the lane taken by another run when it ends: it must
    leave that run's lock alone (an unconditional delete would let a third run drain alongside)."""
    from municipalities.line import inbound

    # given: a message waiting in the resident's lane
    lane = webhook.lane_of(resident.line_user_id)
    lock_key = tasks.LANE_LOCK_KEY.format(municipality_id=town.pk, lane=lane)
    post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text="一")))
    drain = inbound.webhook_events_drain

    def drain_past_the_lease(**kwargs):
        result = drain(**kwargs)
        cache.delete(lock_key)  # the lease ran out while this run was still working ...
        assert cache.add(lock_key, "another run", tasks.LANE_LOCK_SECONDS)  # ... and another took the lane
        return result

    monkeypatch.setattr(tasks, "webhook_events_drain", drain_past_the_lease)
    # when
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 1
    # then: the other run still holds the lane
    assert cache.get(lock_key) == "another run"


def test_a_drain_stops_between_events_when_its_time_is_up(client, town, resident, broker, monkeypatch):
    """The time budget is checked before each event, not each batch of a hundred: a run whose
    LINE calls are slow still ends in time (before its lane lock lapses), and a new run goes on."""
    from municipalities.line import inbound

    # given: three messages in the resident's lane, and LINE taking 30 s to answer each
    lane = webhook.lane_of(resident.line_user_id)
    for text in ("一", "二", "三"):
        post(client, town, webhook_body(webhook_event("message", resident.line_user_id, text=text)))
    broker.woken.clear()
    clock = [0.0]
    monkeypatch.setattr(inbound.time, "monotonic", lambda: clock[0])
    process = inbound.webhook_event_process

    def slow(**kwargs):
        clock[0] += 30
        return process(**kwargs)

    monkeypatch.setattr(inbound, "webhook_event_process", slow)
    # when: a run with the usual 50 s budget drains
    processed = tasks.webhook_events_drain_task.run(town.pk, lane)
    # then: it answered two (at 0 s and 30 s), left the third for a new run, which it woke
    assert processed == 2
    received = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED)
    assert [e.payload["message"]["text"] for e in received] == ["三"]
    assert broker.woken == [(town.pk, lane)] and broker.follow_ups == []
    # when: that run comes
    assert tasks.webhook_events_drain_task.run(town.pk, lane) == 1
    # then: all three were answered, in order
    assert _inbound_texts(resident.line_user_id) == ["一", "二", "三"]


# --- bodies that are signed but not LINE's (issue 18, finding 11) -------------------------------


def _signed_text(text: str) -> bytes:
    return ('{"destination": "U' + "0" * 32 + '", "events": [' + text + "]}").encode()


@pytest.mark.parametrize(
    "number",
    ["1e22", "1.5e12", "-1", "0", "99999999999999999999999", "true", "NaN", "1e400", "9" * 5000],
    ids=["1e22", "float", "negative", "zero", "huge-int", "bool", "nan", "overflow", "5000-digits"],
)
def test_a_timestamp_that_is_not_an_integer_millisecond_epoch_is_400_and_stores_nothing(client, town, number):
    # given: a follow whose timestamp is anything but LINE's (1e22 was an OverflowError, a 500)
    event = json.dumps({**webhook_event("follow", NEW_USER), "timestamp": 0}).replace(
        '"timestamp": 0', f'"timestamp": {number}'
    )
    # when
    response = post(client, town, _signed_text(event))
    # then
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_a_body_nested_thousands_deep_is_400(client, town, depth):
    # given: a signed body nested far deeper than the interpreter recurses (a RecursionError, a 500)
    deep = "[" * depth + "]" * depth
    event = json.dumps({**webhook_event("follow", NEW_USER), "extra": 0}).replace(
        '"extra": 0', f'"extra": {deep}'
    )
    # when
    response = post(client, town, _signed_text(event))
    # then
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_nesting_inside_strings_does_not_count(client, town):
    # given: a text of brackets and quotes, far "deeper" than the limit if strings were counted
    text = '\\"[{' * 500 + "]" * 10
    event = webhook_event("message", NEW_USER, text=text)
    # when
    response = post(client, town, webhook_body(event))
    # then
    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["message"]["text"] == text


@pytest.mark.parametrize(
    "change",
    [
        {"message": {"id": "1", "type": "text", "text": 12, "quoteToken": "q"}},
        {"message": {"id": "1", "type": "text", "text": ["申請状況"], "quoteToken": "q"}},
        {"message": {"id": "1", "type": "text", "text": None, "quoteToken": "q"}},
        {"message": {"id": "1", "type": "text", "quoteToken": "q"}},
        {"message": "申請状況"},
        {"source": "user"},
        {"source": {"type": "user", "userId": 7}},
        {"deliveryContext": {"isRedelivery": "no"}},
        {"mode": "sleeping"},
        {"webhookEventId": 12},
    ],
)
def test_a_message_event_that_is_not_lines_shape_is_refused_at_the_door(client, town, change):
    # given: a message event with one part changed away from LINE's schema
    event = {**webhook_event("message", NEW_USER, text="申請状況"), **change}
    # when
    response = post(client, town, webhook_body(event))
    # then
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("data", [42, None, {"rsv": 1}, ["rsv:1"], True])
def test_a_postback_whose_data_is_not_a_string_is_refused_at_the_door(client, town, data):
    event = webhook_event("postback", NEW_USER)
    event["postback"]["data"] = data
    assert post(client, town, webhook_body(event)).status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize(
    "escape",
    ["\\u0000", "\\ud800", "\\udc00x", "a\\ud83d"],
    ids=["nul", "lone-high-surrogate", "lone-low-surrogate", "high-surrogate-at-end"],
)
def test_a_text_postgresql_cannot_store_is_refused_and_the_good_events_are_stored(client, town, escape):
    # given: one event whose text is a NUL or half a surrogate pair, beside a good one
    good = webhook_event("follow", NEW_USER, event_id="GOOD")
    bad = json.dumps(webhook_event("message", NEW_USER, text="TEXT", event_id="BAD")).replace("TEXT", escape)
    # when
    response = post(client, town, _signed_text(json.dumps(good) + "," + bad))
    # then
    assert response.status_code == 200
    assert list(WebhookEvent.objects.values_list("webhook_event_id", flat=True)) == ["GOOD"]


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client, town):
    # given: the text ``\u0000`` typed by a resident (a backslash, then "u0000")
    event = webhook_event("message", NEW_USER, text="\\u0000")
    # when
    response = post(client, town, json.dumps({"events": [event]}).encode())
    # then
    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["message"]["text"] == "\\u0000"


def test_one_bad_event_among_good_ones_stores_the_good_ones_once(client, town, resident):
    # given: three good events and two bad ones (LINE's events are independent: see webhook.py)
    good = [
        webhook_event("message", resident.line_user_id, text="一", event_id="G1"),
        webhook_event("follow", NEW_USER, event_id="G2"),
        webhook_event("unfollow", "U" + "8" * 32, event_id="G3"),
    ]
    bad_text = webhook_event("message", resident.line_user_id, event_id="B1")
    bad_text["message"]["text"] = {"nested": "object"}
    bad_time = {**webhook_event("follow", NEW_USER, event_id="B2"), "timestamp": 10**22}
    body = webhook_body(good[0], bad_text, good[1], bad_time, good[2])
    # when: posted, and posted again (a redelivery of the whole post)
    first = post(client, town, body)
    second = post(client, town, body)
    # then: the good ones, once each; the bad ones never
    assert first.status_code == second.status_code == 200
    assert sorted(WebhookEvent.objects.values_list("webhook_event_id", flat=True)) == ["G1", "G2", "G3"]


def test_a_non_finite_number_in_a_field_line_did_not_define_makes_only_its_event_bad(client, town):
    # given: NaN and an overflowing float where LINE's schema says nothing (jsonb takes neither)
    good = json.dumps(webhook_event("follow", NEW_USER, event_id="GOOD"))
    nan = json.dumps({**webhook_event("follow", NEW_USER, event_id="NAN"), "extra": 0}).replace(
        '"extra": 0', '"extra": [NaN]'
    )
    big = json.dumps({**webhook_event("follow", NEW_USER, event_id="BIG"), "extra": 0}).replace(
        '"extra": 0', '"extra": {"x": -1e999}'
    )
    # when
    response = post(client, town, _signed_text(",".join([nan, good, big])))
    # then
    assert response.status_code == 200
    assert list(WebhookEvent.objects.values_list("webhook_event_id", flat=True)) == ["GOOD"]


def test_an_event_type_line_adds_later_is_stored_and_not_answered(client, town):
    # given: a type not in LINE's document yet, with the base fields right
    event = {**webhook_event("unfollow", NEW_USER), "type": "somethingNew", "somethingNew": {"x": 1}}
    # when
    response = post(client, town, webhook_body(event))
    # then
    assert response.status_code == 200
    assert WebhookEvent.objects.get().event_type == "somethingNew"
    assert replies_to(NEW_USER) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "message", "source": "user", "message": {"type": "text", "text": "x"}},
        {"type": "message", "source": {"type": "user"}, "message": {"type": "text", "text": 12}},
        {"type": "message", "source": {"type": "user"}, "message": {"type": "text", "text": ["a"]}},
        {"type": "message", "source": {"type": "user"}, "message": "申請状況"},
        {"type": "postback", "source": {"type": "user"}, "postback": {"data": 42}},
        {"type": "postback", "source": {"type": "user"}, "postback": ["rsv:1"]},
        {"type": "postback", "source": {"type": "user"}, "postback": {"data": "x:1", "params": "p"}},
        ["not", "an", "object"],
    ],
)
def test_processing_a_stored_odd_event_never_crashes_the_drain(client, town, resident, handlers, payload):
    # given: a row stored before the door checked events (or by hand), then a good message after it
    from django.utils import timezone

    from municipalities.line.inbound import webhook_events_drain

    WebhookEvent.objects.create(
        municipality=town,
        webhook_event_id="ODD",
        event_type=payload["type"] if isinstance(payload, dict) else "message",
        line_user_id=resident.line_user_id,
        reply_token="odd-token",
        occurred_at=timezone.now(),
        payload=payload,
        lane=webhook.lane_of(resident.line_user_id),
    )
    handlers.register_postback("x", lambda ctx: [m.text(f"data={ctx.postback_data} {ctx.postback_params}")])
    [fields] = webhook.parse_events(
        {"events": [webhook_event("message", resident.line_user_id, text="あとの", event_id="NEXT")]},
        municipality_id=town.pk,
    )
    WebhookEvent.objects.create(**fields)
    # when
    processed, finished = webhook_events_drain(municipality_id=town.pk, lane=fields["lane"])
    # then: both are processed, the odd one without an apology for a bug, the next one answered
    assert (processed, finished) == (2, True)
    odd = WebhookEvent.objects.get(webhook_event_id="ODD")
    assert odd.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.SKIPPED), odd.error
    assert WebhookEvent.objects.get(webhook_event_id="NEXT").status == WebhookEvent.Status.PROCESSED
    assert not any(
        "申し訳ありません。ただいま" in d.messages[0].get("text", "")
        for d in replies_to(resident.line_user_id)
    )
