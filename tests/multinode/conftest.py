"""Two nodes of the production setup on one machine, for the tests of this folder.

One PostgreSQL (the test database) and one Redis (a ``redis-server`` of this module, cache and
broker), and on them what two machines would run: two gunicorn instances (``node_a``,
``node_b``) and two Celery workers, all with ``LINE_BACKEND=api`` against one fake LINE
(``tests/fakeline.py``). Nothing is shared between the processes but PostgreSQL, Redis and the
settings every node gets from its environment (the same ``SECRET_KEY``), as between machines.

The processes are started once per module (a Django process needs seconds to start on two
shared cores); each test builds its own town, so no test sees another's data. The test process
itself uses the same Redis as its cache (``cluster_cache``), so a cache version it bumps (the
chatbot's index, availability) is the one the nodes read.

Every test here is marked ``postgres`` and ``redis``: it skips where they are missing and fails
in CI (``CI=true``), as ``tests/conftest.py`` decides. Waits are bounded (``wait_until``).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.celery_worker import Worker
from tests.conftest import IN_CI
from tests.fakeline import FakeLine
from tests.processes import RedisServer, WebServer, Workers, process_env, wait_until

HERE = Path(__file__).resolve().parent
GUNICORN_THREADS = 4


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.redis)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes


class Browser:
    """A resident's browser that may talk to either node: it keeps its cookies itself (the
    nodes send ``Secure`` cookies; this client sends them over plain HTTP on 127.0.0.1)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(
        self,
        node: WebServer,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            content = raw.read()
            set_cookies = {}
            for header in raw.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                set_cookies[name.strip()] = rest.split(";", 1)[0]
            self.cookies.update(set_cookies)
            return Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, set_cookies, content)
        finally:
            conn.close()

    def csrf_token(self, page: bytes) -> str:
        """The form's CSRF token, or the cookie's secret (Django accepts either)."""
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if found:
            return found.group(1).decode()
        return self.cookies["csrftoken"]


@dataclass
class Cluster:
    redis: RedisServer
    line: FakeLine
    node_a: WebServer
    node_b: WebServer
    workers: list[Worker]

    @property
    def nodes(self) -> tuple[WebServer, WebServer]:
        return self.node_a, self.node_b

    def assert_alive(self) -> None:
        for node in self.nodes:
            assert node.process.poll() is None, "a gunicorn node died"
        for worker in self.workers:
            worker.assert_alive()

    def worker_logs(self) -> list[str]:
        """What each worker printed so far (its log file)."""
        return [worker.log.read_text() if worker.log else "" for worker in self.workers]


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is required in CI for the two-node test")
        pytest.skip("needs the redis-server binary")
    directory = tmp_path_factory.mktemp("multinode")
    redis_server = RedisServer(directory)
    redis_server.start()
    line = FakeLine()
    line.start()
    workers = Workers(directory)
    nodes: list[WebServer] = []
    try:
        env = process_env(
            redis_server,
            line,
            CACHE_KEY_PREFIX="multinode",
            SITE_URL="https://multinode.example.lg.jp",
        )
        # The workers start while the nodes import the project; the nodes start side by side.
        started = [workers.start(env), workers.start(env)]
        with ThreadPoolExecutor(2) as pool:
            starting = [pool.submit(WebServer, env, workers=1, threads=GUNICORN_THREADS) for _ in range(2)]
        nodes += [future.result() for future in starting if future.exception() is None]
        for future in starting:
            if future.exception() is not None:
                raise future.exception()
        cluster = Cluster(redis_server, line, nodes[0], nodes[1], started)
        # A test that shares work between the workers needs both consuming.
        wait_until(lambda: all(" ready." in log for log in cluster.worker_logs()), timeout=60)
        yield cluster
    finally:
        # Every process is told to stop first, then each is waited for: they stop side by side.
        for node in nodes:
            if node.process.poll() is None:
                os.killpg(node.process.pid, signal.SIGTERM)
        for worker in workers.started:
            if worker.process.poll() is None:
                worker.process.terminate()
        for node in nodes:
            node.stop()
        workers.stop_all()
        line.stop()
        redis_server.stop()


@pytest.fixture
def cluster_cache(cluster: Cluster, settings) -> Cluster:
    """The test process's cache is the cluster's Redis (same key prefix as the nodes)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": cluster.redis.url(),
            "KEY_PREFIX": "multinode",
        }
    }
    return cluster
