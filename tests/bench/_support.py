"""Helpers shared by the benchmark scripts in this folder (not a benchmark itself: ``make bench``
skips files whose name starts with an underscore).

The scripts are run as ``python tests/bench/<name>.py``, so Python puts this folder on
``sys.path`` and they import this module as ``import _support``.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = (
    str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
)
BIN = Path(PYTHON).parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


# --- database and Redis --------------------------------------------------------------------------


def ensure_database(name: str, server_url: str = PG_URL) -> None:
    """Create the PostgreSQL database ``name`` on ``server_url`` unless it already exists."""
    import psycopg

    with psycopg.connect(f"{server_url.rstrip('/')}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def vacuum(database_url: str, *tables: str, full: bool = False) -> None:
    """VACUUM ANALYZE after a benchmark's own bulk writes. A production server's autovacuum does
    this in the background; a test server may run without it, and a benchmark that scans the
    dead rows of its earlier runs measures the leftovers, not the product. FULL after a
    reseeding: the deleted rows' pages would otherwise double the table a scan reads. Then a
    CHECKPOINT: the flush of those writes happens now, not on the other core during a measurement."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM {'FULL ' if full else ''}ANALYZE {table}")
        conn.execute("CHECKPOINT")


def migrate(env: dict[str, str] | os._Environ, *, python: str = PYTHON, timeout: float | None = None) -> None:
    """``manage.py migrate`` in a subprocess with ``env`` (quiet; fails loudly)."""
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=timeout
    )


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


# --- gunicorn ------------------------------------------------------------------------------------


def gunicorn_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a production-like gunicorn (DEBUG off, Redis cache and broker, no eager
    Celery) against the bench's own database, for the benchmarks that talk HTTP."""
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "FIELD_ENCRYPTION_KEYS": "mFNuh-W29Tzx4rKrhwBDUa-odTVUCVxc44XFW1E1BHo=",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_MANIFEST": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LINE_BACKEND": "simulator",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def with_floor_pages(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the floor pages (``_floor_urls``) added to the product's URLs."""
    bench = Path(__file__).resolve().parent
    return {**env, "DJANGO_SETTINGS_MODULE": "_floor_settings", "PYTHONPATH": f"{ROOT}{os.pathsep}{bench}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int, env: dict[str, str]) -> subprocess.Popen:
    """gunicorn (gthread, keep-alive so that clients keep their connections) in its own session,
    so that ``os.killpg(proc.pid, …)`` stops the master and its workers."""
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "--backlog",
            "512",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


# --- wrk ---------------------------------------------------------------------------------------

REPLAY_LUA = Path(__file__).with_name("replay.lua")


def require_wrk() -> None:
    if not shutil.which("wrk"):
        sys.exit("This benchmark needs wrk as its load generator: apt-get install -y wrk")


def request_line(method: str, path: str, headers: dict[str, str], body: str = "") -> str:
    """One line of a requests file of ``replay.lua`` (tab-separated; the body holds no tab or newline)."""
    if "\t" in body or "\n" in body:
        raise ValueError("a replayed body cannot hold a tab or a newline")
    return "\t".join([method, path, *(f"{name}: {value}" for name, value in headers.items()), body]) + "\n"


def wrk(port: int, prefix: str, *, threads: int, connections: int, seconds: float) -> dict:
    """Replay ``<prefix>.<n>`` (one file per wrk thread) on keep-alive connections for ``seconds``.

    Returns the figures ``replay.lua`` prints: per thread the requests issued and the answers by
    status (``{"200": n, …}``), the duration, latency percentiles in µs and socket errors."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(REPLAY_LUA),
            f"http://127.0.0.1:{port}",
            "--",
            prefix,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("REPLAY-BENCH "):
            return json.loads(line.removeprefix("REPLAY-BENCH "))
    raise RuntimeError(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")


def ceiling(
    port: int, line: str, *, threads: int, connections: int, seconds: float = 5.0, cpu_of: int | None = None
) -> tuple[float, float]:
    """Requests/s answered 200 when wrk repeats one request (a ``request_line``): what the same
    server manages for a request that does less than the one measured, printed for scale. With
    the CPU seconds one such answer cost the process tree of ``cpu_of`` (the gunicorn master and
    its workers), else 0."""
    cpu_before = gunicorn_cpu(cpu_of) if cpu_of else 0.0
    with tempfile.TemporaryDirectory() as folder:
        for number in range(threads):
            Path(f"{folder}/line.{number}").write_text(line, encoding="utf-8")
        figures = wrk(port, f"{folder}/line", threads=threads, connections=connections, seconds=seconds)
    answered = status_count(figures, 200)
    cpu = gunicorn_cpu(cpu_of) - cpu_before if cpu_of else 0.0
    return answered / (figures["duration_us"] / 1e6), cpu / max(answered, 1)


def status_count(figures: dict, status: int | None = None) -> int:
    """Answers wrk got in all threads, with ``status`` or (``None``) any."""
    return sum(
        n
        for row in figures["threads"]
        for s, n in row["statuses"].items()
        if status is None or int(s) == status
    )


def postgres_cpu_seconds(env: dict[str, str]) -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (its backends, WAL writer …)."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Read while connected: once the connection closes, the backend exits and its /proc entry goes.
        with open(f"/proc/{backend}/stat") as fh:
            postmaster = int(fh.read().rsplit(")", 1)[1].split()[1])
    return tree_cpu_seconds(postmaster, include_parent=True)


def socket_errors(figures: dict) -> int:
    """wrk's connect, read, write and timeout errors (its "status" errors are answers ≥ 400, counted
    by ``status_count``)."""
    return sum(n for kind, n in figures["errors"].items() if kind != "status")


def children_cpu_seconds() -> float:
    """CPU seconds used so far by this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- CPU time of processes -----------------------------------------------------------------------


def gunicorn_cpu(master: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master and its workers."""
    return tree_cpu_seconds(master, include_parent=True)


def tree_cpu_seconds(parent: int, *, include_parent: bool) -> float:
    """CPU seconds (user + system) used so far by the children of ``parent`` (gunicorn workers),
    and by ``parent`` itself when ``include_parent``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is field 4 (ppid), counted after the command name
        if (include_parent and int(entry) == parent) or int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def descendants(pid: int) -> list[int]:
    """Children, grandchildren … of ``pid`` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    except OSError:
        return found
    return found + [grandchild for child in found for grandchild in descendants(child)]


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


# --- figures -------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """The ``p`` quantile (0–1) of ``values`` (seconds) in milliseconds; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)] * 1000
