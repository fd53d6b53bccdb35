"""A broadcast sent by a real Celery worker on Redis: the start task, the fan-out, the batch
messages pushed to Redis in pipelined rounds, one send task per batch, and the finish."""

from __future__ import annotations

import time
from unittest import mock

import pytest

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.services import broadcast_approve, broadcast_submit
from municipalities.models import SimulatedDelivery
from tests.broadcasts.factories import make_broadcast, make_residents
from tests.celery_worker import DEADLINE_SECONDS, running_worker, send_task


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_sends_every_batch_once(town, kenko, kenko_head, kenko_editor, interests):
    # given: an approved broadcast to 1,201 residents (three batches), not started yet
    make_residents(town, 1201, interests=[interests["kenko"]])
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    with mock.patch("broadcasts.tasks.broadcast_start_task.delay"):  # the worker starts it, not this process
        broadcast_approve(broadcast=broadcast, actor=kenko_head)
    with running_worker() as worker:
        # when: the start task goes through Redis, as the beat sends it
        send_task("broadcasts.tasks.broadcast_start_task", args=[broadcast.pk])
        deadline = time.monotonic() + DEADLINE_SECONDS
        status = BroadcastStatus.APPROVED
        while time.monotonic() < deadline and status not in (BroadcastStatus.SENT, BroadcastStatus.PARTIAL):
            worker.assert_alive()
            time.sleep(0.3)
            status = Broadcast.objects.values_list("status", flat=True).get(pk=broadcast.pk)
    output = worker.output
    # then: every batch sent once, every resident reached once
    assert status == BroadcastStatus.SENT, f"not sent within {DEADLINE_SECONDS}s:\n{output[-3000:]}"
    batches = DeliveryBatch.objects.filter(broadcast=broadcast)
    assert sorted(batches.values_list("status", "attempts", "size")) == [
        (BatchStatus.SENT, 1, 201),
        (BatchStatus.SENT, 1, 500),
        (BatchStatus.SENT, 1, 500),
    ]
    received = SimulatedDelivery.objects.filter(endpoint="multicast")
    assert received.count() == received.values("line_user_id").distinct().count() == 1201
    assert output.count("delivery_batch_send_task") >= 3 and "succeeded" in output
