"""Staff accounts in the admin: creating them works, and system operators stay out of every
town's reach (issue 18, findings 4 and 10)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from municipalities.errors import MunicipalityError
from municipalities.models import AuditEntry, Role, StaffRole, StaffUser
from municipalities.services import staff_role_grant, staff_user_unlock
from tests.conftest import make_staff

BACKEND = "municipalities.auth.RoleBackend"
ADD_URL = reverse("admin:municipalities_staffuser_add")


def client_for(user: StaffUser) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def change_url(user: StaffUser) -> str:
    return reverse("admin:municipalities_staffuser_change", args=[user.pk])


def add_data(username: str, municipality_pk: int | str) -> dict[str, str]:
    return {
        "username": username,
        "last_name": "新人",
        "first_name": "太郎",
        "email": f"{username}@example.jp",
        "municipality": str(municipality_pk),
        "password1": "a-long-and-unusual-passphrase-42",
        "password2": "a-long-and-unusual-passphrase-42",
        "staff_roles-TOTAL_FORMS": "0",
        "staff_roles-INITIAL_FORMS": "0",
        "_save": "保存",
    }


def change_data(user: StaffUser, **overrides: str) -> dict[str, str]:
    data = {
        "username": user.username,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "email": user.email,
        "line_user_id": "",
        "municipality": str(user.municipality_id or ""),
        "is_active": "on",
        "staff_roles-TOTAL_FORMS": "0",
        "staff_roles-INITIAL_FORMS": str(StaffRole.objects.filter(user=user).count()),
        "_save": "保存",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    if user.is_superuser:
        data["is_superuser"] = "on"
    data.update(overrides)
    return data


@pytest.mark.parametrize("creator", ["town_admin", "superuser"])
def test_staff_account_is_created_through_the_admin(request, creator, town):
    # given
    actor = request.getfixturevalue(creator)
    # when
    response = client_for(actor).post(ADD_URL, add_data("newcomer", town.pk))
    # then
    assert response.status_code == 302, (
        getattr(response, "context_data", None) and response.context_data["adminform"].form.errors
    )
    user = StaffUser.objects.get(username="newcomer")
    assert user.municipality == town
    assert user.check_password("a-long-and-unusual-passphrase-42")
    assert (
        AuditEntry.objects.get(action="municipalities.staffuser.created", object_id=str(user.pk)).actor
        == actor
    )


def test_town_admin_cannot_create_staff_in_another_town(town_admin, other_town):
    response = client_for(town_admin).post(ADD_URL, add_data("intruder", other_town.pk))
    assert response.status_code == 200
    assert "municipality" in response.context_data["adminform"].form.errors
    assert not StaffUser.objects.filter(username="intruder").exists()


def test_town_admin_never_sees_or_touches_a_superuser(town_admin, superuser):
    # given
    client = client_for(town_admin)
    password = superuser.password
    # when
    listed = client.get(reverse("admin:municipalities_staffuser_changelist"))
    page = client.get(change_url(superuser))
    post = client.post(change_url(superuser), change_data(superuser, is_active=""))
    password_post = client.post(
        change_url(superuser).replace("/change/", "/password/"),
        {"password1": "taken-over-passphrase-99", "password2": "taken-over-passphrase-99"},
    )
    actions = [
        client.post(
            reverse("admin:municipalities_staffuser_changelist"),
            {"action": action, "_selected_action": [superuser.pk]},
        )
        for action in ("reset_two_factor", "unlock_sign_in")
    ]
    # then
    assert superuser.pk not in {u.pk for u in listed.context_data["cl"].queryset}
    assert page.status_code in (302, 404)
    assert post.status_code in (302, 403, 404)
    assert password_post.status_code in (302, 403, 404)
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.password == password
    assert all(r.status_code == 302 for r in actions)
    assert not AuditEntry.objects.filter(object_id=str(superuser.pk), actor=town_admin).exists()


def test_services_refuse_a_town_admin_acting_on_a_superuser(town_admin, superuser):
    with pytest.raises(MunicipalityError, match="システム運用者"):
        staff_user_unlock(user=superuser, actor=town_admin)
    with pytest.raises(MunicipalityError, match="システム運用者"):
        staff_role_grant(user=superuser, role=Role.MUNICIPALITY_ADMIN, department=None, actor=town_admin)


def test_superuser_cannot_be_given_a_town(superuser, town):
    # given
    other_operator = StaffUser.objects.create_superuser("root2", "root2@example.jp", "x-passphrase-1234")
    # when
    response = client_for(superuser).post(
        change_url(other_operator), change_data(other_operator, municipality=str(town.pk))
    )
    # then: the form says why, nothing is saved (no IntegrityError from the CHECK)
    assert response.status_code == 200
    assert "municipality" in response.context_data["adminform"].form.errors
    other_operator.refresh_from_db()
    assert other_operator.municipality_id is None


def test_town_staff_is_made_superuser_only_without_a_town(superuser, town):
    # given
    member = make_staff("member", town)
    # when: the superuser ticks 「スーパーユーザー」 and leaves the town
    response = client_for(superuser).post(change_url(member), change_data(member, is_superuser="on"))
    # then
    assert response.status_code == 200
    assert "municipality" in response.context_data["adminform"].form.errors
    member.refresh_from_db()
    assert not member.is_superuser
