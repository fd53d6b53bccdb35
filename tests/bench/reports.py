"""Benchmark: the reports at a large town's size, in-process against PostgreSQL.

    python tests/bench/reports.py [--scale 1.0] [--reseed] [--days 365]

Issue 21's sizes at ``--scale 1``: a town with 100,000 friends, 1,000,000 reservations,
10,000,000 webhook events and 200,000 submissions over a year (plus 365,000 chatbot outcomes and
two broadcasts a week). ``--scale 0.05`` is a quick run. The data is generated with set-based SQL
(``INSERT … SELECT … FROM generate_series``) into the bench's own database
``cms_bench_reports`` and kept for the next run at the same scale (``--reseed`` starts over).

1. The nightly rollup of one day (every provider, one transaction): seconds, median of 3
   (goal ≤ 10 s at scale 1).
2. ``--days`` days are rolled up (the backfill the dashboard reads; skipped for days that
   already have rows at this scale).
3. The dashboard over the whole year, as 自治体管理者 through Django's test client (the full
   middleware stack, DEBUG off): milliseconds, median of 3, and the number of queries for a
   month and for the year (they must be equal); for scale, the median time of ``/healthz``
   through the same client, and the ratio (goal: the year's dashboard ≤ 300 ms).

The machine is shared (2 cores, other people's tests): figures are pessimistic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

from _support import PG_URL, ROOT, ensure_database, vacuum

sys.path.insert(0, str(ROOT))

DATABASE = "cms_bench_reports"
FRIENDS, RESERVATIONS, EVENTS, SUBMISSIONS, TALK = 100_000, 1_000_000, 10_000_000, 200_000, 365_000


def insert_series(model, count: int, exprs: dict[str, str], *, chunk: int = 1_000_000) -> None:
    """``count`` rows of ``model`` from ``generate_series`` (``g`` is 1…count). Fields not in
    ``exprs`` get their model default (so a column added later does not break the bench)."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns, values, params = [], [], []
    for f in fields:
        columns.append(f'"{f.column}"')
        if f.name in exprs or f.attname in exprs:
            values.append((exprs.get(f.name) or exprs[f.attname]).replace("%", "%%"))
            continue
        if f.has_default():
            default = f.get_default()
        elif f.null:
            default = None
        elif f.get_internal_type() in ("CharField", "TextField", "SlugField", "URLField", "EmailField"):
            default = ""
        else:
            raise SystemExit(f"bench: {model.__name__}.{f.name} needs a value")
        values.append("%s")
        params.append(None if default is None else f.get_db_prep_save(default, connection))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(%s::bigint, %s::bigint) AS g"
    )
    with connection.cursor() as cursor:
        for first in range(1, count + 1, chunk):
            cursor.execute(sql, [*params, first, min(count, first + chunk - 1)])


