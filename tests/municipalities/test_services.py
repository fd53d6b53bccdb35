"""Services of the core app: happy path, each error, and the audit row."""

from __future__ import annotations

import pytest

from municipalities.errors import MunicipalityError
from municipalities.models import (
    AgeBand,
    AuditEntry,
    Department,
    Municipality,
    Resident,
    Role,
    StaffRole,
    StaffUser,
)
from municipalities.services import (
    department_create,
    municipality_create_or_update,
    municipality_update,
    resident_follow,
    resident_unfollow,
    resident_update_preferences,
    staff_role_grant,
    staff_role_revoke,
    staff_user_assign_municipality,
    staff_user_unlock,
)
from tests.conftest import make_staff
from tests.municipalities.factories import AreaFactory, InterestFactory


def entries(action: str, obj) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, object_id=str(obj.pk)))


# --- municipality_create_or_update -----------------------------------------------------------


def test_municipality_create_then_update_is_audited_with_masked_secrets(db):
    # when
    town, created = municipality_create_or_update(
        slug="sakura", name="さくら村", channel_secret="sec-1", channel_access_token="tok-1", channel_id="1"
    )
    again, created_again = municipality_create_or_update(
        slug="sakura",
        name="さくら町",
        channel_secret="sec-2",
        channel_access_token="tok-1",
        channel_id=None,
        settings_data={"require_two_factor": True},
    )
    # then
    assert created and not created_again and again.pk == town.pk
    again.refresh_from_db()
    assert (again.name, again.channel_secret, again.line_channel_id, again.require_two_factor) == (
        "さくら町",
        "sec-2",
        "1",
        True,
    )
    (created_entry,) = entries("municipalities.municipality.created", town)
    (updated_entry,) = entries("municipalities.municipality.updated", town)
    assert created_entry.data["channel_secret"] == "********"
    assert updated_entry.data["name"] == ["さくら村", "さくら町"]
    assert updated_entry.data["require_two_factor"] == [False, True]
    assert "channel_access_token" not in updated_entry.data  # unchanged
    assert "sec-2" not in str(updated_entry.data)


def test_municipality_create_rejects_an_invalid_slug(db):
    with pytest.raises(MunicipalityError):
        municipality_create_or_update(
            slug="さくら", name="さくら村", channel_secret="s", channel_access_token="t"
        )
    assert not Municipality.objects.exists()


def test_municipality_create_refuses_unknown_settings(db):
    with pytest.raises(MunicipalityError, match="変更できない項目"):
        municipality_create_or_update(
            slug="sakura",
            name="さくら村",
            channel_secret="s",
            channel_access_token="t",
            settings_data={"slug": "x"},
        )


def test_only_a_superuser_creates_a_municipality(town_admin, superuser):
    with pytest.raises(MunicipalityError, match="システム運用者だけ"):
        municipality_create_or_update(
            slug="sakura", name="さくら村", channel_secret="s", channel_access_token="t", actor=town_admin
        )
    town, created = municipality_create_or_update(
        slug="sakura", name="さくら村", channel_secret="s", channel_access_token="t", actor=superuser
    )
    assert created
    assert entries("municipalities.municipality.created", town)[0].actor == superuser


def test_town_admin_cannot_update_another_town_through_create_or_update(town_admin, other_town):
    with pytest.raises(MunicipalityError, match="権限がありません"):
        municipality_create_or_update(
            slug="aoba", name="乗っ取り市", channel_secret="s", channel_access_token="t", actor=town_admin
        )
    other_town.refresh_from_db()
    assert other_town.name == "あおば市"


# --- municipality_update ---------------------------------------------------------------------


def test_municipality_update_by_town_admin_is_audited(town, town_admin):
    municipality_update(
        municipality=town, actor=town_admin, data={"liff_id": "2000-abc", "channel_access_token": "new"}
    )
    town.refresh_from_db()
    assert town.liff_id == "2000-abc" and town.channel_access_token == "new"
    (entry,) = entries("municipalities.municipality.updated", town)
    assert entry.actor == town_admin
    assert entry.data == {"liff_id": ["", "2000-abc"], "channel_access_token": "********"}


