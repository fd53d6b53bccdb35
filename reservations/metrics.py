"""The reservations' daily figures for the reports (registered in municipalities.metrics).

Bookings count on the day they were made (Asia/Tokyo), split into those residents made on LINE
and those staff made for a caller (代理予約: phone or counter); cancellations on the day they
were cancelled; attendance, 無断キャンセル and capacity on the day of the slot.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from municipalities.metrics import MetricRow, MetricSpec, Provider, Ratio, register_provider
from municipalities.models import Municipality
from reservations.models import Reservation, ReservationStatus, Slot


def reservations_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Bookings (LINE / 代理予約, per menu and venue), cancellations, attendance, capacity used."""
    day = start.date()
    rows: list[MetricRow] = []
    mine = Reservation.objects.filter(menu__department__municipality=municipality)
    made = (
        mine.filter(created_at__gte=start, created_at__lt=end)
        .values("menu_id", "menu__name", "menu__department_id", "slot__venue")
        .annotate(
            line=Count("pk", filter=Q(booked_by__isnull=True)),
            proxy=Count("pk", filter=Q(booked_by__isnull=False)),
        )
        .order_by("menu_id", "slot__venue")
    )
    per_department: dict[int, dict[str, int]] = {}
    per_menu: dict[tuple[int, int, str], int] = {}
    for r in made:
        department_id = r["menu__department_id"]
        figures = per_department.setdefault(department_id, {"booked_line": 0, "booked_proxy": 0})
        figures["booked_line"] += r["line"]
        figures["booked_proxy"] += r["proxy"]
        key = (department_id, r["menu_id"], r["menu__name"])
        per_menu[key] = per_menu.get(key, 0) + r["line"] + r["proxy"]
        rows.append(
            MetricRow(
                "bookings_by_venue",
                r["line"] + r["proxy"],
                department_id,
                f"{r['menu_id']}:{r['slot__venue']}",
                f"{r['menu__name']}（{r['slot__venue']}）",
            )
        )
    for (department_id, menu_id, name), count in per_menu.items():
        rows.append(MetricRow("bookings_by_menu", count, department_id, str(menu_id), name))
    for department_id, figures in per_department.items():
        for name, value in figures.items():
            rows.append(MetricRow(name, value, department_id))
    cancelled = (
        mine.filter(cancelled_at__gte=start, cancelled_at__lt=end, status=ReservationStatus.CANCELLED)
        .values_list("menu__department_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows += [MetricRow("cancellations", n, department_id) for department_id, n in cancelled]
    on_the_day = (
        mine.filter(slot_date=day, status__in=[ReservationStatus.ATTENDED, ReservationStatus.NO_SHOW])
        .values_list("menu__department_id")
        .annotate(
            attended=Count("pk", filter=Q(status=ReservationStatus.ATTENDED)),
            no_show=Count("pk", filter=Q(status=ReservationStatus.NO_SHOW)),
        )
        .order_by()
    )
    for department_id, attended, no_show in on_the_day:
        rows += [
            MetricRow("attended", attended, department_id),
            MetricRow("no_shows", no_show, department_id),
        ]
    slots = (
        Slot.objects.filter(
            menu__department__municipality=municipality, starts_at__gte=start, starts_at__lt=end
        )
        .values_list("menu__department_id")
        .annotate(capacity=Sum("capacity"), reserved=Sum("reserved"))
        .order_by()
    )
    for department_id, capacity, reserved in slots:
        rows += [
            MetricRow("capacity", capacity or 0, department_id),
            MetricRow("places_taken", reserved or 0, department_id),
        ]
    return rows


def register() -> None:
    register_provider(
        Provider(
            key="reservations",
            label=str(_("予約")),
            rollup=reservations_rollup,
            metrics={
                "booked_line": MetricSpec(_("LINE での予約"), series=True),
                "booked_proxy": MetricSpec(_("代理予約（電話・窓口）"), series=True),
                "cancellations": MetricSpec(_("キャンセル")),
                "attended": MetricSpec(_("来場")),
                "no_shows": MetricSpec(_("無断キャンセル")),
                "capacity": MetricSpec(_("定員（枠の合計）"), people=False, unit="人分"),
                "places_taken": MetricSpec(_("予約済みの席"), unit="人分"),
                "bookings_by_menu": MetricSpec(_("メニュー別の予約"), dimension_label=_("予約メニュー")),
                "bookings_by_venue": MetricSpec(_("会場別の予約"), dimension_label=_("メニュー（会場）")),
            },
            ratios=(
                Ratio(
                    _("LINE で予約した割合"), "booked_line", ("booked_line", "booked_proxy"), by_month=True
                ),
                Ratio(_("定員の利用率"), "places_taken", ("capacity",)),
                Ratio(_("無断キャンセル率"), "no_shows", ("attended", "no_shows")),
            ),
            saves={"booked_line": "phone_booking"},
        )
    )
