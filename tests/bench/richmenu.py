"""Benchmark: 災害モード for a city whose residents are all linked to segment menus.

    python tests/bench/richmenu.py [--residents 2000000] [--segments 4] [--batch-seconds-per-million 1.0]

Own PostgreSQL database ``cms_bench_richmenu`` (re-seeded each run), the ``api`` backend against
the fake LINE server in this process (tests/fakeline.py, rich menus in fakeline_richmenus.py).
``--residents`` residents are spread over ``--segments`` segment menus by 地区 and linked to them
(in the database and at the fake LINE, as the link job leaves them). The town's 災害モード is
switched on and back off through the services the admin and the command use, and the run prints:

- the LINE API calls each switch made, and the time it took;
- the floor LINE's rate limits allow: the default swap and one batch control (3 an hour allowed)
  per switch, plus the batch's own time at LINE (the fake's ``--batch-seconds-per-million``), and
  for comparison the bulk-link fallback (4,000 requests of 500 ids at 2,000/s for 2 million);
- the ratio of the measured time to the floor (goal ≤ 1.2), and whether any resident ended on a
  wrong menu (goal: none), checked for every resident at the fake LINE.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support  # noqa: E402 - this folder is on sys.path when run as a script

DATABASE = "cms_bench_richmenu"
BULK_RATE = 2000  # LINE: "other endpoints" 2,000 requests/s per channel
BULK_IDS = 500


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2_000_000)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument(
        "--batch-seconds-per-million",
        type=float,
        default=1.0,
        help="how long the fake LINE takes to move a million links in a batch control",
    )
    args = parser.parse_args()

    _support.ensure_database(DATABASE)
    database_url = f"{_support.PG_URL.rstrip('/')}/{DATABASE}"
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "true",
            "LINE_BACKEND": "api",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "REDIS_URL": "",
            "LINE_RATE_LIMITS": "richmenu_create=1000;richmenu_batch=1000",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    from tests.fakeline import FakeLine

    fake = FakeLine(validate=False, record=False)
    fake.richmenus.batch_seconds_per_million = args.batch_seconds_per_million
    fake.start()
    os.environ["LINE_API_BASE_URL"] = fake.base_url
    _support.migrate(os.environ)

    import django

    django.setup()
    from django.db import connection

    from municipalities.services import municipality_create_or_update
    from richmenus.models import RichMenu, RichMenuTile
    from richmenus.services import (
        disaster_menu_prepare,
        disaster_mode_apply,
        disaster_mode_switch,
        richmenu_line_sync,
    )

    # --- seed: a town, its menus, residents linked by area (SQL: two million rows in seconds) ---
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE richmenus_residentrichmenu, richmenus_richmenutap, richmenus_richmenutile, "
            "richmenus_disastermode, richmenus_richmenu_target_areas, richmenus_richmenu_target_interests, "
            "richmenus_richmenu, municipalities_resident_interests, municipalities_resident CASCADE"
        )
    town, _ = municipality_create_or_update(
        slug="bench", name="ベンチ市", channel_secret="s", channel_access_token="t", channel_id="1"
    )
    tiles = [
        ("予約", "reserve"),
        ("申請", "apply"),
        ("ごみ", "garbage"),
        ("設定", "settings"),
        ("お知らせ", "news"),
    ]

    def menu(name: str, kind: str = "normal", *, is_default: bool = False) -> RichMenu:
        created = RichMenu.objects.create(
            municipality=town, name=name, kind=kind, is_default=is_default, layout="large6"
        )
        for position, (label, icon) in enumerate([*tiles, (name[:6], "home")], 1):
            RichMenuTile.objects.create(menu=created, position=position, label=label, icon=icon, text=label)
        return created

    default = menu("既定", is_default=True)
    segments = [menu(f"地区{n + 1}") for n in range(args.segments)]
    menu("災害時", "disaster")
    for created in [default, *segments]:
        richmenu_line_sync(menu_id=created.pk)
    segments = [RichMenu.objects.get(pk=s.pk) for s in segments]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO municipalities_resident (created_at, updated_at, municipality_id, line_user_id, "
            "display_name, picture_url, is_following, age_band, notices_paused, is_simulated) "
            "SELECT now(), now(), %s, 'U' || lpad(to_hex(n), 32, '0'), '', '', true, '', false, false "
            "FROM generate_series(1, %s) AS n",
            [town.pk, args.residents],
        )
        cases = " ".join(f"WHEN {i} THEN {s.pk}" for i, s in enumerate(segments))
        cursor.execute(
            "INSERT INTO richmenus_residentrichmenu (resident_id, menu_id, linked_at) "
            f"SELECT id, CASE (id %% {len(segments)}) {cases} END, now() FROM municipalities_resident "
            "WHERE municipality_id = %s",
            [town.pk],
        )
        cursor.execute(
            "SELECT r.line_user_id, l.menu_id FROM municipalities_resident r "
            "JOIN richmenus_residentrichmenu l ON l.resident_id = r.id WHERE r.municipality_id = %s",
            [town.pk],
        )
        line_ids = {s.pk: s.line_rich_menu_id for s in segments}
        segment_of = {}
        links = fake.richmenus.state.links
        for user_id, menu_id in cursor.fetchall():
            links[user_id] = line_ids[menu_id]
            segment_of[user_id] = menu_id
    _support.vacuum(database_url, "municipalities_resident", "richmenus_residentrichmenu")
    sys.stdout.write(
        f"seeded {args.residents:,} residents on {len(segments)} segment menus in {time.monotonic() - started:.1f}s\n"
    )

    def switch(on: bool) -> tuple[float, dict[str, int]]:
        before = dict(fake.state.request_counts)
        started = time.monotonic()
        mode = disaster_mode_switch(municipality=town, on=on, actor=None, enqueue=False)
        disaster_mode_apply(mode_id=mode.pk)
        elapsed = time.monotonic() - started
        calls = {
            k: v - before.get(k, 0) for k, v in fake.state.request_counts.items() if v - before.get(k, 0)
        }
        batch_times.append(fake.richmenus.state.batch_seconds)
        return elapsed, calls

    def wrong(expected_of) -> int:
        state = fake.richmenus.state
        return sum(
            1 for user_id, menu_id in segment_of.items() if state.links.get(user_id) != expected_of(menu_id)
        )

    # The town prepares its disaster menu in advance (publishing it creates the copies, once).
    before = dict(fake.state.request_counts)
    started = time.monotonic()
    disaster_menu_prepare(municipality=town)
    prepare_time = time.monotonic() - started
    prepare_calls = {
        k: v - before.get(k, 0) for k, v in fake.state.request_counts.items() if v - before.get(k, 0)
    }
    batch_times: list[float] = []
    on_time, on_calls = switch(True)
    from richmenus.models import DisasterMode

    copies = {int(k): v["id"] for k, v in DisasterMode.objects.get(municipality=town).line_copies.items()}
    wrong_on = wrong(lambda menu_id: copies[menu_id])
    off_time, off_calls = switch(False)
    wrong_off = wrong(lambda menu_id: line_ids[menu_id])
    disaster_line_id = RichMenu.objects.get(municipality=town, kind="disaster").line_rich_menu_id
    default_line_id = RichMenu.objects.get(pk=default.pk).line_rich_menu_id

    # The floor: what LINE's limits let any implementation do. Per switch, one default call and
    # one batch control (3 an hour allowed), and LINE's own time to move the links: the fake's
    # configured time, or what its batch really took when its own work took longer (a loaded
    # machine), since no implementation can finish before LINE does.
    moved_millions = args.residents / 1_000_000
    floor_seconds = args.batch_seconds_per_million * moved_millions
    on_floor, off_floor = (max(floor_seconds, seconds) for seconds in batch_times)
    bulk_fallback = args.residents / BULK_IDS / BULK_RATE
    creates = prepare_calls.get("richmenu_create", 0)
    sys.stdout.write(
        "\n".join(
            [
                f"prepare (in advance, once): {prepare_time:.2f}s, API calls "
                f"{sum(prepare_calls.values())} {prepare_calls}",
                f"switch on:  {on_time:.2f}s, API calls {sum(on_calls.values())} {on_calls}",
                f"switch off: {off_time:.2f}s, API calls {sum(off_calls.values())} {off_calls}",
                f"  (the disaster menu and {creates - 1} copies created once; LINE allows 100 creates an hour)",
                f"floor per switch: 1 default + 1 batch control (+ progress polls), LINE's batch time "
                f"{floor_seconds:.2f}s; bulk-link fallback would need {args.residents // BULK_IDS:,} requests "
                f"≥ {bulk_fallback:.2f}s at 2,000/s",
                f"LINE's batch took: on {on_floor:.2f}s, off {off_floor:.2f}s",
                f"ratio to the floor: on {on_time / on_floor:.2f}×, off {off_time / off_floor:.2f}× (goal ≤ 1.2)",
                f"residents on a wrong menu: on {wrong_on}, off {wrong_off}; default at LINE now "
                f"{'the normal one' if fake.richmenus.state.default == default_line_id else 'WRONG'} "
                f"(disaster was {disaster_line_id})",
                "",
            ]
        )
    )
    fake.stop()
    return 0 if wrong_on == wrong_off == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
