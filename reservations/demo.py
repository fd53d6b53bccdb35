"""Demo data: two services of 健康福祉課 with slots for the next 30 days, some booked, one nearly full.

Idempotent: menus are found by name, slots by their natural key, bookings made only once.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from municipalities.models import Department, Municipality, Resident, StaffUser

from .models import Menu, Reservation, Slot
from .services import ReservationError, reservation_book, slots_generate

MENUS = [
    {
        "name": "乳幼児歯科健診",
        "description": "1歳6か月〜3歳のお子さんの歯科健診とフッ素塗布です。母子健康手帳をお持ちください。",
        "venues": "保健センター",
        "opens_days_before": 30,
        "closes_hours_before": 24,
        "cancel_deadline_hours": 24,
        "max_active_per_resident": 1,
        "max_per_resident_per_day": 1,
        "questions": "*お子さんの月齢: 1歳6か月/2歳/2歳6か月/3歳\nお子さんのお名前（ふりがな）",
        "reminder_offsets": "1日前 18:00\n2時間前",
        "confirmation_text": "母子健康手帳と歯ブラシをお持ちください。",
        "sort_order": 1,
    },
    {
        "name": "集団健診",
        "description": "特定健診・がん検診をまとめて受けられます。前日 21 時以降は絶食でお越しください。",
        "venues": "みどり町民会館",
        "opens_days_before": 30,
        "closes_hours_before": 48,
        "cancel_deadline_hours": 48,
        "window_in_business_days": False,
        "max_active_per_resident": 1,
        "max_per_resident_per_day": 1,
        "questions": "*受ける健診: 特定健診のみ/特定健診＋がん検診\n保険証の種類",
        "reminder_offsets": "2日前 18:00\n1日前 18:00",
        "confirmation_text": "保険証と受診券をお持ちください。",
        "sort_order": 2,
    },
]


def seed(municipality: Municipality) -> None:
    department = Department.objects.filter(municipality=municipality, code="kenko").first()
    if department is None:
        return
    staff = StaffUser.objects.filter(username="kenko_staff").first()
    menus = {}
    for spec in MENUS:
        menu, _ = Menu.objects.get_or_create(department=department, name=spec["name"], defaults=spec)
        menus[spec["name"]] = menu
    today = timezone.localdate()
    end = today + dt.timedelta(days=30)
    slots_generate(
        menu=menus["乳幼児歯科健診"],
        venue="保健センター",
        date_from=today,
        date_to=end,
        weekdays=[1, 3],
        times=[
            (dt.time(9, 0), dt.time(9, 30)),
            (dt.time(9, 30), dt.time(10, 0)),
            (dt.time(10, 0), dt.time(10, 30)),
            (dt.time(10, 30), dt.time(11, 0)),
            (dt.time(11, 0), dt.time(11, 30)),
        ],
        capacity=4,
    )
    slots_generate(
        menu=menus["集団健診"],
        venue="みどり町民会館",
        date_from=today,
        date_to=end,
        weekdays=[0, 2, 4, 5],
        times=[
            (dt.time(8, 30), dt.time(10, 0)),
            (dt.time(10, 0), dt.time(11, 30)),
            (dt.time(13, 0), dt.time(14, 30)),
        ],
        capacity=20,
    )
    if Reservation.objects.filter(menu__in=menus.values()).exists():
        return
    residents = list(Resident.objects.filter(municipality=municipality, is_following=True).order_by("pk"))
    now = timezone.now()
    dental = list(
        Slot.objects.filter(menu=menus["乳幼児歯科健診"], starts_at__gt=now + dt.timedelta(days=2)).order_by(
            "starts_at"
        )
    )
    checkup = list(
        Slot.objects.filter(menu=menus["集団健診"], starts_at__gt=now + dt.timedelta(days=3)).order_by(
            "starts_at"
        )
    )
    pool = iter(residents)

    def book(slot: Slot, answers: dict[str, str]) -> None:
        resident = next(pool, None)
        if resident is None:
            return
        try:
            reservation_book(slot=slot, resident=resident, answers=answers)
        except ReservationError:
            pass

    if dental:
        nearly_full = dental[0]
        for _ in range(nearly_full.capacity - 1):  # one place left: 「△ 残りわずか」
            book(nearly_full, {"q0": "1歳6か月"})
        for slot in dental[3:12:2]:
            book(slot, {"q0": "3歳"})
    for slot in checkup[:18:3]:
        book(slot, {"q0": "特定健診＋がん検診"})
        book(slot, {"q0": "特定健診のみ"})
    if staff is not None and checkup:
        for name, kana, phone in (
            ("佐々木 トミ", "ささき とみ", "0265-12-3456"),
            ("中村 茂", "なかむら しげる", "090-2222-3333"),
        ):
            try:
                reservation_book(
                    slot=checkup[1],
                    actor=staff,
                    name=name,
                    kana=kana,
                    phone=phone,
                    answers={"q0": "特定健診のみ"},
                )
            except ReservationError:
                pass
