"""Benchmark: one segment broadcast to N residents through the real path.

    python tests/bench/broadcast.py [--recipients N] [--line-api-base-url URL]
                                    [--workers W] [--concurrency C] [--pool solo|prefork|threads]
                                    [--fail-rate 0.05] [--throttle-rate 0.03] [--fail-after-accept S]

The real path: PostgreSQL (its own database ``cms_bench_broadcast``, migrated here), Redis
(broker and rate limiter, database 11), ``celery -A config worker`` processes with
CELERY_TASK_ALWAYS_EAGER=false, LINE_BACKEND=api against a fake LINE server that enforces
LINE's multicast limits (200 requests/s, 500 ids per request, 409 on a reused retry key) and
counts unique recipients. ``--line-api-base-url`` uses an already running fake server instead
(then duplicates and missing recipients are checked from the batch rows only). ``--fail-rate``
and ``--throttle-rate`` make the fake LINE answer that share of the multicasts with 500 and 429
(``--fail-after-accept``: that share of the 500s after accepting, so the retry meets 409).

Printed: wall time from the approval to the last batch acknowledged, recipients/s, the ratio
to LINE's ceiling (100,000 recipients/s), duplicates, missing, and the peak memory of the
worker processes. Goal: 2,000,000 recipients in ≤ 23 s, 0 duplicates, 0 missing, flat memory;
with 5 % 500 and 3 % 429 injected, ≤ 1.25× LINE's ceiling (25 s for 2,000,000).
Everything runs on 127.0.0.1 and is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from _support import ROOT, descendants, ensure_database, migrate, process_cpu_seconds, vacuum

sys.path.insert(0, str(ROOT))

# BENCH_BROADCAST_DB / BENCH_BROADCAST_REDIS_URL: a database and Redis of one's own, when
# several people run this benchmark on one machine (each run deletes the batches of the last).
DB_NAME = os.environ.get("BENCH_BROADCAST_DB", "cms_bench_broadcast")
PG_URL = "postgres://postgres@127.0.0.1:5432/"
REDIS_URL = os.environ.get("BENCH_BROADCAST_REDIS_URL", "redis://127.0.0.1:6379/11")
LINE_CEILING = 100_000  # recipients per second: 200 multicast requests/s × 500 ids
MULTICAST_RATE = 200


def bench_env(line_api_base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=PG_URL + DB_NAME,
        DATABASE_CONN_MAX_AGE="600",
        REDIS_URL=REDIS_URL,
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        CACHE_KEY_PREFIX="bench-broadcast",
        LINE_BACKEND="api",
        LINE_API_BASE_URL=line_api_base_url,
        SITE_URL="https://bench.example.lg.jp",
        LINE_API_TIMEOUT_SECONDS="10",
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or "bench-secret-key-not-for-production-0123456789abcdef",
        FIELD_ENCRYPTION_KEYS=env.get("FIELD_ENCRYPTION_KEYS")
        or "mFNuh-W29Tzx4rKrhwBDUa-odTVUCVxc44XFW1E1BHo=",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        STATIC_MANIFEST="false",
        LOG_LEVEL="WARNING",
    )
    return env


def seed(recipients: int) -> tuple[object, object, object]:
    """The bench town with exactly ``recipients`` residents who receive the category, plus 5 %
    who paused notices (not recipients). Inserted with COPY; reused when already there."""
    from django.db import connection, transaction
    from django.utils import timezone

    from municipalities.models import Department, Interest, Resident
    from municipalities.services import municipality_create_or_update

    town, _ = municipality_create_or_update(
        slug="bench",
        name="ベンチ市",
        channel_secret="bench-secret",
        channel_access_token="bench-token",
        channel_id="9999",
    )
    department, _ = Department.objects.get_or_create(
        municipality=town, code="bench", defaults={"name": "広報課"}
    )
    interest, _ = Interest.objects.get_or_create(municipality=town, code="kenko", defaults={"name": "健康"})
    extra = max(recipients // 20, 1)
    have = Resident.objects.filter(municipality=town).count()
    have_receiving = Resident.objects.filter(
        municipality=town, notices_paused=False, interests=interest
    ).count()
    if have == recipients + extra and have_receiving == recipients:
        return town, department, interest
    started = time.monotonic()
    through = Resident.interests.through
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {through._meta.db_table} WHERE resident_id IN "  # noqa: S608 - table names from Django
            f"(SELECT id FROM {Resident._meta.db_table} WHERE municipality_id = %s)",
            [town.pk],
        )
        cursor.execute(f"DELETE FROM {Resident._meta.db_table} WHERE municipality_id = %s", [town.pk])  # noqa: S608
        columns = (
            "created_at, updated_at, municipality_id, line_user_id, display_name, picture_url, is_following, "
            "followed_at, age_band, notices_paused, is_simulated"
        )
        now = timezone.now()
        with cursor.cursor.copy(f"COPY {Resident._meta.db_table} ({columns}) FROM STDIN") as copy:
            for i in range(recipients + extra):
                copy.write_row(
                    [now, now, town.pk, f"U{i:032x}", "", "", True, now, "", i >= recipients, False]
                )
        cursor.execute(
            f"INSERT INTO {through._meta.db_table} (resident_id, interest_id) "  # noqa: S608
            f"SELECT id, %s FROM {Resident._meta.db_table} WHERE municipality_id = %s",
            [interest.pk, town.pk],
        )
    vacuum(PG_URL + DB_NAME, Resident._meta.db_table, through._meta.db_table, full=True)
    print(f"  seeded {recipients + extra:,} residents in {time.monotonic() - started:.1f}s", flush=True)
    return town, department, interest


# --- worker processes and their memory ---------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def workers_cpu_seconds(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids + [c for p in pids for c in descendants(p)])


class WorkerMemory:
    """Peak resident memory of each worker process (main and pool children), sampled."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_kb: dict[int, int] = {}
        self.first_kb: dict[int, int] = {}

    def sample(self) -> None:
        for pid in self.pids + [c for p in self.pids for c in descendants(p)]:
            rss = max(_status_kb(pid, "VmRSS"), _status_kb(pid, "VmHWM"))
            if rss:
                self.first_kb.setdefault(pid, _status_kb(pid, "VmRSS"))
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), rss)

    def report(self) -> tuple[float, float, float]:
        """(peak of one process MB, sum of peaks MB, growth of the largest process MB)."""
        if not self.peak_kb:
            return 0.0, 0.0, 0.0
        worst = max(self.peak_kb, key=self.peak_kb.get)
        return (
            self.peak_kb[worst] / 1024,
            sum(self.peak_kb.values()) / 1024,
            (self.peak_kb[worst] - self.first_kb.get(worst, 0)) / 1024,
        )


