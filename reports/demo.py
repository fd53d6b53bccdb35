"""Demo history for the reports: six months of daily figures for the demo town, in a few seconds.

The other apps' demos create today's records (menus, bookings, forms, FAQ, residents), not six
months of them. Rolling up raw history that does not exist would leave the dashboard empty, and
creating it through every app's services would take minutes. So this demo:

1. asks every registered provider for the town's figures over the last 60 days, to learn the
   town's real breakdowns (its menus and venues, forms, notice categories, areas, age bands,
   unanswered questions) and their weights;
2. writes, through the DailyMetric model, a plausible day-by-day history for the 183 days up to
   yesterday over those breakdowns: friends growing, LINE bookings growing while phone bookings
   fall, weekly broadcasts, weekday applications and questions (a fixed random seed, so every
   demo looks the same);
3. rolls today's real records up for today, so what staff do in the demo shows at once.

Idempotent: a town that already has figures older than a week is left as it is. The nightly
rollup later replaces each day with what the raw records say.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from municipalities.metrics import day_bounds, providers
from municipalities.models import AgeBand, Area, Department, Interest, Municipality
from reports.metrics import DELIVERY_LABELS, TILE_LABELS
from reports.models import DailyMetric
from reports.services import daily_metrics_rollup, monthly_metrics_refresh

DAYS = 183
AREAS = 20  # the demo town has every district of its 5374 data; a chart shows the first 20
SEED = 20260401


def seed(municipality: Municipality) -> None:
    today = timezone.localdate()
    if DailyMetric.objects.filter(municipality=municipality, day__lt=today - dt.timedelta(days=7)).exists():
        return
    shapes = _discover(municipality, today)
    _core_shapes(municipality, shapes)
    departments = list(Department.objects.filter(municipality=municipality).order_by("sort_order", "pk"))
    if not departments:
        return
    rng = random.Random(SEED)
    rows: list[DailyMetric] = []
    friends = 1800.0
    for i in range(DAYS):
        day = today - dt.timedelta(days=DAYS - i)
        growth = 0.55 + 0.45 * i / (DAYS - 1)  # adoption: from about half to today's level
        weekday = day.weekday() < 5
        day_rows = _day(municipality, departments, shapes, rng, day, growth, weekday, friends)
        friends += sum(r.value for r in day_rows if r.source == "friends" and r.metric == "net")
        rows += day_rows
    with transaction.atomic():
        DailyMetric.objects.filter(municipality=municipality, day__lt=today).delete()
        DailyMetric.objects.bulk_create(rows, batch_size=2000)
        for month in sorted({r.day.replace(day=1) for r in rows}):
            monthly_metrics_refresh(municipality=municipality, month=month)
    daily_metrics_rollup(municipality=municipality, day=today)


def _discover(municipality: Municipality, today: dt.date) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """{(source, metric): [(department_id, dimension, label, weight), …]} from the real records."""
    start, _end = day_bounds(today - dt.timedelta(days=60))
    _start, end = day_bounds(today + dt.timedelta(days=60))
    shapes: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for provider in providers():
        for row in provider.rollup(municipality, start, end):
            if row.dimension:
                shapes[(provider.key, row.metric)].append(
                    (row.department_id, row.dimension, str(row.label), max(row.value, 1))
                )
    return shapes


def _core_shapes(municipality: Municipality, shapes: dict[tuple[str, str], list[tuple[Any, ...]]]) -> None:
    """The demo's residents are simulated (not counted as friends): shape the friends'
    distributions on the town's own areas, the age bands and the notice categories instead."""
    if not shapes.get(("friends", "by_area")):
        shapes[("friends", "by_area")] = [
            (None, str(a.pk), a.name, 10 + 7 * (n % 4))
            for n, a in enumerate(Area.objects.filter(municipality=municipality)[:AREAS])
        ]
    if not shapes.get(("friends", "by_age")):
        weights = {"u20": 3, "20s": 9, "30s": 18, "40s": 20, "50s": 16, "60s": 12, "70p": 7}
        shapes[("friends", "by_age")] = [
            (None, band, str(label), weights.get(band, 5)) for band, label in AgeBand.choices
        ]
    if not shapes.get(("friends", "by_interest")):
        shapes[("friends", "by_interest")] = [
            (None, str(i.pk), i.name, 30 - 4 * n)
            for n, i in enumerate(Interest.objects.filter(municipality=municipality))
        ]


def _poisson(rng: random.Random, mean: float) -> int:
    """A whole count around ``mean`` (normal approximation, never negative)."""
    if mean <= 0:
        return 0
    return max(0, round(rng.gauss(mean, mean**0.5)))


