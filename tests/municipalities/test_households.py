import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from municipalities.errors import MunicipalityError
from municipalities.models import AuditEntry, HouseholdMember, Relationship
from municipalities.models.households import age_on, format_age
from municipalities.services import (
    HouseholdMemberError,
    household_member_remove,
    household_member_save,
    household_members_for_resident,
)


def test_age_on_counts_completed_months():
    born = dt.date(2024, 5, 10)
    assert age_on(born, dt.date(2025, 11, 10)) == (1, 6)
    assert age_on(born, dt.date(2025, 11, 9)) == (1, 5)
    assert age_on(born, dt.date(2024, 5, 1)) == (0, 0)
    assert format_age(1, 6) == "1歳6か月" and format_age(65, 0) == "65歳"


def test_member_is_registered_with_wareki_and_kana_normalised(resident):
    # when
    member = household_member_save(
        resident=resident,
        name="山田　はると",
        kana="やまだ ﾊﾙﾄ",
        birth_date="令和６年５月１０日",
        relationship=Relationship.CHILD,
    )
    # then
    member.refresh_from_db()
    assert member.name == "山田 はると"
    assert member.kana == "ヤマダ ハルト"
    assert member.birth_date == dt.date(2024, 5, 10)
    assert member.municipality_id == resident.municipality_id
    entry = AuditEntry.objects.get(action="municipalities.householdmember.created")
    assert entry.actor_resident_id == resident.pk and entry.actor_id is None


def test_western_date_and_correction_are_audited_with_the_difference(resident):
    member = household_member_save(
        resident=resident, name="山田 太郎", kana="ヤマダタロウ", birth_date="1958/4/1", relationship="parent"
    )
    # when
    household_member_save(
        resident=resident,
        member=member,
        name="山田 太郎",
        kana="ヤマダタロウ",
        birth_date="昭和33年4月2日",
        relationship="parent",
    )
    # then
    member.refresh_from_db()
    assert member.birth_date == dt.date(1958, 4, 2)
    entry = AuditEntry.objects.get(action="municipalities.householdmember.changed")
    assert entry.data == {"birth_date": ["1958-04-01", "1958-04-02"]}


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("name", {"name": "　"}),
        ("kana", {"kana": "1歳6か月"}),
        ("birth_date", {"birth_date": "平成35年1月1日"}),
        ("birth_date", {"birth_date": "2999/1/1"}),
        ("birth_date", {"birth_date": ""}),
        ("relationship", {"relationship": "pet"}),
    ],
)
def test_bad_input_is_refused_field_by_field_in_japanese(resident, field, kwargs):
    values = {
        "name": "山田 はると",
        "kana": "ヤマダハルト",
        "birth_date": "2024/5/10",
        "relationship": "child",
    }
    values.update(kwargs)
    with pytest.raises(HouseholdMemberError) as exc:
        household_member_save(resident=resident, **values)
    assert field in exc.value.fields
    assert not HouseholdMember.objects.exists()


def test_staff_cannot_write_members(resident, town_admin):
    with pytest.raises(MunicipalityError) as exc:
        household_member_save(
            resident=resident,
            name="a",
            kana="ア",
            birth_date="2024/1/1",
            relationship="child",
            actor=town_admin,
        )
    assert exc.value.code == "denied"


def test_another_residents_member_is_not_found(resident, other_resident):
    member = household_member_save(
        resident=other_resident,
        name="佐藤 花",
        kana="サトウハナ",
        birth_date="2020/1/1",
        relationship="child",
    )
    with pytest.raises(MunicipalityError) as exc:
        household_member_remove(resident=resident, member=member)
    assert exc.value.code == "not_found"
    with pytest.raises(MunicipalityError):
        household_member_save(
            resident=resident,
            member=member,
            name="x",
            kana="エックス",
            birth_date="2020/1/1",
            relationship="child",
        )


def test_limit_of_members(resident, monkeypatch):
    monkeypatch.setattr("municipalities.services.households.MAX_MEMBERS_PER_RESIDENT", 2)
    for n in range(2):
        household_member_save(
            resident=resident, name=f"子{n}", kana="コ", birth_date="2020/1/1", relationship="child"
        )
    with pytest.raises(MunicipalityError) as exc:
        household_member_save(
            resident=resident, name="子3", kana="コ", birth_date="2020/1/1", relationship="child"
        )
    assert exc.value.code == "limit"


def test_removed_member_leaves_the_list_but_keeps_the_row(resident):
    member = household_member_save(
        resident=resident,
        name="山田 はると",
        kana="ヤマダハルト",
        birth_date="2024/5/10",
        relationship="child",
    )
    household_member_remove(resident=resident, member=member)
    assert not household_members_for_resident(resident=resident).exists()
    assert HouseholdMember.objects.filter(pk=member.pk, is_active=False).exists()
    assert AuditEntry.objects.filter(action="municipalities.householdmember.removed").exists()


def test_relationship_constraint(resident):
    with pytest.raises(IntegrityError), transaction.atomic():
        HouseholdMember.objects.create(
            municipality=resident.municipality,
            resident=resident,
            name="x",
            kana="エックス",
            birth_date=dt.date(2020, 1, 1),
            relationship="pet",
        )


def test_name_constraint(resident):
    with pytest.raises(IntegrityError), transaction.atomic():
        HouseholdMember.objects.create(
            municipality=resident.municipality,
            resident=resident,
            name="",
            kana="エックス",
            birth_date=dt.date(2020, 1, 1),
            relationship="child",
        )


def test_the_residents_own_entry_exists_once(resident):
    household_member_save(
        resident=resident, name="山田 花子", kana="ヤマダハナコ", birth_date="1955/1/1", relationship="self"
    )
    with pytest.raises(HouseholdMemberError) as exc:
        household_member_save(
            resident=resident,
            name="山田 花子",
            kana="ヤマダハナコ",
            birth_date="1955/1/1",
            relationship="self",
        )
    assert "relationship" in exc.value.fields