def test_municipality_update_without_changes_writes_nothing(town, town_admin):
    municipality_update(municipality=town, actor=town_admin, data={"name": town.name})
    assert entries("municipalities.municipality.updated", town) == []


@pytest.mark.parametrize("who", ["kenko_head", "kenko_editor"])
def test_municipality_update_is_refused_below_town_admin(request, town, who):
    user = request.getfixturevalue(who)
    with pytest.raises(MunicipalityError, match="権限がありません"):
        municipality_update(municipality=town, actor=user, data={"name": "別の町"})
    town.refresh_from_db()
    assert town.name == "みどり町"


def test_municipality_update_refuses_the_slug_and_invalid_values(town, town_admin):
    with pytest.raises(MunicipalityError, match="変更できない項目"):
        municipality_update(municipality=town, actor=town_admin, data={"slug": "hijack"})
    with pytest.raises(MunicipalityError):
        municipality_update(municipality=town, actor=town_admin, data={"name": ""})
    town.refresh_from_db()
    assert (town.slug, town.name) == ("midori", "みどり町")


# --- department_create -----------------------------------------------------------------------


def test_department_create_by_town_admin_is_audited(town, town_admin):
    department = department_create(municipality=town, code="zaimu", name="財務課", actor=town_admin)
    assert Department.objects.get(pk=department.pk).name == "財務課"
    (entry,) = entries("municipalities.department.created", department)
    assert entry.actor == town_admin and entry.department_id == department.pk


def test_department_create_refuses_a_taken_code(town, kenko, town_admin):
    with pytest.raises(MunicipalityError, match="すでに使われています"):
        department_create(municipality=town, code="kenko", name="二つ目", actor=town_admin)


def test_department_create_refuses_an_invalid_code(town, town_admin):
    with pytest.raises(MunicipalityError):
        department_create(municipality=town, code="課 コード", name="財務課", actor=town_admin)
    assert not Department.objects.filter(name="財務課").exists()


@pytest.mark.parametrize("who", ["kenko_head", "kenko_editor"])
def test_department_create_needs_town_admin(request, town, who):
    with pytest.raises(MunicipalityError, match="権限がありません"):
        department_create(municipality=town, code="zaimu", name="財務課", actor=request.getfixturevalue(who))


def test_town_admin_cannot_create_departments_in_another_town(other_town, town_admin):
    with pytest.raises(MunicipalityError, match="権限がありません"):
        department_create(municipality=other_town, code="zaimu", name="財務課", actor=town_admin)


# --- staff_role_grant / staff_role_revoke ----------------------------------------------------


@pytest.fixture
def newcomer(town) -> StaffUser:
    return make_staff("newcomer", town)


def test_grant_replaces_the_role_in_the_department_and_records_before_after(kenko, kenko_head, newcomer):
    first = staff_role_grant(user=newcomer, role=Role.VIEWER, department=kenko, actor=kenko_head)
    second = staff_role_grant(user=newcomer, role=Role.EDITOR, department=kenko, actor=kenko_head)
    assert first.pk == second.pk
    assert StaffRole.objects.get(user=newcomer).role == Role.EDITOR
    last = AuditEntry.objects.filter(
        action="municipalities.staffrole.granted", object_id=str(first.pk)
    ).first()
    assert last.data["role"] == [Role.VIEWER, Role.EDITOR]
    assert last.object_repr == "newcomer（健康福祉課・編集者）"


def test_grant_makes_the_user_staff(kenko, town):
    user = StaffUser.objects.create_user("plain", "p@example.jp", "x-pass-2026", municipality=town)
    staff_role_grant(user=user, role=Role.VIEWER, department=kenko, actor=None)
    user.refresh_from_db()
    assert user.is_staff


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("bad_role", "役割が正しくありません"),
        ("operator", "システム運用者には役割を付与できません"),
        ("other_town_department", "一致しません"),
        ("admin_with_department", "課を指定せずに付与します"),
        ("editor_without_department", "課を選んでください"),
    ],
)
def test_grant_errors(town, kenko, other_department, newcomer, superuser, case, message):
    args = {
        "bad_role": {"user": newcomer, "role": "boss", "department": kenko},
        "operator": {"user": superuser, "role": Role.EDITOR, "department": kenko},
        "other_town_department": {"user": newcomer, "role": Role.EDITOR, "department": other_department},
        "admin_with_department": {"user": newcomer, "role": Role.MUNICIPALITY_ADMIN, "department": kenko},
        "editor_without_department": {"user": newcomer, "role": Role.EDITOR, "department": None},
    }[case]
    with pytest.raises(MunicipalityError, match=message):
        staff_role_grant(actor=None, **args)
    assert not StaffRole.objects.filter(user=args["user"]).exists()
    assert not AuditEntry.objects.filter(
        action="municipalities.staffrole.granted", data__user=args["user"].username
    ).exists()


