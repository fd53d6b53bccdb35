"""Demo data: two services of 健康福祉課 with slots for the next 30 days, some booked, one nearly full.

乳幼児歯科健診 is for children of 1歳6か月 up to 4歳 (age on the slot's day): some simulated
residents have a child registered in 家族の登録 and it is booked for the child; one slot is full
with someone on its waitlist. Idempotent: menus are found by name, slots by their natural key,
members by resident and name, bookings made only once.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from municipalities.models import Department, HouseholdMember, Municipality, Resident, StaffUser
from municipalities.services import household_member_save

from .models import Menu, Reservation, Slot
from .services import ReservationError, reservation_book, slots_generate, waitlist_join

CHILDREN = [  # (name, kana, months old today)
    ("みどり はると", "ミドリ ハルト", 20),
    ("みどり さくら", "ミドリ サクラ", 26),
    ("みどり ゆい", "ミドリ ユイ", 31),
    ("みどり そら", "ミドリ ソラ", 40),
    ("みどり れん", "ミドリ レン", 22),
    ("みどり ひなた", "ミドリ ヒナタ", 12),  # too young yet: shown with the reason
]


def _months_ago(months: int) -> str:
    today = timezone.localdate()
    y, m = divmod(today.year * 12 + today.month - 1 - months, 12)
    return f"{y}/{m + 1}/{min(today.day, 28)}"


def _child_of(resident: Resident, n: int) -> HouseholdMember:
    existing = HouseholdMember.objects.filter(resident=resident, relationship="child", is_active=True).first()
    if existing is not None:
        return existing
    name, kana, months = CHILDREN[n % len(CHILDREN)]
    return household_member_save(
        resident=resident, name=name, kana=kana, birth_date=_months_ago(months), relationship="child"
    )


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
        "eligible_age_from_months": 18,
        "eligible_age_until_months": 48,
        "questions": "歯のことで気になること\n*当日の付き添い: 保護者/祖父母/その他",
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

    def book(slot: Slot, answers: dict[str, str], *, child: bool = False) -> Resident | None:
        resident = next(pool, None)
        if resident is None:
            return None
        try:
            member = _child_of(resident, resident.pk % 5) if child else None
            reservation_book(slot=slot, resident=resident, member=member, answers=answers)
        except ReservationError:
            pass
        return resident

    # The first simulated residents each have a child registered (家族の登録), of various ages.
    for n, resident in enumerate(residents[:6]):
        _child_of(resident, n)
    if dental:
        nearly_full = dental[0]
        for _ in range(nearly_full.capacity - 1):  # one place left: 「△ 残りわずか」
            book(nearly_full, {"q1": "保護者"}, child=True)
        for slot in dental[3:12:2]:
            book(slot, {"q1": "祖父母"}, child=True)
        full = dental[1]  # full, with one child on its waitlist (キャンセル待ち)
        for _ in range(full.capacity):
            book(full, {"q1": "保護者"}, child=True)
        waiting = next(pool, None)
        if waiting is not None:
            try:
                waitlist_join(
                    slot=full, resident=waiting, member=_child_of(waiting, 1), answers={"q1": "保護者"}
                )
            except ReservationError:
                pass
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
