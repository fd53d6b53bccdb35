"""The facilities' daily figures for the reports (registered in municipalities.metrics).

Bookings count on the day they were made (Asia/Tokyo), split into LINE and staff (窓口・電話,
定期利用, 抽選 counted apart); cancellations on the day they were cancelled; frames open and
frames used on the day of use (the utilisation); fee income on the day it was paid.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from facilities.calendar import closure_reason, closures_between, fixed_closed_reason
from facilities.models import BookingOrigin, BookingStatus, Facility, FacilityBooking
from municipalities.metrics import MetricRow, MetricSpec, Provider, Ratio, register_provider
from municipalities.models import Municipality


def facilities_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    day = start.date()
    rows: list[MetricRow] = []
    mine = FacilityBooking.objects.filter(facility__department__municipality=municipality)
    made = (
        mine.filter(created_at__gte=start, created_at__lt=end)
        .values_list("facility__department_id")
        .annotate(
            line=Count("pk", filter=Q(origin=BookingOrigin.LINE)),
            staff=Count("pk", filter=Q(origin__in=[BookingOrigin.STAFF, BookingOrigin.BULK])),
            lottery=Count("pk", filter=Q(origin=BookingOrigin.LOTTERY)),
        )
        .order_by()
    )
    for department_id, line, staff, lottery in made:
        rows += [
            MetricRow("facility_booked_line", line, department_id),
            MetricRow("facility_booked_staff", staff, department_id),
            MetricRow("facility_booked_lottery", lottery, department_id),
        ]
    cancelled = (
        mine.filter(cancelled_at__gte=start, cancelled_at__lt=end, status=BookingStatus.CANCELLED)
        .values_list("facility__department_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows += [MetricRow("facility_cancellations", n, department_id) for department_id, n in cancelled]
    income = (
        mine.filter(paid_at__gte=start, paid_at__lt=end)
        .values_list("facility__department_id")
        .annotate(n=Sum("total_fee"))
        .order_by()
    )
    rows += [MetricRow("facility_fee_income", n or 0, department_id) for department_id, n in income]
    used: dict[int, int] = {}
    for facility_id, _room, _start in (
        mine.filter(use_date=day, status=BookingStatus.CONFIRMED)
        .values_list("facility_id", "room_id", "starts_at")
        .distinct()
    ):
        used[facility_id] = used.get(facility_id, 0) + 1
    facilities = Facility.objects.filter(department__municipality=municipality).prefetch_related(
        "rooms", "frames"
    )
    for facility in facilities:
        if fixed_closed_reason(facility, day):
            continue
        closures = closures_between(facility=facility, start=day, end=day)
        frames = sum(1 for f in facility.frames.all() if f.is_active)
        rooms = sum(
            1 for r in facility.rooms.all() if r.is_active and not closure_reason(closures, room=r, day=day)
        )
        rows.append(MetricRow("facility_frames_open", rooms * frames, facility.department_id))
        rows.append(MetricRow("facility_frames_used", used.get(facility.pk, 0), facility.department_id))
        if used.get(facility.pk):
            rows.append(
                MetricRow(
                    "facility_frames_by_facility",
                    used[facility.pk],
                    facility.department_id,
                    str(facility.pk),
                    facility.name,
                )
            )
    return rows


def register() -> None:
    register_provider(
        Provider(
            key="facilities",
            label=str(_("施設予約")),
            rollup=facilities_rollup,
            metrics={
                "facility_booked_line": MetricSpec(_("LINE での施設予約"), series=True),
                "facility_booked_staff": MetricSpec(_("窓口・電話・定期利用の施設予約"), series=True),
                "facility_booked_lottery": MetricSpec(_("抽選の当選による施設予約")),
                "facility_cancellations": MetricSpec(_("施設予約の取消")),
                "facility_frames_open": MetricSpec(_("貸出できた枠"), people=False, unit="枠"),
                "facility_frames_used": MetricSpec(_("利用された枠"), people=False, unit="枠"),
                "facility_fee_income": MetricSpec(_("使用料の収入"), people=False, unit="円"),
                "facility_frames_by_facility": MetricSpec(
                    _("施設別の利用枠"), people=False, unit="枠", dimension_label=_("施設")
                ),
            },
            ratios=(
                Ratio(_("施設の利用率"), "facility_frames_used", ("facility_frames_open",), by_month=True),
                Ratio(
                    _("LINE で予約した割合（施設）"),
                    "facility_booked_line",
                    ("facility_booked_line", "facility_booked_staff"),
                ),
            ),
        )
    )