def start_workers(env: dict[str, str], workers: int, concurrency: int, pool: str) -> list[subprocess.Popen]:
    procs = []
    for n in range(workers):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-l",
                    "warning",
                    "-c",
                    str(concurrency),
                    "-P",
                    pool,
                    "-n",
                    f"bench{n}@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(f"/tmp/bench-broadcast-{DB_NAME}-worker{n}.log", "w"),  # noqa: SIM115 - lives as long as the worker
            )
        )
    return procs


def wait_for_workers(app: object, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []  # type: ignore[attr-defined]
        if len(replies) >= count:
            return
    raise SystemExit(f"the Celery workers did not start (see /tmp/bench-broadcast-{DB_NAME}-worker*.log)")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- the run ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--line-api-base-url", default="", help="an already running fake LINE server")
    parser.add_argument("--workers", type=int, default=6, help="celery worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes (or threads) per worker")
    parser.add_argument(
        "--pool",
        default="solo",
        choices=["solo", "prefork", "threads"],
        help="Celery pool (solo: each worker process runs its tasks itself, no hand-off to a child or a thread)",
    )
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of multicasts answered 500")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share of multicasts answered 429")
    parser.add_argument(
        "--fail-after-accept", type=float, default=0.0, help="share of the 500s answered after accepting"
    )
    parser.add_argument(
        "--timeout", type=float, default=0, help="give up after this many seconds (default: scaled)"
    )
    args = parser.parse_args()
    timeout = args.timeout or max(60.0, args.recipients / 100_000 * 20 * 4)

    fake = None
    line_url = args.line_api_base_url
    if not line_url:
        from tests import fakeline

        # Answer without Nagle's delay: http.server writes the headers and the body separately,
        # which otherwise costs 40 ms per request (delayed ACK), far slower than LINE.
        fakeline._Handler.disable_nagle_algorithm = True
        fake = fakeline.FakeLine(
            validate=False,
            record=False,
            rate_limits={"multicast": MULTICAST_RATE},
            fail_rate=args.fail_rate,
            throttle_rate=args.throttle_rate,
            fail_after_accept=args.fail_after_accept,
        )
        fake.start()
        line_url = fake.base_url
    env = bench_env(line_url)
    os.environ.update(env)
    ensure_database(DB_NAME, PG_URL)
    migrate(env, python=sys.executable, timeout=600)

    import django

    django.setup()
    import redis
    from django.db.models import Max, Min, Sum
    from django.utils import timezone

    from broadcasts.models import BatchStatus, Broadcast, BroadcastMessage, BroadcastStatus, DeliveryBatch
    from broadcasts.services import broadcast_approve, broadcast_submit
    from config.celery import app

    redis.Redis.from_url(REDIS_URL).flushdb()  # the bench's own Redis database: queue and limiter
    faults = args.fail_rate or args.throttle_rate
    print(
        f"== broadcast benchmark: {args.recipients:,} recipients, {args.workers} worker(s) × {args.concurrency} ({args.pool})"
        + (
            f"; LINE answers {args.fail_rate:.0%} 500 ({args.fail_after_accept:.0%} of them after accepting)"
            f" and {args.throttle_rate:.0%} 429"
            if faults
            else ""
        ),
        flush=True,
    )
    town, department, interest = seed(args.recipients)
    # Earlier runs' batches (up to 2M ids each) are not this run's business.
    DeliveryBatch.objects.filter(broadcast__department=department).delete()
    vacuum(PG_URL + DB_NAME, DeliveryBatch._meta.db_table, Broadcast._meta.db_table)
    broadcast = Broadcast.objects.create(department=department, title="ベンチマーク配信", category=interest)
    BroadcastMessage.objects.create(
        broadcast=broadcast, position=0, kind="text", text="【健康】今年度の特定健診のご案内です。"
    )
    broadcast_submit(broadcast=broadcast, actor=None)

    procs = start_workers(env, args.workers, args.concurrency, args.pool)
    memory = WorkerMemory([p.pid for p in procs])
    try:
        wait_for_workers(app, args.workers)
        memory.sample()
        # when: approved now; the start task, the fan-out and every batch run in the workers
        t0 = timezone.now()
        started_monotonic = time.monotonic()
        cpu_workers_0 = workers_cpu_seconds([p.pid for p in procs])
        cpu_bench_0 = time.process_time()
        broadcast_approve(broadcast=broadcast, actor=None)
        status = BroadcastStatus.APPROVED
        while time.monotonic() - started_monotonic < timeout:
            memory.sample()
            status = Broadcast.objects.values_list("status", flat=True).get(pk=broadcast.pk)
            if status in {BroadcastStatus.SENT, BroadcastStatus.PARTIAL, BroadcastStatus.CANCELLED}:
                break
            time.sleep(0.25)
        memory.sample()
        cpu_workers = workers_cpu_seconds([p.pid for p in procs]) - cpu_workers_0
        cpu_fake = time.process_time() - cpu_bench_0
    finally:
        stop_workers(procs)
        if fake is not None:
            fake.stop()

    broadcast.refresh_from_db()
    batches = DeliveryBatch.objects.filter(broadcast=broadcast)
    figures = batches.aggregate(
        last=Max("sent_at"), first=Min("claimed_at"), attempts=Sum("attempts"), total=Sum("size")
    )
    sent = batches.filter(status=BatchStatus.SENT).aggregate(n=Sum("size"))["n"] or 0
    failed = batches.filter(status=BatchStatus.FAILED).aggregate(n=Sum("size"))["n"] or 0
    accepted_409 = batches.filter(already_accepted=True).count()
    batch_count = batches.count()
    last = figures["last"] or timezone.now()
    wall = (last - t0).total_seconds()
    fan_out = ((figures["first"] or last) - t0).total_seconds()
    picked_up = ((broadcast.started_at or last) - t0).total_seconds()
    fanned_out = ((broadcast.fanned_out_at or last) - t0).total_seconds()
    from django.db import connection

    with connection.cursor() as cursor:  # every recipient in exactly one batch (from the rows)
        cursor.execute(
            "SELECT count(*), count(DISTINCT u) FROM broadcasts_deliverybatch b, jsonb_array_elements_text(b.line_user_ids) u "
            "WHERE b.broadcast_id = %s",
            [broadcast.pk],
        )
        listed, distinct_listed = cursor.fetchone()
    peak_one, peak_sum, growth = memory.report()
    rate = sent / wall if wall > 0 else 0.0

    out = [
        f"  status                  {broadcast.get_status_display()} ({status})",
        f"  recipients              {broadcast.recipient_count:,} in {batch_count:,} batches (expected {args.recipients:,})",
        f"  wall time               {wall:.2f} s  (approval → last batch acknowledged)",
        f"  approval → first send   {fan_out:.2f} s  (start task picked up after {picked_up:.2f} s; "
        "first fan-out step; enqueue)",
        f"  approval → fanned out   {fanned_out:.2f} s  (every recipient in a batch, while the first are sent)",
        f"  recipients/s            {rate:,.0f}",
        f"  ratio to LINE ceiling   {rate / LINE_CEILING:.2f} (ceiling {LINE_CEILING:,}/s = {MULTICAST_RATE} multicast/s × 500)",
        f"  delivered / failed      {sent:,} / {failed:,}  (409 already-accepted batches: {accepted_409})",
        f"  attempts                {figures['attempts'] or 0:,} for {batch_count:,} batches (retries after 429/5xx)",
        f"  batch rows              {listed:,} ids, {distinct_listed:,} distinct",
    ]
    if fake is not None:
        duplicates = fake.duplicate_deliveries()
        unique = fake.unique_recipients()
        out += [
            f"  fake LINE requests      {fake.request_count('multicast'):,} multicast "
            f"({fake.request_count('multicast') - batch_count + accepted_409:,} refused with 429, 5xx or 409; "
            f"injected: {fake.faults_injected[500]:,} × 500, {fake.faults_injected[429]:,} × 429)",
            f"  duplicates              {len(duplicates):,}  (user ids delivered more than once)",
            f"  missing                 {args.recipients - unique:,}  (recipients the fake server never received)",
        ]
        ok_counts = not duplicates and unique == args.recipients
    else:
        out += [
            f"  duplicates              {listed - distinct_listed:,}  (from the batch rows; the external server was not asked)",
            f"  missing                 {args.recipients - sent:,}  (recipients not in a sent batch)",
        ]
        ok_counts = listed == distinct_listed and sent == args.recipients
    out += [
        f"  worker memory (peak)    {peak_one:.0f} MB largest process, {peak_sum:.0f} MB all processes; "
        f"largest grew {growth:.0f} MB during the run",
        f"  CPU per batch           {1000 * cpu_workers / max(batch_count, 1):.1f} ms in the workers (Celery, ORM, SDK), "
        f"{1000 * cpu_fake / max(batch_count, 1):.1f} ms in this process (fake LINE server); "
        f"{batch_count / max(wall, 0.001) * (cpu_workers + cpu_fake) / max(batch_count, 1):.2f} cores busy on average",
        f"  load average            {os.getloadavg()[0]:.1f} (1 min) at the end",
        "  note                    the machine is shared (2 cores, other engineers' tests running): figures are pessimistic",
    ]
    ceiling = args.recipients / LINE_CEILING
    out.append(
        f"  ratio to ceiling time   {wall / ceiling:.2f}× ({wall:.2f} s against {ceiling:.2f} s at {LINE_CEILING:,}/s)"
    )
    if faults:
        goal = 1.25 * ceiling
        out.append(
            f"  goal                    {'met' if ok_counts and wall <= max(goal, 1.0) else 'NOT met'} "
            f"(≤ 1.25× the fault-free ceiling = {goal:.1f} s with faults injected, 0 duplicates, 0 missing)"
        )
    else:
        goal = 23.0 * args.recipients / 2_000_000
        out.append(
            f"  goal                    {'met' if ok_counts and wall <= max(goal, 1.0) else 'NOT met'} "
            f"(≤ {goal:.1f} s for this size at the 2M-in-23-s pace, 0 duplicates, 0 missing)"
        )
    print("\n".join(out), flush=True)
    return 0 if ok_counts else 1


if __name__ == "__main__":
    raise SystemExit(main())
