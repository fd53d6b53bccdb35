"""A real Celery worker on Redis runs a real task of the project against the test database.

This is the CI proof that the production path works: no eager mode, JSON messages through
Redis, the worker process importing the project and writing to PostgreSQL.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from municipalities.models import TalkMessage
from tests.celery_worker import DEADLINE_SECONDS, running_worker, send_task
from tests.municipalities.factories import resident_in


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_runs_the_talk_log_retention_task(town):
    # given: an old and a fresh talk-log row, committed (transaction=True) so the worker sees them
    resident = resident_in(town)
    old = TalkMessage.objects.create(
        municipality=town, resident=resident, direction="in", kind="text", text="古いメッセージ", payload={}
    )
    TalkMessage.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=town.talk_log_retention_days + 1)
    )
    fresh = TalkMessage.objects.create(
        municipality=town, resident=resident, direction="in", kind="text", text="新しいメッセージ", payload={}
    )
    with running_worker() as worker:
        # when: the task is sent through Redis by name, as beat sends it
        send_task("municipalities.tasks.talk_log_retention_task")
        # then: within the deadline the worker has deleted the old row, and only that one
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and TalkMessage.objects.filter(pk=old.pk).exists():
            worker.assert_alive()
            time.sleep(0.5)
        gone = not TalkMessage.objects.filter(pk=old.pk).exists()
    output = worker.output
    assert gone, f"the worker did not run the task within {DEADLINE_SECONDS}s:\n{output[-3000:]}"
    assert TalkMessage.objects.filter(pk=fresh.pk).exists()
    assert "talk_log_retention_task" in output and "succeeded" in output


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task(settings):
    # given: the worker's Django fixup installed, as `celery worker` installs it, and an open
    # connection that is young (CONN_MAX_AGE) and healthy
    from celery import signals
    from celery.fixups.django import DjangoWorkerFixup

    from config.celery import app
    from municipalities.tasks import talk_log_retention_task as task

    fixup = DjangoWorkerFixup(app).install()
    try:
        connection.close()
        connection.ensure_connection()
        opened = connection.connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            [backend] = cursor.fetchone()
        # when: three tasks start and end in the worker
        for n in range(3):
            signals.task_prerun.send(sender=task, task_id=f"t{n}", task=task, args=(), kwargs={})
            signals.task_postrun.send(
                sender=task, task_id=f"t{n}", task=task, args=(), kwargs={}, retval=None, state="SUCCESS"
            )
        # then: the same PostgreSQL session served them all (no connect per task)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone() == (backend,)
        assert connection.connection is opened
        # and: a connection older than CONN_MAX_AGE is still closed between tasks
        connection.close_at = time.monotonic() - 1
        signals.task_postrun.send(
            sender=task, task_id="t9", task=task, args=(), kwargs={}, retval=None, state="SUCCESS"
        )
        assert connection.connection is None
    finally:
        signals.task_prerun.disconnect(fixup.on_task_prerun)
        signals.task_postrun.disconnect(fixup.on_task_postrun)
        signals.worker_process_init.disconnect(fixup.on_worker_process_init)
        signals.beat_embedded_init.disconnect(fixup.close_database)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_used_a_moment_ago_is_not_health_checked_again():
    # given: health checks on, and a task that ran a query
    from unittest import mock

    from celery import signals

    from municipalities.tasks import talk_log_retention_task as task

    def run_task(n: int) -> None:
        signals.task_prerun.send(sender=task, task_id=f"t{n}", task=task, args=(), kwargs={})
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        signals.task_postrun.send(
            sender=task, task_id=f"t{n}", task=task, args=(), kwargs={}, retval=None, state="SUCCESS"
        )

    connection.close()
    connection.ensure_connection()
    assert connection.health_check_enabled
    run_task(0)
    with mock.patch.object(connection, "is_usable", wraps=connection.is_usable) as is_usable:
        # when: the next tasks follow at once
        run_task(1)
        run_task(2)
        # then: their first query needs no "SELECT 1" first
        assert is_usable.call_count == 0
        # when: the worker was idle for longer than the limit
        connection.task_signal_at -= 5
        run_task(3)
        # then: the connection is checked, as Django checks it
        assert is_usable.call_count == 1
