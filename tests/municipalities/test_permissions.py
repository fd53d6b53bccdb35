import pytest

from municipalities.errors import MunicipalityError
from municipalities.models import AuditEntry, Department, Role, StaffRole
from municipalities.permissions import departments_for_staff, policy_for
from municipalities.services import staff_role_grant
from tests.conftest import make_staff


def test_head_sees_only_roles_of_own_department(kenko_head, kenko_editor, somu_editor, town_admin):
    # given
    policy = policy_for(StaffRole)
    # when
    visible = policy.instances_user_has_permission_for(kenko_head, "view")
    # then
    assert {r.user.username for r in visible} == {"kenko_head", "kenko_staff"}


def test_town_admin_sees_every_department_of_own_town_only(town_admin, kenko, somu, other_department):
    visible = policy_for(Department).instances_user_has_permission_for(town_admin, "change")
    assert set(visible) == {kenko, somu}


def test_head_grants_editor_in_own_department_and_it_is_audited(town, kenko, kenko_head):
    newcomer = make_staff("newcomer", town)
    role = staff_role_grant(user=newcomer, role=Role.EDITOR, department=kenko, actor=kenko_head)
    assert role.department == kenko
    entry = AuditEntry.objects.get(action="municipalities.staffrole.granted", object_id=str(role.pk))
    assert entry.actor == kenko_head
    assert entry.data["role"] == Role.EDITOR


@pytest.mark.parametrize(
    ("role", "department_code", "message"),
    [
        (Role.MUNICIPALITY_ADMIN, None, "自治体管理者"),
        (Role.EDITOR, "somu", "自分の課以外"),
    ],
)
def test_head_cannot_escalate(town, kenko, somu, kenko_head, role, department_code, message):
    newcomer = make_staff("newcomer", town)
    department = {"somu": somu, None: None}[department_code]
    with pytest.raises(MunicipalityError, match=message):
        staff_role_grant(user=newcomer, role=role, department=department, actor=kenko_head)
    assert not StaffRole.objects.filter(user=newcomer).exists()


def test_nobody_changes_own_role(kenko, kenko_head):
    with pytest.raises(MunicipalityError, match="自分自身"):
        staff_role_grant(user=kenko_head, role=Role.EDITOR, department=kenko, actor=kenko_head)


def test_departments_for_staff_is_the_policys_answer_for_departments_where_a_permission_is_held(
    town, kenko, somu, other_department, kenko_editor, town_admin, superuser
):
    # given: roles from the fixtures (editor in 健康課, 自治体管理者 of the town, a superuser)
    # when
    editor = set(departments_for_staff(user=kenko_editor, perm="reservations.book_slot"))
    admin = set(departments_for_staff(user=town_admin, perm="reservations.book_slot"))
    everywhere = set(departments_for_staff(user=superuser, perm="reservations.book_slot"))
    # then: the editor's own department, the admin's whole town, every department for a superuser
    assert editor == {kenko}
    assert admin == {kenko, somu}
    assert everywhere == {kenko, somu, other_department}
