"""Fixtures of the fault-injection suite: the production path, broken on purpose.

Every test here runs against PostgreSQL (the test database, committed data: the tests use
``django_db(transaction=True)``) and processes of its own (``tests/processes.py``):

- ``redis_server``: a ``redis-server`` the test starts on a free 127.0.0.1 port, so that it may
  stop it (``stop()``, ``outage(seconds)``), restart it with or without its data, and never
  disturbs another test's Redis;
- ``celery_workers``: real ``celery worker`` processes (``tests/celery_worker.py``) on that
  Redis, which a test may ``kill()`` (``kill -9``) and start again;
- ``web_server``: gunicorn serving the project, as in production, on that Redis;
- ``fake_line``: the fake LINE of ``tests/fakeline.py`` (workers and web use the ``api``
  backend against it);
- ``tests.processes.pg_terminate_backends()`` and ``connection_cutter()``: PostgreSQL's
  ``pg_terminate_backend`` on every other session of the test database, once or every few
  tenths of a second.

Each test module of this folder is marked ``postgres`` and ``redis`` here: it skips where they
are missing and **fails** in CI (``CI=true``), as ``tests/conftest.py`` decides. A test's
waits are bounded (``wait_until``), so a fault that is not recovered from fails the test
instead of hanging it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.fakeline import FakeLine
from tests.processes import RedisServer, WebServer, Workers

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.redis)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is required in CI for the fault-injection suite")
        pytest.skip("needs the redis-server binary")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- LINE and processes ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    with FakeLine() as fake:
        yield fake


@pytest.fixture
def celery_workers(tmp_path: Path) -> Iterator[Workers]:
    workers = Workers(tmp_path)
    try:
        yield workers
    finally:
        workers.stop_all()


@pytest.fixture
def web_server() -> Iterator[Callable[..., WebServer]]:
    """``web_server(env)`` starts gunicorn with ``env`` (see ``process_env``); stopped at the end."""
    servers: list[WebServer] = []

    def start(env: dict[str, str], **kwargs: int) -> WebServer:
        server = WebServer(env, **kwargs)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
