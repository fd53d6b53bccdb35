"""A real Celery worker process on Redis against the test database, for the tests that prove the
production path (no eager mode, JSON messages through Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
BROKER_URL = "redis://127.0.0.1:6379/5"  # a database of its own: nothing else consumes it
DEADLINE_SECONDS = 30


def worker_env() -> dict[str, str]:
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
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


class Worker:
    """``celery worker`` with the solo pool; ``output`` holds what it printed once it stopped.
    ``env`` replaces ``worker_env()`` (the fault tests point it at a Redis of their own), and
    ``extra_args`` are added to the command line (``--beat``, ``--hostname``); with ``log``
    what it prints goes to that file (a long run would fill a pipe nobody reads)."""

    def __init__(
        self, env: dict[str, str] | None = None, extra_args: list[str] | None = None, log: Path | None = None
    ) -> None:
        self.log = log
        self._log_file = log.open("a") if log is not None else None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(extra_args or []),
            ],
            cwd=ROOT,
            env=env if env is not None else worker_env(),
            stdout=self._log_file or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"the worker died:\n{self._read()}"

    def _read(self) -> str:
        if self.log is not None:
            self.process.wait()
            self._log_file.close()
            return self.log.read_text()
        out, _ = self.process.communicate()
        return out

    def kill(self) -> None:
        """``kill -9`` of the worker and of the processes it forked (the beat of ``--beat``): no
        task finishes, nothing is acknowledged, nothing cleans up."""
        for child in _children(self.process.pid):
            os.kill(child, signal.SIGKILL)
        self.process.kill()
        self.output = self._read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.output = self._read()


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


@contextmanager
def running_worker() -> Iterator[Worker]:
    """A worker on an empty broker database, stopped when the block ends."""
    redis.Redis.from_url(BROKER_URL).flushdb()
    worker = Worker()
    try:
        yield worker
    finally:
        worker.stop()


def send_task(
    name: str, args: list[object] | None = None, *, broker: str = BROKER_URL, **options: Any
) -> None:
    """Send a task by name through Redis, as the beat or the web sends it."""
    # Not the current app: the project's tasks must keep finding the project's app.
    sender = Celery("probe", broker=broker, set_as_current=False)
    sender.conf.task_serializer = "json"
    with sender.connection_for_write() as conn:
        sender.send_task(name, args=args or [], connection=conn, **options)
