"""A real Celery worker on Redis runs a real task of the project against the test database.

This is the CI proof that the production path works: no eager mode, JSON messages through
Redis, the worker process importing the project and writing to PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection
from django.utils import timezone

from municipalities.models import TalkMessage
from tests.municipalities.factories import resident_in

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = "redis://127.0.0.1:6379/5"  # a database of its own: nothing else consumes it
DEADLINE_SECONDS = 30


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    database_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        database_url = database_url.replace("@", f":{db['PASSWORD']}@", 1)
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": BROKER_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_CONN_MAX_AGE": "0",
    }


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_runs_the_talk_log_retention_task(town):
    # given: an old and a fresh talk-log row, committed (transaction=True) so the worker sees them
    redis.Redis.from_url(BROKER_URL).flushdb()
    resident = resident_in(town)
    old = TalkMessage.objects.create(
        municipality=town, resident=resident, direction="in", kind="text", text="古いメッセージ", payload={}
    )
    TalkMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=town.talk_log_retention_days + 1))
    fresh = TalkMessage.objects.create(
        municipality=town, resident=resident, direction="in", kind="text", text="新しいメッセージ", payload={}
    )
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT,
        env=_worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # when: the task is sent through Redis by name, as beat sends it
        sender = Celery("probe", broker=BROKER_URL)
        sender.conf.task_serializer = "json"
        sender.send_task("municipalities.tasks.talk_log_retention_task")
        # then: within the deadline the worker has deleted the old row, and only that one
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and TalkMessage.objects.filter(pk=old.pk).exists():
            assert worker.poll() is None, f"the worker died:\n{worker.stdout.read()}"
            time.sleep(0.5)
        gone = not TalkMessage.objects.filter(pk=old.pk).exists()
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert gone, f"the worker did not run the task within {DEADLINE_SECONDS}s:\n{output[-3000:]}"
    assert TalkMessage.objects.filter(pk=fresh.pk).exists()
    assert "talk_log_retention_task" in output and "succeeded" in output