def seed(scale: float, year_start: dt.date) -> None:
    from django.db import connection, transaction

    from applications.models import ApplicationForm, Submission
    from broadcasts.models import Broadcast
    from municipalities.models import (
        Area,
        Department,
        Interest,
        Resident,
        StaffUser,
        WebhookEvent,
    )
    from reports.models import DailyMetric
    from reservations.models import Menu, Reservation, Slot
    from tests.conftest import make_town

    n_friends, n_res, n_events = int(FRIENDS * scale), int(RESERVATIONS * scale), int(EVENTS * scale)
    n_subs = int(SUBMISSIONS * scale)
    t0 = time.perf_counter()
    town = make_town("bench", "ベンチ市")
    kenko = Department.objects.create(municipality=town, code="kenko", name="健康福祉課", sort_order=1)
    somu = Department.objects.create(municipality=town, code="somu", name="総務課", sort_order=2)
    areas = [Area.objects.create(municipality=town, name=f"地区{i}", sort_order=i) for i in range(1, 21)]
    interests = [
        Interest.objects.create(municipality=town, code=f"c{i}", name=f"分野{i}") for i in range(1, 9)
    ]
    StaffUser.objects.create_user("bench_staff", "b@example.jp", "x", municipality=town, is_staff=True)
    start = f"TIMESTAMPTZ '{year_start.isoformat()} 00:00:00+09'"
    area_ids = ",".join(str(a.pk) for a in areas)
    with transaction.atomic():
        insert_series(
            Resident,
            n_friends,
            {
                "municipality": str(town.pk),
                "line_user_id": "'U' || lpad(to_hex(g), 32, '0')",
                "display_name": "'住民' || g",
                "is_following": "g % 9 <> 0",
                "followed_at": f"{start} + (g % 365) * interval '1 day' + (g % 86400) * interval '1 second'",
                "unfollowed_at": f"CASE WHEN g % 9 = 0 THEN {start} + interval '200 days' END",
                "area": f"(ARRAY[{area_ids}])[1 + g % 20]",
                "age_band": "(ARRAY['u20','20s','30s','40s','50s','60s','70p',''])[1 + g % 8]",
                "created_at": start,
                "updated_at": start,
            },
        )
        through = Resident.interests.through
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {through._meta.db_table} (resident_id, interest_id) "
                "SELECT r.id, i.id FROM municipalities_resident r JOIN municipalities_interest i "
                "ON i.municipality_id = r.municipality_id AND (r.id + i.id) %% 3 = 0 WHERE r.municipality_id = %s",
                [town.pk],
            )
        menus = [
            Menu.objects.create(department=d, name=f"{d.name}メニュー{i}", venues="保健センター\n公民館")
            for d in (kenko, somu)
            for i in range(1, 4)
        ]
        menu_ids = ",".join(str(m.pk) for m in menus)
        n_slots = max(60, n_res // 50)
        insert_series(
            Slot,
            n_slots,
            {
                "menu": f"(ARRAY[{menu_ids}])[1 + g % 6]",
                "venue": "CASE WHEN g % 2 = 0 THEN '保健センター' ELSE '公民館' END",
                # distinct times within a day (the slot's natural key is unique)
                "starts_at": f"{start} + ((g * 365) / {n_slots}) * interval '1 day' + interval '9 hours' + (g % 480) * interval '1 minute'",
                "ends_at": f"{start} + ((g * 365) / {n_slots}) * interval '1 day' + interval '9 hours 30 minutes' + (g % 480) * interval '1 minute'",
                "capacity": "60",
                "created_at": start,
                "updated_at": start,
            },
        )
        first_slot = (
            Slot.objects.filter(menu__department__municipality=town)
            .order_by("pk")
            .values_list("pk", flat=True)[0]
        )
        first_resident = (
            Resident.objects.filter(municipality=town).order_by("pk").values_list("pk", flat=True)[0]
        )
        staff_id = StaffUser.objects.get(username="bench_staff").pk
        insert_series(
            Reservation,
            n_res,
            {
                "slot": f"(SELECT s.id FROM reservations_slot s WHERE s.id = {first_slot} + (g - 1) / 50)",
                "menu": f"(SELECT s.menu_id FROM reservations_slot s WHERE s.id = {first_slot} + (g - 1) / 50)",
                "slot_date": f"(SELECT (s.starts_at AT TIME ZONE 'Asia/Tokyo')::date FROM reservations_slot s WHERE s.id = {first_slot} + (g - 1) / 50)",
                "resident": f"CASE WHEN g % 3 = 0 THEN NULL ELSE {first_resident} + g % {n_friends} END",
                "name": "CASE WHEN g % 3 = 0 THEN '電話 太郎' ELSE '' END",
                "code": "'B' || lpad(to_hex(g), 10, '0')",
                "status": "(ARRAY['booked','booked','attended','attended','cancelled','no_show'])[1 + g % 6]",
                "booked_by": f"CASE WHEN g % 3 = 0 THEN {staff_id} END",
                "cancelled_at": f"CASE WHEN g % 6 = 4 THEN {start} + ((g * 365) / {n_res}) * interval '1 day' + interval '5 hours' END",
                "created_at": f"{start} + ((g * 365) / {n_res}) * interval '1 day' - interval '3 days' + (g % 50000) * interval '1 second'",
                "updated_at": start,
            },
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE reservations_slot s SET reserved = c.n FROM (SELECT slot_id, count(*) n FROM "
                "reservations_reservation WHERE status = 'booked' GROUP BY slot_id) c WHERE s.id = c.slot_id"
            )
        insert_series(
            WebhookEvent,
            n_events,
            {
                "municipality": str(town.pk),
                "webhook_event_id": "'01BENCH' || lpad(to_hex(g), 19, '0')",
                "event_type": "CASE WHEN g % 97 = 0 THEN 'follow' WHEN g % 89 = 0 THEN 'unfollow' ELSE 'message' END",
                "line_user_id": f"'U' || lpad(to_hex(1 + g % {n_friends}), 32, '0')",
                "occurred_at": f"{start} + ((g::float8 * 365 * 86400) / {n_events}) * interval '1 second'",
                "payload": """'{"type": "message"}'::jsonb""",
                "status": "'processed'",
                "created_at": f"{start} + ((g::float8 * 365 * 86400) / {n_events}) * interval '1 second'",
                "updated_at": start,
            },
        )
        forms = [
            ApplicationForm.objects.create(department=d, title=f"{d.name}の申請{i}", is_published=True)
            for d in (kenko, somu)
            for i in range(1, 3)
        ]
        form_ids = ",".join(str(f.pk) for f in forms)
        sub_at = f"{start} + ((g::float8 * 365 * 86400) / {n_subs}) * interval '1 second'"
        insert_series(
            Submission,
            n_subs,
            {
                "form": f"(ARRAY[{form_ids}])[1 + g % 4]",
                "resident": f"{first_resident} + g % {n_friends}",
                "reference": "'S' || lpad(to_hex(g), 12, '0')",
                "idempotency_token": "md5(g::text)::uuid",
                "status": "(ARRAY['received','in_review','needs_correction','completed','completed','completed'])[1 + g % 6]",
                "submitted_at": sub_at,
                "completed_at": f"CASE WHEN g % 6 >= 3 THEN {sub_at} + (g % 200) * interval '1 hour' END",
                "created_at": sub_at,
                "updated_at": sub_at,
            },
        )
        broadcasts = []
        for week in range(52):
            for offset, department in ((1, kenko), (4, somu)):
                started = dt.datetime.combine(
                    year_start + dt.timedelta(days=7 * week + offset), dt.time(18), dt.UTC
                )
                broadcasts.append(
                    Broadcast(
                        department=department,
                        title=f"第{week + 1}週のお知らせ",
                        status="sent",
                        category=interests[week % 8],
                        started_at=started,
                        finished_at=started + dt.timedelta(minutes=5),
                        recipient_count=int(60_000 * scale),
                        delivered_count=int(59_800 * scale),
                        failed_count=int(200 * scale),
                        unfollow_count=int(150 * scale),
                    )
                )
        Broadcast.objects.bulk_create(broadcasts)
        DailyMetric.objects.filter(municipality=town).delete()
    print(f"seeded scale {scale} in {time.perf_counter() - t0:.0f} s", flush=True)


def seed_late(town, scale: float, year_start: dt.date) -> bool:
    """Records the bench gained after a database was first seeded (the chatbot's outcomes, LINE's
    daily figures), added to a kept database when missing. Returns True when it added some (the
    year's daily rows are then rolled up again)."""
    from municipalities.models import MetricEvent
    from reports.models import LineInsightDay

    added = False
    n_talk = int(TALK * scale)
    start = f"TIMESTAMPTZ '{year_start.isoformat()} 00:00:00+09'"
    if not MetricEvent.objects.filter(municipality=town).exists():
        event_at = f"{start} + ((g::float8 * 365 * 86400) / {n_talk}) * interval '1 second'"
        insert_series(
            MetricEvent,
            n_talk,
            {
                "municipality": str(town.pk),
                "source": "'chatbot'",
                "kind": "(ARRAY['answered','answered','answered','suggested','not_understood','chosen','handed_off'])[1 + g % 7]",
                "topic": "CASE WHEN g % 7 = 4 THEN 'unanswered:' || (g % 500) WHEN g % 7 = 6 THEN 'department:' ELSE 'item:' || (g % 300) END",
                "label": "CASE WHEN g % 7 = 4 THEN '質問' || (g % 500) WHEN g % 7 = 6 THEN '担当課なし' ELSE '品目' || (g % 300) END",
                "created_at": event_at,
                "updated_at": event_at,
            },
        )
        added = True
    if not LineInsightDay.objects.filter(municipality=town).exists():
        friends = int(FRIENDS * scale)
        insert_series(
            LineInsightDay,
            366,
            {
                "municipality": str(town.pk),
                "day": f"DATE '{year_start.isoformat()}' + (g - 1)::int",
                "followers": f"{friends} * g / 366 + {friends} / 9",
                "targeted_reaches": f"{friends} * g / 366",
                "blocks": f"{friends} / 9",
                "deliveries": """jsonb_build_object('apiMulticast', 60000 * (g % 2), 'apiPush', 300, 'apiReply', 500)""",
                "demographics": """'{"ages": [["from30to34", 40.0], ["from70", 60.0]], "genders": [["female", 55.0], ["male", 45.0]]}'::jsonb""",
                "fetched_at": "now()",
                "created_at": "now()",
                "updated_at": "now()",
            },
        )
        added = True
    return added


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    database_url = f"{PG_URL.rstrip('/')}/{DATABASE}"
    ensure_database(DATABASE)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "FIELD_ENCRYPTION_KEYS": "mFNuh-W29Tzx4rKrhwBDUa-odTVUCVxc44XFW1E1BHo=",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_MANIFEST": "false",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LINE_BACKEND": "simulator",
        }
    )
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from municipalities.models import Municipality, Role, StaffUser
    from municipalities.services import staff_role_grant
    from reports.models import DailyMetric
    from reports.services import daily_metrics_rollup

    call_command("migrate", verbosity=0)
    today = dt.date.today()  # noqa: DTZ011 (a calendar date for the generated year)
    year_start = today - dt.timedelta(days=366)
    marker = f"bench scale {args.scale}"
    town = Municipality.objects.filter(slug="bench").first()
    if args.reseed or town is None or town.name != marker:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        call_command("migrate", verbosity=0)
        seed(args.scale, year_start)
        Municipality.objects.filter(slug="bench").update(name=marker)
        vacuum(
            database_url, "municipalities_webhookevent", "reservations_reservation", "applications_submission"
        )
    town = Municipality.objects.get(slug="bench")
    if seed_late(town, args.scale, year_start):
        DailyMetric.objects.filter(municipality=town).delete()  # roll the year up again with them
        vacuum(database_url, "municipalities_metricevent", "reports_lineinsightday")

    # 1. the nightly rollup of one day
    day = year_start + dt.timedelta(days=180)
    timings = []
    for _ in range(3):
        t = time.perf_counter()
        rows = daily_metrics_rollup(municipality=town, day=day)
        timings.append(time.perf_counter() - t)
    print(
        f"rollup of one day ({day}): median {statistics.median(timings):.2f} s of 3 "
        f"({', '.join(f'{x:.2f}' for x in timings)}), {rows} rows; goal <= 10 s",
        flush=True,
    )

    # 2. the year's daily rows
    have = set(DailyMetric.objects.filter(municipality=town).values_list("day", flat=True))
    t = time.perf_counter()
    done = 0
    for offset in range(args.days):
        d = year_start + dt.timedelta(days=offset)
        if d not in have:
            daily_metrics_rollup(municipality=town, day=d)
            done += 1
    print(
        f"rolled up {done} days in {time.perf_counter() - t:.0f} s "
        f"({DailyMetric.objects.filter(municipality=town).count()} daily rows)",
        flush=True,
    )
    vacuum(database_url, "reports_dailymetric", "reports_monthlymetric")

    # 3. the dashboard for a year, against /healthz through the same client
    admin, _created = StaffUser.objects.get_or_create(
        username="bench_joho", defaults={"municipality": town, "is_staff": True}
    )
    if _created:
        staff_role_grant(user=admin, role=Role.MUNICIPALITY_ADMIN, department=None, actor=None)
    client = Client()
    client.force_login(admin, backend="municipalities.auth.RoleBackend")
    url = reverse("admin:reports_dailymetric_dashboard")
    year = {"start": year_start.isoformat(), "end": (year_start + dt.timedelta(days=364)).isoformat()}
    month = {
        "start": (year_start + dt.timedelta(days=300)).isoformat(),
        "end": (year_start + dt.timedelta(days=330)).isoformat(),
    }

    def timed(path: str, params: dict | None = None) -> float:
        t = time.perf_counter()
        response = client.get(path, params or {})
        elapsed = time.perf_counter() - t
        assert response.status_code == 200, (path, response.status_code)
        return elapsed * 1000

    timed(url, year)  # warm-up (templates, role caches)
    timed("/healthz")
    dashboard = [timed(url, year) for _ in range(3)]
    healthz = [timed("/healthz") for _ in range(3)]
    with CaptureQueriesContext(connection) as q_month:
        timed(url, month)
    with CaptureQueriesContext(connection) as q_year:
        timed(url, year)
    d, h = statistics.median(dashboard), statistics.median(healthz)
    print(
        f"dashboard, one year: median {d:.0f} ms of 3 ({', '.join(f'{x:.0f}' for x in dashboard)}); "
        f"/healthz median {h:.1f} ms; ratio {d / h:.0f}x; goal <= 300 ms",
        flush=True,
    )
    print(f"queries: a month {len(q_month)}, a year {len(q_year)} (constant: {len(q_month) == len(q_year)})")


if __name__ == "__main__":
    main()
