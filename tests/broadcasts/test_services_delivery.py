"""Fan-out and delivery: start once, batches of ≤ 500, each batch sent once, retries, failures."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.selectors import FANOUT_STALE_AFTER, batch_claim_timeout
from broadcasts.services import (
    batch_send,
    broadcast_approve,
    broadcast_cancel,
    broadcast_fan_out,
    broadcast_start,
    broadcast_submit,
    broadcast_unfollows_count,
    delivery,
    delivery_batch_send,
    delivery_batches_requeue_stuck,
)
from broadcasts.services.batch_send import IMMEDIATE_RETRIES, MAX_ATTEMPTS, backoff_seconds
from broadcasts.services.delivery import (
    Written,
    _write_batches_in_sql,
    _write_batches_streamed,
    batch_retry_key,
)
from broadcasts.tasks import delivery_batch_send_task
from municipalities.line.client import get_line_client
from municipalities.models import Resident, SimulatedDelivery
from municipalities.selectors import residents_for_segment
from tests.broadcasts.factories import make_broadcast, make_residents
from tests.fakeline import post_webhook, webhook_body, webhook_event


def approved(department, head, editor, **kwargs) -> Broadcast:
    broadcast = make_broadcast(department, **kwargs)
    broadcast = broadcast_submit(broadcast=broadcast, actor=editor)
    # Approve without running the start: the tests drive it step by step.
    return broadcast_approve(broadcast=broadcast, actor=head)


@pytest.fixture
def many(town, interests):
    return make_residents(town, 1201, interests=[interests["kenko"]])


def test_start_writes_batches_of_at_most_500_with_deterministic_keys(
    kenko, kenko_head, kenko_editor, interests, many
):
    # given
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    # when
    started = broadcast_start(broadcast_id=broadcast.pk)
    # then
    batches = list(DeliveryBatch.objects.filter(broadcast=broadcast).order_by("seq"))
    assert [b.size for b in batches] == [500, 500, 201]
    assert [b.retry_key for b in batches] == [batch_retry_key(broadcast.pk, seq) for seq in range(3)]
    ids = [uid for b in batches for uid in b.line_user_ids]
    assert len(ids) == len(set(ids)) == 1201
    assert set(ids) == {r.line_user_id for r in many}
    assert (started.status, started.recipient_count, started.batch_count) == (
        BroadcastStatus.SENDING,
        1201,
        3,
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("count", "several_interests", "first_seq", "limit", "sizes"),
    [
        (1201, False, 0, 10_000, [500, 500, 201]),
        (1000, True, 0, 10_000, [500, 500]),
        (0, False, 0, 10_000, []),
        (1201, False, 7, 1000, [500, 500]),  # a step of the fan-out: the next 1,000, numbered from 7
    ],
)
def test_sql_fan_out_writes_the_same_rows_as_the_streamed_one(
    kenko, interests, town, count, several_interests, first_seq, limit, sizes
):
    # given: residents in primary-key order; with two interests each resident chose both
    chosen = [interests["kenko"], interests["bosai"]] if several_interests else [interests["kenko"]]
    residents = sorted(make_residents(town, count, interests=chosen), key=lambda r: r.pk)[:limit]
    first, second = make_broadcast(kenko), make_broadcast(kenko)
    recipients = residents_for_segment(municipality=town, interest_ids=[i.pk for i in chosen])
    now = timezone.now()
    # when
    in_sql = _write_batches_in_sql(first.pk, recipients, now, first_seq=first_seq, limit=limit)
    streamed = _write_batches_streamed(second.pk, recipients, now, first_seq=first_seq, limit=limit)
    # then
    assert in_sql == streamed == Written(len(sizes), len(residents), residents[-1].pk if residents else None)

    def rows(broadcast):
        batches = DeliveryBatch.objects.filter(broadcast=broadcast).order_by("seq")
        return list(batches.values_list("seq", "size", "line_user_ids", "retry_key"))

    seqs = list(range(first_seq, first_seq + len(sizes)))
    assert [row[:3] for row in rows(first)] == [row[:3] for row in rows(second)]
    assert [seq for seq, *_ in rows(first)] == seqs
    assert [size for _, size, _, _ in rows(first)] == sizes
    assert [uid for _, _, ids, _ in rows(first) for uid in ids] == [r.line_user_id for r in residents]
    assert [key for *_, key in rows(first)] == [batch_retry_key(first.pk, seq) for seq in seqs]


@pytest.mark.django_db(transaction=True)  # each step commits, and its send tasks go out then
def test_the_fan_out_writes_in_steps_and_sends_the_first_batches_before_the_last_are_written(
    kenko, kenko_head, kenko_editor, interests, many
):
    # given: one batch per step; approved for later (here the approval commits, and would start
    # a broadcast for now at once), then due
    broadcast = approved(
        kenko,
        kenko_head,
        kenko_editor,
        category=interests["kenko"],
        send_mode="at",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    seen_at_send: list[tuple[int, bool]] = []
    real_send = batch_send.delivery_batch_send

    def send(*, batch_id):
        b = Broadcast.objects.get(pk=broadcast.pk)
        seen_at_send.append(
            (DeliveryBatch.objects.filter(broadcast=broadcast).count(), b.fanned_out_at is not None)
        )
        return real_send(batch_id=batch_id)

    # when
    with (
        mock.patch.object(delivery, "FANOUT_BATCHES", 1),
        mock.patch.object(batch_send, "delivery_batch_send", send),
    ):
        started = broadcast_start(broadcast_id=broadcast.pk)
    # then: the same three batches as in one step, and everyone received it once
    assert seen_at_send[0] == (1, False)  # the first batch went out while the rest were unwritten
    batches = list(DeliveryBatch.objects.filter(broadcast=broadcast).order_by("seq"))
    assert [(b.seq, b.size, b.retry_key) for b in batches] == [
        (seq, size, batch_retry_key(broadcast.pk, seq)) for seq, size in enumerate([500, 500, 201])
    ]
    per_user = SimulatedDelivery.objects.filter(endpoint="multicast").values_list("line_user_id", flat=True)
    assert len(per_user) == len(set(per_user)) == 1201
    assert (started.status, started.recipient_count, started.batch_count) == (BroadcastStatus.SENT, 1201, 3)
    assert started.fanout_after_resident_id == max(r.pk for r in many)
    assert started.fanned_out_at is not None


def test_a_fan_out_cut_off_half_way_is_resumed_by_the_beat(
    kenko, kenko_head, kenko_editor, interests, many, django_capture_on_commit_callbacks
):
    # given: the worker died after the first step (one batch of 500 written)
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    real_step = delivery._fan_out_step
    steps = 0

    def dies_in_the_second_step(broadcast_id):
        nonlocal steps
        steps += 1
        if steps == 2:
            raise RuntimeError("worker killed")
        return real_step(broadcast_id)

    with (
        mock.patch.object(delivery, "FANOUT_BATCHES", 1),
        mock.patch.object(delivery, "_fan_out_step", dies_in_the_second_step),
        pytest.raises(RuntimeError),
    ):
        broadcast_start(broadcast_id=broadcast.pk)
    # the batch written goes out, but the broadcast is not finished: not everyone is in a batch
    (first,) = DeliveryBatch.objects.filter(broadcast=broadcast)
    assert delivery_batch_send(batch_id=first.pk).status == "sent"
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.recipient_count, broadcast.fanned_out_at) == (
        BroadcastStatus.SENDING,
        500,
        None,
    )
    # when: the beat, once before the fan-out counts as stalled and once after
    with mock.patch.object(delivery, "FANOUT_BATCHES", 1), django_capture_on_commit_callbacks(execute=True):
        delivery_batches_requeue_stuck()
        assert DeliveryBatch.objects.filter(broadcast=broadcast).count() == 1
        delivery_batches_requeue_stuck(now=timezone.now() + FANOUT_STALE_AFTER + timedelta(seconds=1))
    # then: the rest were written after the first 500 and sent; everyone received it once
    per_user = SimulatedDelivery.objects.filter(endpoint="multicast").values_list("line_user_id", flat=True)
    assert len(per_user) == len(set(per_user)) == 1201
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.recipient_count, broadcast.delivered_count) == (
        BroadcastStatus.SENT,
        1201,
        1201,
    )
    assert list(broadcast.batches.order_by("seq").values_list("seq", flat=True)) == [0, 1, 2]


def test_cancel_during_the_fan_out_stops_it(kenko, kenko_head, kenko_editor, interests, many):
    # given
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    real_step = delivery._fan_out_step

    def step_then_cancel(broadcast_id):
        written = real_step(broadcast_id)
        if written.status == BroadcastStatus.SENDING:
            broadcast_cancel(broadcast=written, actor=kenko_head)
        return written

    # when: cancelled after the first step
    with (
        mock.patch.object(delivery, "FANOUT_BATCHES", 1),
        mock.patch.object(delivery, "_fan_out_step", step_then_cancel),
    ):
        broadcast_start(broadcast_id=broadcast.pk)
    # then: no further batch was written, and the one written will not go out
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED
    assert list(broadcast.batches.values_list("status", flat=True)) == [BatchStatus.CANCELLED]
    assert broadcast.finished_at is not None


def test_start_is_claimed_once(kenko, kenko_head, kenko_editor, interests, many):
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    assert broadcast_start(broadcast_id=broadcast.pk) is not None
    assert broadcast_start(broadcast_id=broadcast.pk) is None
    assert DeliveryBatch.objects.filter(broadcast=broadcast).count() == 3


def test_each_batch_task_run_twice_sends_each_resident_once(kenko, kenko_head, kenko_editor, interests, many):
    # given
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    batch_ids = list(DeliveryBatch.objects.filter(broadcast=broadcast).values_list("pk", flat=True))
    # when
    outcomes = [delivery_batch_send_task(batch_id) for batch_id in batch_ids for _ in range(2)]
    # then
    assert outcomes == ["sent", "skipped"] * 3
    per_user = SimulatedDelivery.objects.filter(endpoint="multicast").values_list("line_user_id", flat=True)
    assert len(per_user) == len(set(per_user)) == 1201
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.delivered_count, broadcast.failed_count) == (
        BroadcastStatus.SENT,
        1201,
        0,
    )
    assert broadcast.finished_at is not None


def test_a_batch_that_fails_with_500s_is_retried_and_sent_once(
    kenko, kenko_head, kenko_editor, interests, many, fake_line
):
    # given
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    fake_line.fail("multicast", 500, 500)
    # when: eager Celery re-runs the task at once instead of after the back-off
    for batch_id in DeliveryBatch.objects.filter(broadcast=broadcast).values_list("pk", flat=True):
        delivery_batch_send_task(batch_id)
    # then
    first = DeliveryBatch.objects.get(broadcast=broadcast, seq=0)
    assert (first.status, first.attempts) == (BatchStatus.SENT, 3)
    assert fake_line.unique_recipients() == 1201
    assert fake_line.duplicate_deliveries() == {}
    assert fake_line.schema_errors == []
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.SENT


def test_429s_are_retried_and_everyone_receives_it_once(
    kenko, kenko_head, kenko_editor, interests, many, fake_line
):
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    fake_line.fail("multicast", 429, 429, 429, 429)
    for batch_id in DeliveryBatch.objects.filter(broadcast=broadcast).values_list("pk", flat=True):
        delivery_batch_send_task(batch_id)
    assert fake_line.unique_recipients() == 1201
    assert fake_line.duplicate_deliveries() == {}
    assert sum(DeliveryBatch.objects.filter(broadcast=broadcast).values_list("attempts", flat=True)) == 3 + 4


def test_a_4xx_fails_the_batch_with_lines_message(
    kenko, kenko_head, kenko_editor, interests, many, fake_line
):
    # given
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    fake_line.fail("multicast", 400)
    # when
    for batch_id in (
        DeliveryBatch.objects.filter(broadcast=broadcast).order_by("seq").values_list("pk", flat=True)
    ):
        delivery_batch_send_task(batch_id)
    # then
    failed = DeliveryBatch.objects.get(broadcast=broadcast, status=BatchStatus.FAILED)
    assert failed.http_status == 400
    assert "injected failure" in failed.error_message
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.delivered_count, broadcast.failed_count) == (
        BroadcastStatus.PARTIAL,
        701,
        500,
    )


def test_retries_are_bounded(kenko, kenko_head, kenko_editor, interests, town, fake_line):
    # given
    make_residents(town, 3, interests=[interests["kenko"]])
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    tries = MAX_ATTEMPTS * (1 + IMMEDIATE_RETRIES)
    fake_line.fail("multicast", *([503] * tries))
    # when: eager Celery runs each deferred claim at once
    delivery_batch_send_task(DeliveryBatch.objects.get(broadcast=broadcast).pk)
    # then: MAX_ATTEMPTS claims of 1 + IMMEDIATE_RETRIES tries each, then failed
    batch = DeliveryBatch.objects.get(broadcast=broadcast)
    assert (batch.status, batch.claim_count, batch.attempts) == (BatchStatus.FAILED, MAX_ATTEMPTS, tries)
    assert (batch.claimed_by, batch.heartbeat_at) == ("", None)
    assert batch.error_message.startswith("再試行の上限")
    assert fake_line.unique_recipients() == 0
    assert Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.PARTIAL


def test_worker_killed_after_sending_is_covered_by_the_retry_key(
    kenko, kenko_head, kenko_editor, interests, many, fake_line
):
    # given: a worker claimed batch 0, LINE accepted it, and the worker died before recording it
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    batch = DeliveryBatch.objects.get(broadcast=broadcast, seq=0)
    get_line_client(kenko.municipality).multicast(
        batch.line_user_ids, [{"type": "text", "text": "x"}], retry_key=batch.retry_key
    )
    stale = timezone.now() - batch_claim_timeout() - timedelta(seconds=1)
    DeliveryBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.SENDING,
        attempts=1,
        claim_count=1,
        claimed_by="dead-host:1",
        claimed_at=stale,
        heartbeat_at=stale,
    )
    # when: the periodic sweeper finds it
    requeued = delivery_batches_requeue_stuck()
    # then: the stuck batch was re-sent with the same key, LINE answered 409, it counts as sent
    batch.refresh_from_db()
    assert requeued == 1
    assert (batch.status, batch.already_accepted, batch.http_status) == (BatchStatus.SENT, True, 409)
    assert (batch.claim_count, batch.claimed_by, batch.heartbeat_at) == (2, "", None)
    assert fake_line.duplicate_deliveries() == {}
    assert len(fake_line.recipients_by_key[str(batch.retry_key)]) == 500


def test_a_freshly_claimed_batch_is_not_taken_over(kenko, kenko_head, kenko_editor, interests, many):
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    batch = DeliveryBatch.objects.get(broadcast=broadcast, seq=0)
    # a heartbeat just under the claim timeout ago: the worker is alive
    beat = timezone.now() - batch_claim_timeout() + timedelta(seconds=2)
    DeliveryBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.SENDING,
        attempts=1,
        claim_count=1,
        claimed_by="live-host:1",
        claimed_at=beat - timedelta(seconds=30),
        heartbeat_at=beat,
    )
    assert delivery_batch_send(batch_id=batch.pk).status == "skipped"
    assert delivery_batches_requeue_stuck() == 0
    batch.refresh_from_db()
    assert (batch.status, batch.attempts, batch.claimed_by) == (BatchStatus.SENDING, 1, "live-host:1")


def test_cancel_while_sending_stops_the_batches_not_yet_sent(
    kenko, kenko_head, kenko_editor, interests, many
):
    # given: one batch went out, two are waiting
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    batches = list(DeliveryBatch.objects.filter(broadcast=broadcast).order_by("seq"))
    delivery_batch_send(batch_id=batches[0].pk)
    # when
    broadcast_cancel(broadcast=broadcast, actor=kenko_head)
    outcomes = [delivery_batch_send(batch_id=b.pk).status for b in batches[1:]]
    # then
    assert outcomes == ["skipped", "skipped"]
    assert SimulatedDelivery.objects.count() == 500
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED
    assert broadcast.finished_at is not None


def test_nobody_left_to_send_to_finishes_at_once(kenko, kenko_head, kenko_editor, interests, town):
    # given: approved, then the only reader blocked the account
    (reader,) = make_residents(town, 1, interests=[interests["kenko"]])
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    Resident.objects.filter(pk=reader.pk).update(is_following=False)
    # when
    started = broadcast_start(broadcast_id=broadcast.pk)
    # then
    assert (started.status, started.recipient_count) == (BroadcastStatus.SENT, 0)


def test_unfollows_within_24_hours_are_counted(kenko, kenko_head, kenko_editor, interests, many):
    # given
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    for batch_id in DeliveryBatch.objects.filter(broadcast=broadcast).values_list("pk", flat=True):
        delivery_batch_send(batch_id=batch_id)
    broadcast.refresh_from_db()
    soon = broadcast.started_at + timedelta(hours=3)
    late = broadcast.started_at + timedelta(hours=30)
    Resident.objects.filter(pk__in=[r.pk for r in many[:7]]).update(is_following=False, unfollowed_at=soon)
    Resident.objects.filter(pk__in=[r.pk for r in many[7:9]]).update(is_following=False, unfollowed_at=late)
    # when: counted during the window, then after it
    during = broadcast_unfollows_count(
        broadcast_id=broadcast.pk, now=broadcast.started_at + timedelta(hours=5)
    )
    assert (during.unfollow_count, during.unfollows_counted_at) == (7, None)
    after = broadcast_unfollows_count(broadcast_id=broadcast.pk, now=late)
    # then
    assert after.unfollow_count == 7
    assert after.unfollows_counted_at == late


def test_a_resident_who_blocked_and_unblocked_within_24_hours_is_counted_once(
    client, town, kenko, kenko_head, kenko_editor, interests, django_capture_on_commit_callbacks
):
    # given: a broadcast sent to three residents
    readers = make_residents(town, 3, interests=[interests["kenko"]])
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    broadcast_start(broadcast_id=broadcast.pk)
    for batch_id in DeliveryBatch.objects.filter(broadcast=broadcast).values_list("pk", flat=True):
        delivery_batch_send(batch_id=batch_id)
    # when: through the webhook, one blocks and stays blocked; one blocks, unblocks, blocks
    # and unblocks again; the third does nothing
    events = [
        ("unfollow", readers[0]),
        ("unfollow", readers[1]),
        ("follow", readers[1]),
        ("unfollow", readers[1]),
        ("follow", readers[1]),
    ]
    for event_type, reader in events:
        with django_capture_on_commit_callbacks(execute=True):
            post_webhook(client, town, body=webhook_body(webhook_event(event_type, reader.line_user_id)))
    assert Resident.objects.get(pk=readers[1].pk).unfollowed_at is None  # following again
    # then
    counted = broadcast_unfollows_count(broadcast_id=broadcast.pk)
    assert counted.unfollow_count == 2


def test_backoff_grows_with_jitter_and_a_cap():
    import random

    rng = random.Random(1)
    delays = [backoff_seconds(n, rng=rng) for n in range(1, 12)]
    assert all(1.0 <= d <= 300.0 for d in delays)
    assert max(backoff_seconds(10, rng=random.Random(s)) for s in range(50)) > 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_the_same_broadcast_write_its_batches_once(
    town, kenko, kenko_head, kenko_editor, interests
):
    # given
    make_residents(town, 1100, interests=[interests["kenko"]])
    broadcast = approved(
        kenko,
        kenko_head,
        kenko_editor,
        category=interests["kenko"],
        send_mode="at",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    barrier = threading.Barrier(2)
    results: list[object] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(broadcast_start(broadcast_id=broadcast.pk))
        finally:
            connection.close()

    # when (patched once, here: two threads patching and unpatching the same name race, and the
    # loser restores the other's mock for the rest of the suite)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    with mock.patch("broadcasts.services.delivery._enqueue_batches"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    # then
    assert sum(r is not None for r in results) == 1
    assert DeliveryBatch.objects.filter(broadcast=broadcast).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_fan_outs_of_the_same_broadcast_at_once_write_each_recipient_once(
    town, kenko, kenko_head, kenko_editor, interests
):
    # given: claimed, and the beat resumes the fan-out while the first worker is still at it
    residents = make_residents(town, 2300, interests=[interests["kenko"]])
    broadcast = approved(
        kenko,
        kenko_head,
        kenko_editor,
        category=interests["kenko"],
        send_mode="at",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SENDING, started_at=timezone.now()
    )
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            broadcast_fan_out(broadcast_id=broadcast.pk)
        finally:
            connection.close()

    # when (patched once, here, as above)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    with mock.patch.object(delivery, "FANOUT_BATCHES", 1), mock.patch.object(delivery, "_enqueue_batches"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    # then
    batches = list(DeliveryBatch.objects.filter(broadcast=broadcast).order_by("seq"))
    assert [b.seq for b in batches] == [0, 1, 2, 3, 4]
    ids = [uid for b in batches for uid in b.line_user_ids]
    assert len(ids) == len(set(ids)) == 2300
    assert set(ids) == {r.line_user_id for r in residents}
    broadcast.refresh_from_db()
    assert (broadcast.recipient_count, broadcast.batch_count) == (2300, 5)


@pytest.mark.postgres
@pytest.mark.django_db
def test_batch_ids_are_stored_with_lz4():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'broadcasts_deliverybatch'::regclass AND attname = 'line_user_ids'"
        )
        assert cursor.fetchone()[0] == "l"
