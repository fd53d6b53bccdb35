"""Benchmark: import of 100,000 slot rows (dry run, then commit) into PostgreSQL.

    python tests/bench/slot_import.py [--rows 100000]

Creates (if needed) and migrates its own database ``cms_bench_slot_import`` on 127.0.0.1, writes
a Shift_JIS CSV with mixed date/time forms (2027/01/05, 令和9年1月5日, R9.1.5, full-width
digits, 9時30分 …), then runs the same service as the admin and ``manage.py import_slots``:
a dry run (read, decode, parse, check against existing slots) and the real import (check again +
bulk insert in one transaction). Then it imports the same file again (must create 0).

Goal (issue 5): 100,000 rows, dry run + commit, in ≤ 20 s. The machine is shared, so the figures
are pessimistic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time

from _support import PG_URL, ROOT, ensure_database, migrate

DB_NAME = "cms_bench_slot_import"


def configure_env() -> None:
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "FIELD_ENCRYPTION_KEYS": "mFNuh-W29Tzx4rKrhwBDUa-odTVUCVxc44XFW1E1BHo=",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_MANIFEST": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"{PG_URL}/{DB_NAME}",
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LINE_BACKEND": "simulator",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    sys.path.insert(0, str(ROOT))


def prepare_database() -> None:
    ensure_database(DB_NAME)
    migrate(os.environ)


def make_file(rows: int) -> bytes:
    menus = ["乳幼児歯科健診", "集団健診", "予防接種"]
    venues = ["保健センター", "公民館", "町民会館", "東出張所"]
    times = [
        (dt.time(9 + m // 60, m % 60), dt.time(9 + (m + 15) // 60, (m + 15) % 60))
        for m in range(0, 8 * 60, 15)
    ]
    lines = ["サービス,会場,日付,開始,終了,定員"]
    day = dt.date(2027, 1, 4)
    n = 0
    while n < rows:
        for menu in menus:
            for venue in venues:
                for start, end in times:
                    if n >= rows:
                        break
                    form = n % 5
                    if form == 0:
                        d = f"{day:%Y/%m/%d}"
                    elif form == 1:
                        d = f"{day:%Y-%m-%d}"
                    elif form == 2:
                        d = f"令和{day.year - 2018}年{day.month}月{day.day}日"
                    elif form == 3:
                        d = f"R{day.year - 2018}.{day.month}.{day.day}"
                    else:
                        d = f"{day:%Y/%m/%d}".translate(
                            str.maketrans("0123456789/", "０１２３４５６７８９／")
                        )
                    s = f"{start.hour}時{start.minute}分" if n % 3 == 0 else f"{start:%H:%M}"
                    lines.append(f"{menu},{venue},{d},{s},{end:%H:%M},{5 + n % 10}")
                    n += 1
        day += dt.timedelta(days=1)
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    configure_env()
    prepare_database()
    import django

    django.setup()
    from municipalities.models import Department, Municipality
    from reservations.models import Menu, Reservation, Slot
    from reservations.services import slots_import

    town, _ = Municipality.objects.get_or_create(slug="benchimport", defaults={"name": "取込ベンチ町"})
    department, _ = Department.objects.get_or_create(
        municipality=town, code="kenko", defaults={"name": "健康福祉課"}
    )
    Reservation.objects.filter(menu__department=department).delete()
    Slot.objects.filter(menu__department=department).delete()
    for name in ("乳幼児歯科健診", "集団健診", "予防接種"):
        Menu.objects.get_or_create(department=department, name=name, defaults={"venues": ""})
    data = make_file(args.rows)
    print(f"file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB, Shift_JIS, mixed date/time forms")

    started = time.perf_counter()
    dry = slots_import(department=department, data=data, file_name="bench.csv", dry_run=True)
    t_dry = time.perf_counter() - started
    started = time.perf_counter()
    real = slots_import(department=department, data=data, file_name="bench.csv")
    t_commit = time.perf_counter() - started
    started = time.perf_counter()
    again = slots_import(department=department, data=data, file_name="bench.csv", dry_run=True)
    t_again = time.perf_counter() - started
    stored = Slot.objects.filter(menu__department=department).count()
    print(f"dry run : {t_dry:6.2f} s  would create {dry.created:,}, errors {len(dry.errors)}")
    print(f"commit  : {t_commit:6.2f} s  created {real.created:,}, errors {len(real.errors)}")
    print(f"total   : {t_dry + t_commit:6.2f} s  (goal ≤ 20 s for dry run + commit)")
    print(
        f"re-check: {t_again:6.2f} s  same file again would create {again.created}, unchanged {again.unchanged:,}"
    )
    print(f"slots in the database: {stored:,} (must equal {args.rows:,})")
    if stored != args.rows or again.created != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
