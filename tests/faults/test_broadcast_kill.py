"""kill -9 during a broadcast: every worker killed mid-broadcast and back after 10 s, and a
fan-out killed between a step's commit and its enqueue. Every recipient gets it exactly once,
and delivery resumes within seconds of the workers' return, not after a fixed 2-minute wait.

Real Celery workers and beat (embedded in one worker) on a Redis of the test's own, LINE faked
on 127.0.0.1 at 4 multicasts a second, so that a 20-batch broadcast is still going when the
kill lands. The fake holds one multicast after accepting it while the test kills the workers:
its worker dies with the batch claimed and LINE's answer lost, so the re-send must meet 409.
The production thresholds are kept (LINE's 10 s timeout, the sweep every 5 s): the recovery
times logged here are the ones the README gives.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any
from unittest import mock

import pytest

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.services import broadcast_approve, broadcast_submit
from tests.broadcasts.factories import make_broadcast, make_residents
from tests.celery_worker import ROOT
from tests.fakeline import FakeLine
from tests.processes import process_env, send_task, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
logger = logging.getLogger(__name__)
RESUME_GOAL_SECONDS = 30


class MulticastHold:
    """Holds the n-th multicast at the fake LINE, after accepting it, until ``release``."""

    def __init__(self, fake: FakeLine, n: int) -> None:
        self.n = n
        self.count = 0
        self.reached = threading.Event()
        self.release = threading.Event()
        self.held_key = ""
        self._lock = threading.Lock()
        self._original = fake.handle_message
        fake.handle_message = self._handle  # type: ignore[method-assign]

    def _handle(self, endpoint: str, schema: str, headers: dict[str, str], body: Any) -> Any:
        answer = self._original(endpoint, schema, headers, body)
        if endpoint == "multicast":
            with self._lock:
                self.count += 1
                held = self.count == self.n
            if held:
                self.held_key = headers.get("X-Line-Retry-Key", "")
                self.reached.set()
                self.release.wait(60)
        return answer


def _approved(kenko, kenko_head, kenko_editor, interests) -> Broadcast:
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    with mock.patch("broadcasts.tasks.broadcast_start_task.delay"):  # the workers start it
        return broadcast_approve(broadcast=broadcast, actor=kenko_head)


def _status(broadcast: Broadcast) -> str:
    return Broadcast.objects.values_list("status", flat=True).get(pk=broadcast.pk)


def test_every_worker_killed_mid_broadcast_resumes_within_seconds_of_their_return(
    town, kenko, kenko_head, kenko_editor, interests, redis_server, fake_line, celery_workers
):
    # given: a broadcast to 10,000 residents (20 batches), LINE taking 4 multicasts a second
    residents = make_residents(town, 10_000, interests=[interests["kenko"]])
    broadcast = _approved(kenko, kenko_head, kenko_editor, interests)
    env = process_env(redis_server, fake_line, LINE_RATE_LIMITS="multicast=4")
    hold = MulticastHold(fake_line, 5)
    celery_workers.start(env, beat=True)
    celery_workers.start(env)
    send_task(redis_server, "broadcasts.tasks.broadcast_start_task", [broadcast.pk])

    # when: both workers (and the beat) are killed while LINE holds the 5th multicast it accepted
    assert hold.reached.wait(90), "the fifth multicast never came"
    for worker in celery_workers.started:
        worker.kill()  # and the beat it forked
    hold.release.set()
    in_flight = DeliveryBatch.objects.filter(broadcast=broadcast, status=BatchStatus.SENDING).count()
    assert in_flight >= 1
    time.sleep(10)
    # and: they come back (the beat with them)
    delivered_before = fake_line.unique_recipients()
    started = time.monotonic()
    celery_workers.start(env, wait=False)
    celery_workers.start(env, beat=True)  # back once it consumes (starting takes seconds)
    returned = time.monotonic()
    resumed_in = wait_until(lambda: fake_line.unique_recipients() > delivered_before, timeout=60)
    wait_until(lambda: _status(broadcast) == BroadcastStatus.SENT, timeout=120)
    finished_in = time.monotonic() - returned

    # then: delivery resumed within the goal, and everyone got it exactly once
    assert resumed_in <= RESUME_GOAL_SECONDS, f"resumed {resumed_in:.1f} s after the workers' return"
    assert fake_line.duplicate_deliveries() == {}
    assert fake_line.unique_recipients() == len(residents)
    # the held batch, whose answer died with its worker, was sent again with its key: LINE said 409
    # (the other worker may have lost the answer of a batch in flight the same way)
    met_409 = set(
        DeliveryBatch.objects.filter(broadcast=broadcast, already_accepted=True).values_list(
            "retry_key", flat=True
        )
    )
    assert hold.held_key and uuid.UUID(hold.held_key) in met_409
    assert len(met_409) <= in_flight
    assert not DeliveryBatch.objects.filter(broadcast=broadcast).exclude(status=BatchStatus.SENT).exists()
    assert not DeliveryBatch.objects.filter(broadcast=broadcast).exclude(claimed_by="").exists()
    logger.warning(
        "broadcast: delivery resumed %.1f s and finished %.1f s after the workers' return "
        "(they took %.1f s to start)",
        resumed_in,
        finished_in,
        returned - started,
    )


_FAN_OUT_THEN_DIE = """
import os, signal, sys
import django
django.setup()
from broadcasts.services import delivery
delivery.FANOUT_BATCHES = 2  # steps of 1,000 recipients: the kill lands after the first
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # committed, not enqueued
delivery._enqueue_batches = die
delivery.broadcast_start(broadcast_id=int(sys.argv[1]))
"""


def test_a_fan_out_killed_between_its_commit_and_its_enqueue_goes_on_within_seconds(
    town, kenko, kenko_head, kenko_editor, interests, redis_server, fake_line, celery_workers
):
    # given: a broadcast to 3,000 residents
    residents = make_residents(town, 3_000, interests=[interests["kenko"]])
    broadcast = _approved(kenko, kenko_head, kenko_editor, interests)
    env = process_env(redis_server, fake_line)

    # when: the process fanning it out is killed right after its first step committed (the
    # workers start after it claimed the broadcast: a beat already up could claim it first)
    fan_out = subprocess.run(
        [sys.executable, "-c", _FAN_OUT_THEN_DIE, str(broadcast.pk)],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    killed = time.monotonic()
    assert fan_out.returncode == -signal.SIGKILL, fan_out.stderr[-2000:]
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.batch_count, broadcast.enqueued_batch_count) == (
        BroadcastStatus.SENDING,
        2,
        0,
    )

    # and: a worker with the beat comes up
    celery_workers.start(env, beat=True, wait=False)

    # then: the sweep enqueues the two batches and resumes the fan-out; everyone gets it once
    first_in = wait_until(lambda: fake_line.unique_recipients() > 0, timeout=60)
    wait_until(lambda: _status(broadcast) == BroadcastStatus.SENT, timeout=90)
    finished_in = time.monotonic() - killed
    assert fake_line.duplicate_deliveries() == {}
    assert fake_line.unique_recipients() == len(residents)
    broadcast.refresh_from_db()
    assert (broadcast.batch_count, broadcast.enqueued_batch_count) == (6, 6)
    assert first_in <= RESUME_GOAL_SECONDS
    logger.warning(
        "broadcast: fan-out killed between commit and enqueue; first delivery %.1f s, finished %.1f s later",
        first_in,
        finished_in,
    )