def test_editor_cannot_grant(kenko, kenko_editor, newcomer):
    with pytest.raises(MunicipalityError, match="自分の課以外"):
        staff_role_grant(user=newcomer, role=Role.VIEWER, department=kenko, actor=kenko_editor)


def test_town_admin_grants_everywhere_in_the_town(kenko, somu, town_admin, newcomer):
    staff_role_grant(user=newcomer, role=Role.HEAD, department=somu, actor=town_admin)
    staff_role_grant(user=newcomer, role=Role.MUNICIPALITY_ADMIN, department=None, actor=town_admin)
    assert set(StaffRole.objects.filter(user=newcomer).values_list("role", flat=True)) == {
        Role.HEAD,
        Role.MUNICIPALITY_ADMIN,
    }


def test_revoke_is_audited_and_removes_the_permissions(kenko, kenko_head, kenko_editor):
    # given
    role = StaffRole.objects.get(user=kenko_editor)
    assert kenko_editor.has_perm("municipalities.view_resident")
    # when
    staff_role_revoke(staff_role=role, actor=kenko_head)
    # then
    assert not StaffRole.objects.filter(pk=role.pk).exists()
    (entry,) = entries("municipalities.staffrole.revoked", role)
    assert entry.actor == kenko_head and entry.data["role"] == Role.EDITOR
    fresh = StaffUser.objects.get(pk=kenko_editor.pk)
    assert not fresh.has_perm("municipalities.view_resident")


def test_head_cannot_revoke_outside_the_department_or_own_role(kenko_head, somu_editor):
    with pytest.raises(MunicipalityError, match="自分の課以外"):
        staff_role_revoke(staff_role=StaffRole.objects.get(user=somu_editor), actor=kenko_head)
    with pytest.raises(MunicipalityError, match="自分自身"):
        staff_role_revoke(staff_role=StaffRole.objects.get(user=kenko_head), actor=kenko_head)
    assert StaffRole.objects.count() == 2


def test_head_cannot_revoke_a_town_admin(town_admin, kenko_head):
    with pytest.raises(MunicipalityError, match="自治体管理者"):
        staff_role_revoke(staff_role=StaffRole.objects.get(user=town_admin), actor=kenko_head)


# --- staff accounts --------------------------------------------------------------------------


def test_assign_municipality_to_an_account_without_town(town):
    user = StaffUser.objects.create_user("fresh", "f@example.jp", "x-pass-2026")
    staff_user_assign_municipality(user=user, municipality=town, actor=None)
    user.refresh_from_db()
    assert user.municipality == town
    assert entries("municipalities.staffuser.changed", user)[0].data["municipality"] == [None, "みどり町"]


def test_assign_municipality_errors(town, other_town, superuser, kenko_editor, town_admin):
    with pytest.raises(MunicipalityError, match="システム運用者は"):
        staff_user_assign_municipality(user=superuser, municipality=town, actor=None)
    with pytest.raises(MunicipalityError, match="すでに自治体に所属"):
        staff_user_assign_municipality(user=kenko_editor, municipality=other_town, actor=None)
    fresh = StaffUser.objects.create_user("fresh", "f@example.jp", "x-pass-2026")
    with pytest.raises(MunicipalityError, match="システム運用者だけ"):
        staff_user_assign_municipality(user=fresh, municipality=town, actor=town_admin)


