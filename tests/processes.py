"""The production setup's processes, started by a test: a ``redis-server`` of its own, real
Celery workers, gunicorn, and PostgreSQL's ``pg_terminate_backend`` for connection faults. The
fault-injection suite (``tests/faults``) and the two-node tests (``tests/multinode``) build their
fixtures on these."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import redis
from django.db import connection

from tests import celery_worker
from tests.celery_worker import ROOT, Worker, worker_env
from tests.conftest import free_port
from tests.fakeline import FakeLine


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2) -> float:
    """Poll ``predicate`` until it is true; the seconds it took. AssertionError after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not reached within {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic() - start


# --- Redis -------------------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of one test. ``stop(keep_data=True)`` saves its data first (as a
    restart of a persistent Redis would keep it); ``stop()`` is a ``kill -9`` and the data is
    gone. ``start()`` brings it back on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_timeout=2)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--dbfilename",
                "dump.rdb",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=10, interval=0.05)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except (redis.RedisError, OSError):
            return False

    def stop(self, *, keep_data: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if keep_data:
            self.client().shutdown(save=True)
        else:
            self.process.kill()
            (self.directory / "dump.rdb").unlink(missing_ok=True)
        self.process.wait(timeout=10)

    def restart(self, *, keep_data: bool = False) -> None:
        self.stop(keep_data=keep_data)
        self.start()

    @contextmanager
    def outage(self, seconds: float, *, keep_data: bool = False) -> Iterator[threading.Thread]:
        """Stop Redis now and start it again ``seconds`` later, in the background; the block
        runs meanwhile, and leaving it waits until Redis is back."""
        self.stop(keep_data=keep_data)

        def back() -> None:
            time.sleep(seconds)
            self.start()

        thread = threading.Thread(target=back, name="redis-outage", daemon=True)
        thread.start()
        try:
            yield thread
        finally:
            thread.join(timeout=seconds + 15)


# --- PostgreSQL --------------------------------------------------------------------------------


def _admin_dsn() -> str:
    db = connection.settings_dict
    dsn = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} user={db['USER'] or 'postgres'}"
    return f"{dsn} password={db['PASSWORD']}" if db.get("PASSWORD") else dsn


def pg_terminate_backends() -> int:
    """``pg_terminate_backend`` every session of the test database but the one that asks (the
    test's own connection is killed too, and reconnects on its next query). How many."""
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        ).fetchone()[0]


@contextmanager
def connection_cutter(every: float = 0.1) -> Iterator[list[int]]:
    """Cut every connection to the test database every ``every`` seconds while the block runs.
    Yields a list that receives how many sessions each cut ended."""
    cuts: list[int] = []
    stop = threading.Event()

    def cut() -> None:
        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            while not stop.wait(every):
                cuts.append(
                    conn.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'"
                    ).fetchone()[0]
                )

    thread = threading.Thread(target=cut, name="pg-cutter", daemon=True)
    thread.start()
    try:
        yield cuts
    finally:
        stop.set()
        thread.join(timeout=10)
        connection.close()  # the test's own connection may have been cut: start afresh


# --- processes -----------------------------------------------------------------------------------


def process_env(
    redis_server: RedisServer, fake_line: FakeLine | None = None, **overrides: str
) -> dict[str, str]:
    """The environment of a production-like process (worker or web) on the test database,
    ``redis_server`` (cache and broker, db 0) and, when given, the fake LINE (``api``
    backend). Database connections are kept between tasks and requests, as in production."""
    env = worker_env()
    env.update(
        {
            "REDIS_URL": redis_server.url(),
            "CELERY_BROKER_URL": redis_server.url(),
            "CACHE_KEY_PREFIX": "faults",
            "DATABASE_CONN_MAX_AGE": "60",
            "DEBUG": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    if fake_line is not None:
        env.update({"LINE_BACKEND": "api", "LINE_API_BASE_URL": fake_line.base_url})
    env.update(overrides)
    return env


class Workers:
    """Starts real Celery workers (``start(env)``); every one still running is stopped at the
    end of the test. Their output goes to a log file each (``worker.output`` once stopped)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Worker] = []

    def start(self, env: dict[str, str], *, beat: bool = False, wait: bool = True) -> Worker:
        """A worker with ``env`` (see ``process_env``), and its beat with ``beat``; with ``wait``,
        returned once it consumes (a worker takes seconds to import the project)."""
        n = len(self.started)
        args = ["--hostname", f"fault{n}@%h"]
        if beat:
            args += ["--beat", "--schedule", str(self.directory / f"beat-{n}")]
        log = self.directory / f"worker-{n}.log"
        worker = Worker(env=env, extra_args=args, log=log)
        self.started.append(worker)
        if wait:  # connected to the broker and consuming: what it is sent from now on, it runs
            wait_until(lambda: worker.assert_alive() or " ready." in log.read_text(), timeout=60)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


class WebServer:
    """gunicorn serving the project (gthread, as in production) in its own session."""

    def __init__(self, env: dict[str, str], *, workers: int = 1, threads: int = 8) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=30)

    def _answers(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def send_task(redis_server: RedisServer, name: str, args: list[object] | None = None, **options: Any) -> None:
    """Send a task by name through the test's Redis, as the beat or the web sends it."""
    celery_worker.send_task(name, args, broker=redis_server.url(), **options)
