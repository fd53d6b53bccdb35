"""Benchmark: webhook ingest with gunicorn + PostgreSQL + Redis + a Celery worker.

    python tests/bench/webhook.py [--seconds 15] [--workers 2] [--threads 4] [--clients 16]

What it does, all on 127.0.0.1:

1. creates (if needed) and migrates its own database ``cms_bench_webhook`` and a bench town;
2. starts gunicorn (``config.wsgi``, gthread workers so that clients keep their connections) and a
   Celery worker (processing the events as in production: replies recorded by the simulator
   backend), with Redis db 13 as the broker;
3. a load generator (processes × threads, keep-alive connections) posts signed webhook bodies
   with one message event each for ``--seconds``; 10% of the posts are redeliveries of an event
   already sent (``isRedelivery: true``, same webhookEventId);
4. prints events/s acknowledged (HTTP 200), p50/p99 latency, and rows stored vs unique events
   sent (must be equal: a redelivery is never a second row), then how many the worker processed.

Goal (issue 3): ≥ 1,500 events/s acknowledged on 2 cores, p99 < 100 ms. The load generator runs
on the same cores as the server, so the figures are pessimistic.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

from _support import (
    BIN,
    PG_URL,
    PYTHON,
    ROOT,
    ensure_database,
    flush_redis,
    free_port,
    gunicorn_env,
    migrate,
    pct,
    start_gunicorn,
    timed_request,
    tree_cpu_seconds,
    wait_for,
)

DB_NAME = "cms_bench_webhook"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SLUG = "benchtown"
SECRET = "bench-channel-secret"
REDELIVERY_SHARE = 0.10


def bench_env() -> dict[str, str]:
    return gunicorn_env(f"{PG_URL}/{DB_NAME}", REDIS_URL)


def prepare_database(env: dict[str, str]) -> int:
    ensure_database(DB_NAME)
    migrate(env)
    script = (
        "from municipalities.services import municipality_create_or_update\n"
        "from municipalities.models import WebhookEvent, TalkMessage, SimulatedDelivery, Resident\n"
        f"m, _ = municipality_create_or_update(slug={SLUG!r}, name='ベンチ町', channel_secret={SECRET!r},"
        " channel_access_token='bench-token', channel_id='1000000001')\n"
        "WebhookEvent.objects.filter(municipality=m).delete()\n"
        "TalkMessage.objects.filter(municipality=m).delete()\n"
        "SimulatedDelivery.objects.filter(municipality=m).delete()\n"
        "print(m.pk)\n"
    )
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def make_event(user_index: int, event_id: str, *, redelivery: bool) -> dict:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": f"U{user_index:032x}"},
        "webhookEventId": event_id,
        "replyToken": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": redelivery},
        "message": {"id": str(time.time_ns()), "type": "text", "text": "明日のごみは？", "quoteToken": "q"},
    }


def client_thread(port: int, deadline: float, seed: int, results: dict, per_post: int = 1) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent_ids: list[str] = []
    pending: set[str] = set()
    latencies: list[float] = []
    ok = errors = redeliveries = 0
    path = f"/line/webhook/{SLUG}/"
    while time.monotonic() < deadline:
        events = []
        for _ in range(per_post):
            if sent_ids and rng.random() < REDELIVERY_SHARE:
                event_id = rng.choice(sent_ids)
                redelivery = True
            else:
                event_id = uuid.uuid4().hex.upper()[:26]
                redelivery = False
            events.append(
                (event_id, redelivery, make_event(rng.randrange(2000), event_id, redelivery=redelivery))
            )
        body = json.dumps(
            {"destination": "Ubench", "events": [e for _, _, e in events]}, ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
        conn, status, seconds = timed_request(conn, port, "POST", path, body=body, headers=headers)
        if status is None:
            errors += 1
            continue
        latencies.append(seconds)
        if status == 200:
            for event_id, redelivery, _ in events:
                ok += 1
                if redelivery:
                    redeliveries += 1
                elif event_id not in pending:
                    pending.add(event_id)
                    sent_ids.append(event_id)
        else:
            errors += 1
    conn.close()
    results["ok"] += ok
    results["errors"] += errors
    results["redeliveries"] += redeliveries
    results["unique"].extend(sent_ids)
    results["latencies"].extend(latencies)


def load_process(
    port: int, seconds: float, threads: int, seed: int, queue: multiprocessing.Queue, per_post: int = 1
) -> None:
    results: dict = {"ok": 0, "errors": 0, "redeliveries": 0, "unique": [], "latencies": []}
    deadline = time.monotonic() + seconds
    workers = [
        threading.Thread(target=client_thread, args=(port, deadline, seed * 1000 + i, results, per_post))
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(results)


def cpu_seconds(parent_pid: int) -> float:
    """CPU time (user + system) used so far by the children of ``parent_pid`` (gunicorn workers)."""
    return tree_cpu_seconds(parent_pid, include_parent=False)


def warm_up(port: int, clients: int) -> None:
    """Until every gunicorn worker has imported the URLs and opened its database connection,
    the first requests take seconds: post signed empty bodies until answers are fast."""
    body = json.dumps({"destination": "Ubench", "events": []}).encode()
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}

    def hammer(deadline: float) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        timings = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            conn.request("POST", f"/line/webhook/{SLUG}/", body=body, headers=headers)
            conn.getresponse().read()
            timings.append(time.perf_counter() - started)
        conn.close()
        return timings

    for _ in range(10):
        results: list[list[float]] = []
        deadline = time.monotonic() + 2
        threads = [
            threading.Thread(target=lambda r=results, d=deadline: r.append(hammer(d))) for _ in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        slowest = max((max(r) for r in results if r), default=99)
        if slowest < 0.5:
            return


def count_rows(env: dict[str, str], unique_ids: list[str]) -> tuple[int, int, dict[str, int]]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        municipality_id = conn.execute(
            "SELECT id FROM municipalities_municipality WHERE slug = %s", [SLUG]
        ).fetchone()[0]
        stored = conn.execute(
            "SELECT count(*) FROM municipalities_webhookevent WHERE municipality_id = %s", [municipality_id]
        ).fetchone()[0]
        matching = conn.execute(
            "SELECT count(*) FROM municipalities_webhookevent WHERE municipality_id = %s AND webhook_event_id = ANY(%s)",
            [municipality_id, unique_ids],
        ).fetchone()[0]
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM municipalities_webhookevent WHERE municipality_id = %s GROUP BY status",
                [municipality_id],
            ).fetchall()
        )
    return stored, matching, statuses


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients in all")
    parser.add_argument(
        "--events-per-post",
        type=int,
        default=1,
        help="events in one webhook body (LINE batches events under load)",
    )
    parser.add_argument(
        "--no-worker",
        dest="worker",
        action="store_false",
        help="ingest only (no Celery worker competing for the CPU)",
    )
    parser.add_argument(
        "--drain-seconds", type=float, default=20.0, help="how long to let the worker catch up"
    )
    args = parser.parse_args()

    env = bench_env()
    print(f"preparing database {DB_NAME} …", flush=True)  # noqa: T201
    prepare_database(env)
    flush_redis(REDIS_URL)
    port = free_port()
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            start_gunicorn(port, args.workers, args.threads, env)
        )
        if args.worker:
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "celery"),
                        "-A",
                        "config",
                        "worker",
                        "--concurrency",
                        "1",
                        "--pool",
                        "solo",
                        "--loglevel",
                        "WARNING",
                    ],
                    cwd=ROOT,
                    env=env,
                    start_new_session=True,
                )
            )
        wait_for(port)
        warm_up(port, args.clients)

        print(  # noqa: T201
            f"load: {args.seconds:.0f}s, {args.clients} keep-alive clients in {args.load_processes} processes; "
            f"gunicorn {args.workers}×{args.threads} (gthread); Celery worker: {'1 (solo)' if args.worker else 'none'}; {os.cpu_count()} CPUs",
            flush=True,
        )
        queue: multiprocessing.Queue = multiprocessing.Queue()
        per_process = max(1, args.clients // args.load_processes)
        loaders = [
            multiprocessing.Process(
                target=load_process,
                args=(port, args.seconds, per_process, seed, queue, args.events_per_post),
            )
            for seed in range(args.load_processes)
        ]
        gunicorn_pid = procs[0].pid
        cpu_before = cpu_seconds(gunicorn_pid)
        started = time.monotonic()
        for loader in loaders:
            loader.start()
        merged: dict = {"ok": 0, "errors": 0, "redeliveries": 0, "unique": [], "latencies": []}
        for _ in loaders:
            part = queue.get()
            for key in ("ok", "errors", "redeliveries"):
                merged[key] += part[key]
            merged["unique"].extend(part["unique"])
            merged["latencies"].extend(part["latencies"])
        for loader in loaders:
            loader.join()
        elapsed = time.monotonic() - started
        cpu_used = cpu_seconds(gunicorn_pid) - cpu_before

        latencies = merged["latencies"]

        unique_ids = merged["unique"]
        stored, matching, _ = count_rows(env, unique_ids)
        rate = merged["ok"] / elapsed
        print(  # noqa: T201
            f"acknowledged: {merged['ok']} events in {elapsed:.1f}s = {rate:,.0f} events/s "
            f"({args.events_per_post} event(s) per post)"
        )
        print(f"  of which redeliveries: {merged['redeliveries']}; errors: {merged['errors']}")  # noqa: T201
        print(f"latency per post: p50 {pct(latencies, 0.50):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, max {pct(latencies, 1.0):.1f} ms")  # noqa: T201
        print(  # noqa: T201
            f"rows stored: {stored}; unique events sent: {len(set(unique_ids))}; "
            f"sent events found: {matching}; duplicates: {stored - len(set(unique_ids))}"
        )
        if merged["ok"]:
            per_event_ms = cpu_used / merged["ok"] * 1000
            print(  # noqa: T201
                f"gunicorn CPU: {cpu_used:.1f}s = {per_event_ms:.2f} ms per event → "
                f"≈ {2000 / per_event_ms:,.0f} events/s if two cores were the web's alone "
                "(PostgreSQL, Redis and the load generator not counted)"
            )
        goal_rate = rate >= 1500
        goal_p99 = pct(latencies, 0.99) < 100
        print(  # noqa: T201
            f"goal ≥1,500 events/s: {'met' if goal_rate else 'NOT met'}; p99 < 100 ms: {'met' if goal_p99 else 'NOT met'}; "
            f"rows == unique: {'yes' if stored == len(set(unique_ids)) == matching else 'NO'}"
        )
        drain_deadline = time.monotonic() + args.drain_seconds
        while time.monotonic() < drain_deadline:
            _, _, statuses = count_rows(env, [])
            if not statuses.get("received"):
                break
            time.sleep(1)
        _, _, statuses = count_rows(env, [])
        print(f"worker: {statuses} after up to {args.drain_seconds:.0f}s of draining")  # noqa: T201
        return 0 if stored == len(set(unique_ids)) == matching else 1
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
