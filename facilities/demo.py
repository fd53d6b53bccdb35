"""Demo data: 町民体育館 (アリーナA/B, 会議室, トレーニング室) and 中央公民館 (approval needed), owned by
総務課, with fees, 減免, extras, a regular group's Tuesday evenings, some resident bookings
(paid and unpaid) and one application waiting for approval.

Idempotent: facilities are found by name, rooms and frames by their natural keys; bookings are
made only the first time.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from municipalities.models import Department, Municipality, Resident, StaffUser

from .errors import FacilityError
from .models import Discount, Extra, Facility, FacilityBooking, Rate, Room, TimeFrame
from .services import (
    GroupDetails,
    booking_create,
    booking_payment_record_counter,
    bookings_bulk_create,
)

BLOCKS = [
    ("午前", dt.time(9), dt.time(12)),
    ("午後", dt.time(13), dt.time(17)),
    ("夜間", dt.time(18), dt.time(21)),
]

FACILITIES = [
    {
        "name": "町民体育館",
        "fields": {
            "kana": "チョウミンタイイクカン",
            "address": "長野県みどり町本町2-1",
            "notes": "室内用の運動靴をお持ちください。駐車場は30台です。",
            "open_weekdays": "123456",  # 月曜休館
            "closed_on_holidays": False,
            "requires_approval": False,
            "monthly_limit_per_group": 8,
            "cancel_free_days_before": 7,
            "cancel_fee_percent": 50,
        },
        # room, exclusive, capacity, (午前, 午後, 夜間) resident fees; non-residents pay double
        "rooms": [
            ("アリーナA", True, 100, (2000, 3000, 4000)),
            ("アリーナB", True, 100, (2000, 3000, 4000)),
            ("会議室", True, 30, (600, 800, 1000)),
            ("トレーニング室", False, 15, (200, 200, 300)),
        ],
        "discounts": [("高齢者団体減免", 50, True), ("障害者団体減免", 100, False)],
        "extras": [("冷暖房", 500), ("夜間照明", 300)],
    },
    {
        "name": "中央公民館",
        "fields": {
            "kana": "チュウオウコウミンカン",
            "address": "長野県みどり町本町1-1",
            "notes": "営利目的の利用はできません。申請後、職員が確認して承認します。",
            "open_weekdays": "0123456",
            "closed_on_holidays": True,
            "requires_approval": True,
            "cancel_free_days_before": 3,
            "cancel_fee_percent": 100,
        },
        "rooms": [("ホール", True, 200, (3000, 4000, 5000)), ("和室", True, 20, (500, 700, 900))],
        "discounts": [("町内の自治会・子ども会", 100, True)],
        "extras": [("冷暖房", 400), ("プロジェクター", 300)],
    },
]


def _facility(department: Department, spec: dict) -> Facility:
    facility, _ = Facility.objects.get_or_create(
        department=department, name=spec["name"], defaults=spec["fields"]
    )
    frames = []
    for name, starts, ends in BLOCKS:
        frame, _ = TimeFrame.objects.get_or_create(
            facility=facility, starts_at=starts, defaults={"name": name, "ends_at": ends}
        )
        frames.append(frame)
    for i, (name, exclusive, capacity, fees) in enumerate(spec["rooms"]):
        room, _ = Room.objects.get_or_create(
            facility=facility,
            name=name,
            defaults={"is_exclusive": exclusive, "capacity": capacity, "sort_order": i},
        )
        for frame, fee in zip(frames, fees, strict=True):
            Rate.objects.get_or_create(
                room=room, frame=frame, defaults={"resident_fee": fee, "non_resident_fee": fee * 2}
            )
    for name, percent, residents in spec["discounts"]:
        Discount.objects.get_or_create(
            facility=facility, name=name, defaults={"percent": percent, "residents_may_choose": residents}
        )
    for name, price in spec["extras"]:
        Extra.objects.get_or_create(facility=facility, name=name, defaults={"price_per_frame": price})
    return facility


def _next(weekday: int, after: int) -> dt.date:
    day = timezone.localdate() + dt.timedelta(days=after)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def seed(municipality: Municipality) -> None:
    department = Department.objects.filter(municipality=municipality, code="somu").first()
    if department is None:
        return
    gym, hall = (_facility(department, spec) for spec in FACILITIES)
    if FacilityBooking.objects.filter(facility__in=[gym, hall]).exists():
        return
    staff = StaffUser.objects.filter(username="somu_staff").first()
    residents = list(Resident.objects.filter(municipality=municipality, is_following=True).order_by("pk")[:6])
    arena_a = gym.rooms.get(name="アリーナA")
    arena_b = gym.rooms.get(name="アリーナB")
    meeting = gym.rooms.get(name="会議室")
    morning, afternoon, evening = gym.frames.order_by("starts_at")
    if staff is not None:
        # A regular group: every Tuesday evening for two months (entered at the counter).
        start = _next(1, 1)
        try:
            bookings_bulk_create(
                room=arena_a,
                frame=evening,
                weekday=1,
                starts_on=start,
                ends_on=start + dt.timedelta(weeks=8),
                group=GroupDetails(
                    group_name="みどりママさんバレー",
                    representative="佐藤 恵子",
                    headcount=14,
                    purpose="バレーボールの練習",
                ),
                extras=list(gym.extras.filter(name="夜間照明")),
                actor=staff,
            )
        except FacilityError:
            pass
        # A phone booking by the 老人クラブ with its 減免, paid at the counter.
        try:
            booking = booking_create(
                room=meeting,
                frame=morning,
                use_date=_next(3, 3),
                group=GroupDetails(
                    group_name="みどり老人クラブ", representative="高橋 茂", headcount=12, purpose="定例会"
                ),
                discount=gym.discounts.get(name="高齢者団体減免"),
                discount_reason="老人クラブ連合会の会員名簿で確認",
                actor=staff,
            )
            booking_payment_record_counter(booking=booking, actor=staff, receipt_number="R8-0001")
        except FacilityError:
            pass
    # Residents' bookings in LINE: a paid-at-the-counter one and an unpaid online one.
    plans = [
        (arena_b, afternoon, _next(5, 4), "みどりバドミントンクラブ", "counter"),
        (arena_a, morning, _next(6, 5), "少年野球みどりファイターズ", "sandbox"),
    ]
    for resident, (room, frame, day, group_name, method) in zip(residents, plans, strict=False):
        try:
            booking_create(
                room=room,
                frame=frame,
                use_date=day,
                resident=resident,
                group=GroupDetails(
                    group_name=group_name,
                    representative=resident.display_name or "代表者",
                    headcount=10,
                    purpose="練習",
                ),
                payment_method=method,
            )
        except FacilityError:
            pass
    # An application at the 公民館 waiting for approval.
    if len(residents) > 2:
        hall_room = hall.rooms.get(name="和室")
        try:
            booking_create(
                room=hall_room,
                frame=hall.frames.order_by("starts_at")[1],
                use_date=_next(2, 10),
                resident=residents[2],
                group=GroupDetails(
                    group_name="本町子ども会",
                    representative="伊藤 さくら",
                    headcount=15,
                    purpose="子ども会の集まり",
                ),
                payment_method="counter",
            )
        except FacilityError:
            pass
