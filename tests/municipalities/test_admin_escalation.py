"""Role escalation through the admin's own HTTP forms (not only through the service).

A department head grants roles only in their department, never 自治体管理者 or superuser, and
never changes their own role; a 自治体管理者 never makes anyone a superuser.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from municipalities.models import AuditEntry, Role, StaffRole, StaffUser
from tests.conftest import make_staff

BACKEND = "municipalities.auth.RoleBackend"
ADD_ROLE = reverse("admin:municipalities_staffrole_add")


def client_for(user: StaffUser) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def change_role_url(role: StaffRole) -> str:
    return reverse("admin:municipalities_staffrole_change", args=[role.pk])


@pytest.fixture
def newcomer(town) -> StaffUser:
    return make_staff("newcomer", town)


def test_head_grants_editor_in_own_department_through_the_form(kenko_head, kenko, newcomer):
    # given
    client = client_for(kenko_head)
    # when
    response = client.post(ADD_ROLE, {"user": newcomer.pk, "department": kenko.pk, "role": Role.EDITOR})
    # then
    assert response.status_code == 302
    role = StaffRole.objects.get(user=newcomer)
    assert (role.department, role.role, role.granted_by) == (kenko, Role.EDITOR, kenko_head)
    entry = AuditEntry.objects.get(action="municipalities.staffrole.granted", object_id=str(role.pk))
    assert entry.actor == kenko_head
    assert entry.department == kenko


def test_head_form_offers_only_own_department_roles_below_admin_and_not_themselves(
    kenko_head, kenko, somu, newcomer
):
    # when
    response = client_for(kenko_head).get(ADD_ROLE)
    # then
    form = response.context_data["adminform"].form
    assert list(form.fields["department"].queryset) == [kenko]
    role_values = [value for value, _label in form.fields["role"].choices if value]
    assert Role.MUNICIPALITY_ADMIN not in role_values
    assert set(role_values) == {Role.HEAD, Role.EDITOR, Role.VIEWER}
    users = set(form.fields["user"].queryset)
    assert kenko_head not in users
    assert newcomer in users


def test_head_cannot_grant_outside_own_department(kenko_head, somu, newcomer):
    response = client_for(kenko_head).post(
        ADD_ROLE, {"user": newcomer.pk, "department": somu.pk, "role": Role.EDITOR}
    )
    assert response.status_code == 200
    assert "department" in response.context_data["adminform"].form.errors
    assert not StaffRole.objects.filter(user=newcomer).exists()


def test_head_cannot_grant_municipality_admin(kenko_head, newcomer):
    response = client_for(kenko_head).post(
        ADD_ROLE, {"user": newcomer.pk, "department": "", "role": Role.MUNICIPALITY_ADMIN}
    )
    assert response.status_code == 200
    assert "role" in response.context_data["adminform"].form.errors
    assert not StaffRole.objects.filter(user=newcomer).exists()


def test_head_cannot_grant_themselves_a_role(kenko_head, kenko, somu):
    # given: a head who also wants the other department
    client = client_for(kenko_head)
    # when
    response = client.post(ADD_ROLE, {"user": kenko_head.pk, "department": kenko.pk, "role": Role.VIEWER})
    # then
    assert response.status_code == 200
    assert "user" in response.context_data["adminform"].form.errors
    assert list(StaffRole.objects.filter(user=kenko_head).values_list("role", flat=True)) == [Role.HEAD]


def test_head_cannot_change_or_revoke_own_role(kenko_head):
    # given
    own = StaffRole.objects.get(user=kenko_head)
    client = client_for(kenko_head)
    # when
    change = client.post(change_role_url(own), {"role": Role.EDITOR})
    delete = client.post(reverse("admin:municipalities_staffrole_delete", args=[own.pk]), {"post": "yes"})
    # then
    assert change.status_code == 403
    assert delete.status_code == 403
    own.refresh_from_db()
    assert own.role == Role.HEAD


def test_head_cannot_raise_an_editor_to_municipality_admin(kenko_head, kenko_editor):
    # given
    role = StaffRole.objects.get(user=kenko_editor)
    # when
    response = client_for(kenko_head).post(change_role_url(role), {"role": Role.MUNICIPALITY_ADMIN})
    # then
    assert response.status_code == 200
    assert "role" in response.context_data["adminform"].form.errors
    role.refresh_from_db()
    assert role.role == Role.EDITOR


def test_head_may_change_an_editor_of_own_department_to_viewer(kenko_head, kenko_editor):
    role = StaffRole.objects.get(user=kenko_editor)
    response = client_for(kenko_head).post(change_role_url(role), {"role": Role.VIEWER})
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.role == Role.VIEWER
    assert AuditEntry.objects.filter(
        action="municipalities.staffrole.granted", object_id=str(role.pk), actor=kenko_head
    ).exists()


def test_head_cannot_touch_roles_of_another_department(kenko_head, somu_editor):
    # given
    role = StaffRole.objects.get(user=somu_editor)
    client = client_for(kenko_head)
    # when
    change = client.post(change_role_url(role), {"role": Role.VIEWER})
    delete = client.post(reverse("admin:municipalities_staffrole_delete", args=[role.pk]), {"post": "yes"})
    # then: the row is invisible to them (redirect away), and unchanged
    assert change.status_code == 302 and "/change/" not in change["Location"]
    assert delete.status_code == 302
    role.refresh_from_db()
    assert role.role == Role.EDITOR


def test_head_cannot_make_anyone_superuser(kenko_head, newcomer):
    # when: the head posts the staff change form with the superuser flags
    response = client_for(kenko_head).post(
        reverse("admin:municipalities_staffuser_change", args=[newcomer.pk]),
        {"username": newcomer.username, "is_superuser": "on", "is_staff": "on", "is_active": "on"},
    )
    # then
    assert response.status_code == 403
    newcomer.refresh_from_db()
    assert not newcomer.is_superuser


def test_town_admin_cannot_make_anyone_superuser(town_admin, newcomer, town):
    # given
    client = client_for(town_admin)
    url = reverse("admin:municipalities_staffuser_change", args=[newcomer.pk])
    assert "is_superuser" not in client.get(url).context_data["adminform"].form.fields
    # when
    response = client.post(
        url,
        {
            "username": newcomer.username,
            "last_name": "新人",
            "first_name": "",
            "email": newcomer.email,
            "line_user_id": "",
            "municipality": town.pk,
            "is_active": "on",
            "is_superuser": "on",
            "is_staff": "on",
            "staff_roles-TOTAL_FORMS": "0",
            "staff_roles-INITIAL_FORMS": "0",
        },
    )
    # then: saved, but the flag is not a field of their form
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.last_name == "新人"
    assert not newcomer.is_superuser


def test_town_admin_cannot_grant_in_another_town(town_admin, other_department, newcomer):
    response = client_for(town_admin).post(
        ADD_ROLE, {"user": newcomer.pk, "department": other_department.pk, "role": Role.EDITOR}
    )
    assert response.status_code == 200
    assert not StaffRole.objects.filter(user=newcomer).exists()


def test_town_admin_grants_municipality_admin(town_admin, newcomer):
    response = client_for(town_admin).post(
        ADD_ROLE, {"user": newcomer.pk, "department": "", "role": Role.MUNICIPALITY_ADMIN}
    )
    assert response.status_code == 302
    assert StaffRole.objects.get(user=newcomer).role == Role.MUNICIPALITY_ADMIN
