"""The demo town 「みどり町」 (slug ``midori``): departments, staff, interests, areas, residents.

Idempotent: running it again changes nothing that exists. Feature apps add their demo data in
``<app>/demo.py`` with a ``seed(municipality)`` function; ``seed_demo`` calls them in order.
"""

from __future__ import annotations

import random

from django.db import transaction

from municipalities.models import (
    AgeBand,
    Area,
    Department,
    Interest,
    Municipality,
    Resident,
    Role,
    StaffRole,
    StaffUser,
)
from municipalities.services import (
    municipality_create_or_update,
    resident_follow,
    resident_simulated_create,
    resident_update_preferences,
    staff_role_grant,
)

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - demo logins, printed by `make demo`
DEMO_SLUG = "midori"
DEMO_CHANNEL_SECRET = "demo-channel-secret-midori"  # noqa: S105
DEMO_ACCESS_TOKEN = "demo-channel-access-token-midori"  # noqa: S105

DEPARTMENTS = [("somu", "総務課"), ("kenko", "健康福祉課")]
INTERESTS = [
    ("kosodate", "子育て", "健診・予防接種・子育て支援のお知らせ"),
    ("kenko", "健康", "がん検診・特定健診・健康づくり"),
    ("bosai", "防災", "避難情報・防災訓練・気象情報"),
    ("gomi", "ごみ", "収集日の変更・分別のお知らせ"),
    ("kanko", "観光・イベント", "お祭り・催し・観光情報"),
]
AREAS = [
    ("本町", "ほんちょう"),
    ("東区", "ひがしく"),
    ("西区", "にしく"),
    ("南山", "みなみやま"),
    ("北川", "きたがわ"),
]
STAFF = [
    # username, last name, first name, role, department code
    ("joho", "情報", "太郎", Role.MUNICIPALITY_ADMIN, None),
    ("kenko_head", "健康", "花子", Role.HEAD, "kenko"),
    ("kenko_staff", "保健", "次郎", Role.EDITOR, "kenko"),
    ("somu_staff", "総務", "三郎", Role.EDITOR, "somu"),
]
LOGINS = [
    ("admin", "システム運用者（スーパーユーザー）"),
    ("joho", "自治体管理者（みどり町 全課）"),
    ("kenko_head", "所属長（健康福祉課）"),
    ("kenko_staff", "編集者（健康福祉課）"),
    ("somu_staff", "編集者（総務課）"),
]
FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
GIVEN = ["さくら", "ひろし", "ゆうこ", "けんじ", "みどり", "たろう"]


def seed_core() -> Municipality:
    municipality = Municipality.objects.filter(slug=DEMO_SLUG).first()
    if municipality is None:
        municipality, _ = municipality_create_or_update(
            slug=DEMO_SLUG,
            name="みどり町",
            prefecture="長野県",
            channel_id="2000000000",
            channel_secret=DEMO_CHANNEL_SECRET,
            channel_access_token=DEMO_ACCESS_TOKEN,
        )
    with transaction.atomic():
        for i, (code, name) in enumerate(DEPARTMENTS):
            Department.objects.get_or_create(
                municipality=municipality, code=code, defaults={"name": name, "sort_order": i}
            )
        for i, (code, name, description) in enumerate(INTERESTS):
            Interest.objects.get_or_create(
                municipality=municipality,
                code=code,
                defaults={"name": name, "description": description, "sort_order": i},
            )
        for i, (name, kana) in enumerate(AREAS):
            Area.objects.get_or_create(
                municipality=municipality, name=name, defaults={"kana": kana, "sort_order": i}
            )
        if not StaffUser.objects.filter(username="admin").exists():
            StaffUser.objects.create_superuser("admin", "admin@example.jp", DEMO_PASSWORD, last_name="運用")
        for username, last, first, _role, _dept in STAFF:
            if not StaffUser.objects.filter(username=username).exists():
                StaffUser.objects.create_user(
                    username,
                    f"{username}@example.jp",
                    DEMO_PASSWORD,
                    last_name=last,
                    first_name=first,
                    municipality=municipality,
                    is_staff=True,
                )
    for username, _last, _first, role, dept_code in STAFF:
        user = StaffUser.objects.get(username=username)
        department = Department.objects.get(municipality=municipality, code=dept_code) if dept_code else None
        if not StaffRole.objects.filter(user=user, department=department, role=role).exists():
            staff_role_grant(user=user, role=role, department=department, actor=None)
    _seed_residents(municipality)
    return municipality


def _seed_residents(municipality: Municipality) -> None:
    """30 residents who follow the account. They are simulated residents (nobody real), so the
    simulator can act as them; each is known by its name (unique among the 30)."""
    rng = random.Random(2026)  # noqa: S311 - demo data
    areas = list(Area.objects.filter(municipality=municipality))
    interests = list(Interest.objects.filter(municipality=municipality))
    for n in range(30):
        display_name = f"{FAMILY[n % len(FAMILY)]} {GIVEN[n % len(GIVEN)]}"
        if Resident.objects.filter(
            municipality=municipality, display_name=display_name, is_simulated=True
        ).exists():
            continue
        simulated = resident_simulated_create(
            municipality=municipality, display_name=display_name, actor=None
        )
        resident, _ = resident_follow(municipality=municipality, line_user_id=simulated.line_user_id)
        resident_update_preferences(
            resident=resident,
            area=areas[n % len(areas)],
            age_band=AgeBand.values[n % len(AgeBand.values)],
            interests=rng.sample(interests, k=1 + n % len(interests)),
        )