def test_unlock_is_audited_and_needs_the_change_permission(kenko_editor, town_admin, kenko_head):
    from axes.models import AccessAttempt

    AccessAttempt.objects.create(
        username="kenko_staff",
        ip_address="192.0.2.9",
        user_agent="x",
        path_info="/admin/login/",
        get_data="",
        post_data="",
        http_accept="",
        failures_since_start=5,
    )
    with pytest.raises(MunicipalityError, match="権限がありません"):
        staff_user_unlock(user=kenko_editor, actor=kenko_head)
    assert AccessAttempt.objects.exists()
    assert staff_user_unlock(user=kenko_editor, actor=town_admin) == 1
    assert not AccessAttempt.objects.exists()
    assert entries("municipalities.staffuser.unlocked", kenko_editor)[0].actor == town_admin


# --- residents -------------------------------------------------------------------------------


def test_follow_creates_and_refollow_keeps_settings(town, areas):
    # given
    resident, created = resident_follow(municipality=town, line_user_id="U" + "1" * 32, display_name="山田")
    resident_update_preferences(resident=resident, area=areas["東区"])
    # when: blocks, then adds the account again
    resident_unfollow(municipality=town, line_user_id=resident.line_user_id)
    again, created_again = resident_follow(municipality=town, line_user_id=resident.line_user_id)
    # then
    assert created and not created_again and again.pk == resident.pk
    again.refresh_from_db()
    assert again.is_following and again.unfollowed_at is None and again.area == areas["東区"]
    assert again.display_name == "山田"  # an empty name does not overwrite


def test_unfollow_marks_the_time_and_is_safe_twice(town, resident):
    first = resident_unfollow(municipality=town, line_user_id=resident.line_user_id)
    stamp = Resident.objects.get(pk=resident.pk).unfollowed_at
    second = resident_unfollow(municipality=town, line_user_id=resident.line_user_id)
    assert not first.is_following and stamp is not None
    assert Resident.objects.get(pk=resident.pk).unfollowed_at == stamp
    assert second.pk == resident.pk
    assert resident_unfollow(municipality=town, line_user_id="U" + "9" * 32) is None


def test_update_preferences_changes_only_what_is_given_and_is_audited(town, resident, areas, interests):
    # when
    resident_update_preferences(
        resident=resident, area=areas["本町"], interests=[interests["bosai"], interests["gomi"]]
    )
    resident_update_preferences(resident=resident, age_band=AgeBand.AGE_30S)
    # then
    resident.refresh_from_db()
    assert resident.area == areas["本町"] and resident.age_band == AgeBand.AGE_30S
    assert {i.code for i in resident.interests.all()} == {"bosai", "gomi"}
    first, second = sorted(
        entries("municipalities.resident.preferences_changed", resident), key=lambda e: e.pk
    )
    assert first.actor_resident == resident and first.actor_label == f"住民: {resident}"
    assert first.data["area"] == [None, "本町"]
    assert first.data["interests"] == [[], ["ごみ", "防災"]]
    assert second.data == {"age_band": ["", AgeBand.AGE_30S]}


def test_update_preferences_clears_the_area_with_none(resident, areas):
    resident_update_preferences(resident=resident, area=areas["西区"])
    resident_update_preferences(resident=resident, area=None)
    resident.refresh_from_db()
    assert resident.area is None


@pytest.mark.parametrize("what", ["area", "interest", "age_band"])
def test_update_preferences_refuses_foreign_or_invalid_values(town, other_town, resident, areas, what):
    kwargs = {
        "area": {"area": AreaFactory(municipality=other_town)},
        "interest": {"interests": [InterestFactory(municipality=other_town)]},
        "age_band": {"age_band": "90s"},
    }[what]
    with pytest.raises(MunicipalityError):
        resident_update_preferences(resident=resident, **kwargs)
    resident.refresh_from_db()
    assert resident.area is None and resident.age_band == "" and not resident.interests.exists()
    assert entries("municipalities.resident.preferences_changed", resident) == []


def test_staff_correcting_preferences_needs_the_permission(resident, areas, town_admin, kenko_editor):
    with pytest.raises(MunicipalityError, match="権限がありません"):
        resident_update_preferences(resident=resident, notices_paused=True, actor=kenko_editor)
    resident_update_preferences(resident=resident, notices_paused=True, actor=town_admin)
    resident.refresh_from_db()
    assert resident.notices_paused
    (entry,) = entries("municipalities.resident.preferences_changed", resident)
    assert entry.actor == town_admin and entry.data == {"notices_paused": [False, True]}
