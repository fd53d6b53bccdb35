"""Delivery under faults: a bad answer from LINE tried again at once, and the sweep that takes up
what dead workers and lost messages left (stale claims, overdue retries, messages passed over,
a fan-out killed between its commit and its enqueue)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.selectors import FANOUT_STALE_AFTER, RETRY_LOST_AFTER, batch_claim_timeout
from broadcasts.services import (
    broadcast_approve,
    broadcast_start,
    broadcast_submit,
    delivery_batch_send,
    delivery_batches_requeue_stuck,
)
from broadcasts.services.batch_send import IMMEDIATE_RETRIES
from broadcasts.services.delivery import MAX_CLAIMS
from municipalities.line.errors import LineRateLimited
from municipalities.models import SimulatedDelivery
from tests.broadcasts.factories import make_broadcast, make_residents


def approved(department, head, editor, **kwargs) -> Broadcast:
    broadcast = broadcast_submit(broadcast=make_broadcast(department, **kwargs), actor=editor)
    return broadcast_approve(broadcast=broadcast, actor=head)


@pytest.fixture
def started(town, kenko, kenko_head, kenko_editor, interests) -> Broadcast:
    """A broadcast to 1,201 residents with its three batches written and nothing sent (the
    test's transaction never commits, so the fan-out's enqueue does not run)."""
    make_residents(town, 1201, interests=[interests["kenko"]])
    broadcast = approved(kenko, kenko_head, kenko_editor, category=interests["kenko"])
    return broadcast_start(broadcast_id=broadcast.pk)


def _batch(broadcast: Broadcast, seq: int) -> DeliveryBatch:
    return DeliveryBatch.objects.get(broadcast=broadcast, seq=seq)


def _received() -> list[str]:
    return list(SimulatedDelivery.objects.filter(endpoint="multicast").values_list("line_user_id", flat=True))


def test_a_5xx_and_a_429_are_tried_again_at_once_in_the_same_claim(started, fake_line):
    # given: LINE answers the first two requests 500 and 429
    fake_line.fail("multicast", 500, 429)
    batch = _batch(started, 0)
    # when: the batch is sent once (no trip through the queue)
    outcome = delivery_batch_send(batch_id=batch.pk)
    # then: sent in its first claim, on the third request, all with the batch's retry key
    batch.refresh_from_db()
    assert outcome.status == "sent" and outcome.retry_in is None
    assert (batch.status, batch.claim_count, batch.attempts) == (BatchStatus.SENT, 1, 3)
    assert (batch.claimed_by, batch.heartbeat_at) == ("", None)
    assert [r.status for r in fake_line.requests_to("multicast")] == [500, 429, 200]
    assert {r.retry_key for r in fake_line.requests_to("multicast")} == {str(batch.retry_key)}
    assert len(fake_line.recipients_by_key[str(batch.retry_key)]) == 500


def test_a_batch_that_keeps_failing_goes_back_to_pending_with_the_back_off(started, fake_line):
    # given: LINE fails every try of the first claim
    fake_line.fail("multicast", *([503] * (1 + IMMEDIATE_RETRIES)))
    batch = _batch(started, 0)
    # when
    outcome = delivery_batch_send(batch_id=batch.pk)
    # then: pending again, its claim released, a retry after the policy's first back-off
    batch.refresh_from_db()
    assert outcome.status == "retry" and 1.0 <= outcome.retry_in <= 2.0
    assert (batch.status, batch.claim_count, batch.attempts, batch.http_status) == (
        BatchStatus.PENDING,
        1,
        1 + IMMEDIATE_RETRIES,
        503,
    )
    assert (batch.claimed_by, batch.heartbeat_at) == ("", None)
    assert batch.next_attempt_at > timezone.now()


def test_a_turn_the_rate_limiter_refuses_is_not_tried_again_at_once(started):
    # given: the shared limiter's next turn is too far away (no status: LINE was not asked)
    batch = _batch(started, 0)
    client = mock.Mock()
    client.multicast.side_effect = LineRateLimited(
        "rate limit for multicast (200/s): the next turn is 12.0s away"
    )
    # when
    with mock.patch("broadcasts.services.batch_send.get_line_client", return_value=client):
        outcome = delivery_batch_send(batch_id=batch.pk)
    # then: one request, deferred with the back-off
    batch.refresh_from_db()
    assert outcome.status == "retry"
    assert client.multicast.call_count == 1
    assert (batch.status, batch.attempts) == (BatchStatus.PENDING, 1)


def test_a_stale_claim_is_offered_again_and_one_that_keeps_killing_workers_fails(started):
    # given: two batches claimed by workers that stopped heartbeating; one has used its claims
    stale = timezone.now() - batch_claim_timeout() - timedelta(seconds=1)
    dead = {"status": BatchStatus.SENDING, "claimed_by": "dead:1", "claimed_at": stale, "heartbeat_at": stale}
    DeliveryBatch.objects.filter(pk=_batch(started, 0).pk).update(claim_count=1, attempts=1, **dead)
    DeliveryBatch.objects.filter(pk=_batch(started, 1).pk).update(claim_count=MAX_CLAIMS, attempts=9, **dead)
    # when: the sweep
    requeued = delivery_batches_requeue_stuck()
    # then: the first is sent again (eager), the second failed with a sentence for staff
    assert requeued == 1
    first, second = _batch(started, 0), _batch(started, 1)
    assert (first.status, first.claim_count) == (BatchStatus.SENT, 2)
    assert (second.status, second.claimed_by) == (BatchStatus.FAILED, "")
    assert second.error_message == "送信中に処理が繰り返し中断されたため、このバッチの送信を取りやめました。"


def test_a_retry_whose_task_died_is_enqueued_once_overdue(started):
    # given: batch 0 waits for a retry that was due a moment ago (its task may still come)
    batch = _batch(started, 0)
    DeliveryBatch.objects.filter(pk=batch.pk).update(
        claim_count=1, attempts=3, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    # when / then: not before RETRY_LOST_AFTER …
    assert delivery_batches_requeue_stuck() == 0
    # … but after it, it is enqueued and sent
    assert delivery_batches_requeue_stuck(now=timezone.now() + RETRY_LOST_AFTER) == 1
    assert _batch(started, 0).status == BatchStatus.SENT
    assert sorted(set(_received())) == sorted(batch.line_user_ids)


def test_a_batch_passed_over_in_the_queue_is_enqueued(started):
    # given: batch 2 was claimed and sent a while ago, batches 0 and 1 never were
    long_ago = timezone.now() - timedelta(seconds=30)
    DeliveryBatch.objects.filter(pk=_batch(started, 2).pk).update(
        status=BatchStatus.SENT, claim_count=1, attempts=1, claimed_at=long_ago, sent_at=long_ago
    )
    # when: the sweep, with batches enqueued more than one place ahead counting as passed over
    with mock.patch("broadcasts.selectors.LOST_MARGIN", 1):
        requeued = delivery_batches_requeue_stuck()
    # then: only batch 0 (2 - 1 > 0) is enqueued again; batch 1 may still be on its way
    assert requeued == 1
    assert _batch(started, 0).status == BatchStatus.SENT
    assert _batch(started, 1).status == BatchStatus.PENDING


def test_a_fan_out_killed_between_its_commit_and_its_enqueue_is_resumed(
    started, django_capture_on_commit_callbacks
):
    # given: the batches are written but their tasks were never enqueued
    assert (started.batch_count, started.enqueued_batch_count) == (3, 0)
    # when: the sweep, once before the fan-out counts as stalled and once after
    with django_capture_on_commit_callbacks(execute=True):
        delivery_batches_requeue_stuck()
        assert _received() == []
        delivery_batches_requeue_stuck(now=timezone.now() + FANOUT_STALE_AFTER + timedelta(seconds=1))
    # then: every batch enqueued and sent once; the broadcast finished
    received = _received()
    assert len(received) == len(set(received)) == 1201
    started.refresh_from_db()
    assert (started.status, started.enqueued_batch_count, started.delivered_count) == (
        BroadcastStatus.SENT,
        3,
        1201,
    )