def _split(
    rng: random.Random, total: int, shape: list[tuple[Any, ...]], fallback_department: int | None
) -> list[tuple[int | None, str, str, int]]:
    """``total`` spread over the breakdown rows by their weights."""
    if not shape or total <= 0:
        return []
    weights = [w for *_rest, w in shape]
    counts: dict[int, int] = defaultdict(int)
    for _ in range(total):
        counts[rng.choices(range(len(shape)), weights)[0]] += 1
    return [
        (shape[k][0] if shape[k][0] is not None else fallback_department, shape[k][1], shape[k][2], n)
        for k, n in counts.items()
    ]


def _day(
    municipality: Municipality,
    departments: list[Department],
    shapes: dict[tuple[str, str], list[tuple[Any, ...]]],
    rng: random.Random,
    day: dt.date,
    growth: float,
    weekday: bool,
    friends: float,
) -> list[DailyMetric]:
    rows: list[DailyMetric] = []

    def add(
        source: str, metric: str, value: int, department_id: int | None = None, dim: str = "", label: str = ""
    ) -> None:
        rows.append(
            DailyMetric(
                municipality=municipality,
                department_id=department_id,
                day=day,
                source=source,
                metric=metric,
                dimension=dim,
                label=label,
                value=value,
            )
        )

    # Friends: follows after each notice and on weekdays, a few blocks.
    follows = _poisson(rng, 9 * growth * (1.3 if weekday else 0.8))
    unfollows = _poisson(rng, 1.6)
    total = round(friends + follows - unfollows)
    for metric, value in (("follows", follows), ("unfollows", unfollows), ("net", follows - unfollows)):
        add("friends", metric, value)
    add("friends", "friends", total)
    add("friends", "with_settings", round(total * (0.52 + 0.2 * growth)))
    for metric in ("by_area", "by_age", "by_interest"):
        shape = shapes.get(("friends", metric), [])
        weight = sum(w for *_rest, w in shape) or 1
        share = 1.0 if metric != "by_interest" else 0.45
        for _dept, dim, label, w in shape:
            add("friends", metric, round(total * share * w / weight), None, dim, label)

    # Broadcasts: on Tuesdays and Fridays, by the department that owns the category.
    head = departments[0].pk
    if day.weekday() in (1, 4):
        categories = (
            shapes.get(("broadcasts", "category_recipients"))
            or [
                (departments[n % len(departments)].pk, str(interest.pk), interest.name, 1)
                for n, interest in enumerate(
                    Interest.objects.filter(municipality=municipality).order_by("pk")
                )
            ]
            or [(head, "", "分野なし", 1)]
        )
        department_id, dim, label, _w = rng.choice(categories)
        department_id = department_id or head
        recipients = round(total * rng.uniform(0.35, 0.7))
        failed = _poisson(rng, recipients * 0.004)
        delivered = recipients - failed
        blocks = _poisson(rng, delivered * (0.006 if dim else 0.003))
        title = f"{label}のお知らせ（{day.month}月{day.day}日）"
        key = f"demo-{day.isoformat()}"
        add("broadcasts", "broadcasts", 1, department_id)
        for name, value in (
            ("recipients", recipients),
            ("delivered", delivered),
            ("failed", failed),
            ("unfollows", blocks),
        ):
            add("broadcasts", name, value, department_id)
            add("broadcasts", f"broadcast_{name}", value, department_id, key, title)
            add("broadcasts", f"category_{name}", value, department_id, dim, label)

    # LINE's own figures (Insight), as the nightly task would have stored them: everyone who ever
    # added the account, those a message reaches, the blocks, and the messages sent.
    blocked = round(total * 0.08)
    add("line_insight", "line_followers", total + blocked)
    add("line_insight", "line_targeted_reaches", total)
    add("line_insight", "line_blocks", blocked)
    sent = {
        "apiMulticast": recipients if day.weekday() in (1, 4) else 0,
        "apiReply": _poisson(rng, 30 * growth),
    }
    sent["apiPush"] = _poisson(rng, 12 * growth)
    add("line_insight", "line_deliveries", sum(sent.values()))
    for kind, n in sent.items():
        if n:
            add("line_insight", "line_deliveries_by_kind", n, None, kind, str(DELIVERY_LABELS[kind]))
    for key, share in (("from30to34", 0.18), ("from40to44", 0.22), ("from50", 0.25), ("from70", 0.15)):
        add("line_insight", "line_by_age", round(total * share), None, key, str(TILE_LABELS[key]))

    # Reservations: LINE bookings grow, phone bookings (代理予約) fall.
    venues = shapes.get(("reservations", "bookings_by_venue"), [])
    if weekday and venues:
        line = _poisson(rng, 7 * growth)
        proxy = _poisson(rng, 6 * (1.6 - growth))
        by_department: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        menus: dict[tuple[int, str, str], int] = defaultdict(int)
        for department_id, dim, label, n in _split(rng, line + proxy, venues, head):
            add("reservations", "bookings_by_venue", n, department_id, dim, label)
            menu_id = dim.split(":", 1)[0]
            menu_label = label.split("（", 1)[0]
            menus[(department_id, menu_id, menu_label)] += n
        for (department_id, menu_id, menu_label), n in menus.items():
            add("reservations", "bookings_by_menu", n, department_id, menu_id, menu_label)
            by_department[department_id]["booked"] += n
        for department_id, figures in by_department.items():
            booked = figures["booked"]
            share = line / (line + proxy) if line + proxy else 0
            on_line = round(booked * share)
            add("reservations", "booked_line", on_line, department_id)
            add("reservations", "booked_proxy", booked - on_line, department_id)
            add("reservations", "cancellations", _poisson(rng, booked * 0.08), department_id)
            attended = _poisson(rng, booked * 0.85)
            add("reservations", "attended", attended, department_id)
            add("reservations", "no_shows", _poisson(rng, booked * 0.04), department_id)
            capacity = max(booked + 5, round(booked * 1.4))
            add("reservations", "capacity", capacity, department_id)
            add("reservations", "places_taken", min(capacity, booked + _poisson(rng, 2)), department_id)

    # Applications: weekdays; 完了 a few days later; fees by method.
    forms = shapes.get(("applications", "submissions_by_form"), [])
    if weekday and forms:
        per_department: dict[int, int] = defaultdict(int)
        for department_id, dim, label, n in _split(rng, _poisson(rng, 5 * growth), forms, head):
            add("applications", "submissions_by_form", n, department_id, dim, label)
            per_department[department_id] += n
        for department_id, n in per_department.items():
            add("applications", "submitted", n, department_id)
            add("applications", "corrections", _poisson(rng, n * 0.07), department_id)
            done = _poisson(rng, n * 0.9)
            add("applications", "completed", done, department_id)
            hours: dict[int, int] = defaultdict(int)
            for _ in range(done):
                hours[max(1, round(rng.lognormvariate(3.4, 0.7)))] += 1
            for h, count in sorted(hours.items()):
                add("applications", "completion_hours", count, department_id, str(h), f"{h}時間")
            paid = _poisson(rng, n * 0.6)
            online = round(paid * (0.4 + 0.3 * growth))
            for method, label, count in (
                ("sandbox", "オンライン決済", online),
                ("counter", "窓口払い", paid - online),
            ):
                if count:
                    add("applications", "payments_by_method", count, department_id, method, label)
                    add("applications", "fees_by_method", count * 300, department_id, method, label)
        for department_id, dim, label, w in shapes.get(("applications", "in_status"), []):
            add("applications", "in_status", max(1, round(w * growth * 3)), department_id or head, dim, label)

    # Chatbot: questions every day, more on weekdays; answered share improves as FAQ grows.
    questions = _poisson(rng, (38 if weekday else 22) * growth)
    unanswered = _poisson(rng, questions * (0.22 - 0.1 * growth))
    unanswered = min(unanswered, questions)
    suggested = min(_poisson(rng, questions * 0.08), questions - unanswered)
    handoffs = _poisson(rng, 0.8)
    add("chatbot", "questions", questions)
    add("chatbot", "unanswered", unanswered)
    add("chatbot", "suggested", suggested)
    add("chatbot", "answered", questions - unanswered - suggested + round(suggested * 0.6))
    add("chatbot", "handoffs", handoffs)
    if handoffs:
        department = departments[rng.randrange(len(departments))]
        add(
            "chatbot",
            "handoffs_by_department",
            handoffs,
            None,
            f"department:{department.pk}",
            department.name,
        )
    items = ["乾電池", "スプレー缶", "ペットボトル", "蛍光灯", "傘", "フライパン", "段ボール", "布団"]
    asked = _split(
        rng, round((questions - unanswered) * 0.45), [(None, i, i, 8 - n) for n, i in enumerate(items)], None
    )
    for _dept, dim, label, n in asked:
        add("chatbot", "garbage_items", n, None, dim, label)
    for _dept, dim, label, w in shapes.get(("chatbot", "open_unanswered"), []):
        add("chatbot", "open_unanswered", w, None, dim, label)
    return rows
