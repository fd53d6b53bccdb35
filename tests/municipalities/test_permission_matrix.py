"""The permission matrix: every model registered in the admin, every role, three places.

For each model in ``admin.site._registry`` (so models added later are covered automatically)
and each kind of user — 自治体管理者, 所属長, 編集者 and 閲覧者 (of 健康福祉課 in みどり町), a
superuser and a staff member without roles — one object is built in the user's department,
one in another department of the same town and one in another town. Through the admin's HTTP
views the test checks changelist visibility, the change page (GET), the change POST and the
delete page (GET and POST).

The expected answer is computed here from the role rules as the issue states them (the
table below and each model's ``head_only_actions``), never from the policy's own output:

- 閲覧者 views (and exports); 編集者 does everything but the head-only actions; 所属長 and
  自治体管理者 do everything; the core models have their own table (CORE_RULES below).
- Department roles apply in their department; 自治体管理者 in every department of the town;
  for models owned by the town as a whole (no department) any role of the town applies.
- A superuser does everything; a staff member without roles nothing; models that are not
  tenant data (no ``municipality_path``) are for superusers only.
- Logs (admins built on ``ReadOnlyAdminMixin``) are never changed or deleted by anyone.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import reverse

import tests
from municipalities.admin import ReadOnlyAdminMixin
from municipalities.models import (
    Area,
    AuditEntry,
    Department,
    Interest,
    Municipality,
    Resident,
    Role,
    SimulatedDelivery,
    StaffRole,
    StaffUser,
    TalkMessage,
    WebhookEvent,
)
from tests.conftest import make_staff
from tests.matrix import BUILDERS

BACKEND = "municipalities.auth.RoleBackend"


def _import_factories() -> None:
    """Import every ``tests/<app>/factories.py``: they register the builders."""
    root = Path(tests.__file__).parent
    for info in pkgutil.iter_modules([str(root)]):
        if info.ispkg and (root / info.name / "factories.py").is_file():
            importlib.import_module(f"tests.{info.name}.factories")


_import_factories()

# --- the rules, as the issue states them -------------------------------------------------------

ALL = frozenset({"view", "add", "change", "delete", "export", "import", "approve"})
VIEW = frozenset({"view"})
ADMIN, HEAD, EDITOR, VIEWER = Role.MUNICIPALITY_ADMIN, Role.HEAD, Role.EDITOR, Role.VIEWER

CORE_RULES: dict[type[models.Model], dict[str, frozenset[str]]] = {
    # The channel settings: 自治体管理者 changes them, everyone in the town sees them.
    Municipality: {ADMIN: frozenset({"view", "change"}), HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    # Departments, notice categories and areas are the information team's.
    Department: {ADMIN: ALL, HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    Interest: {ADMIN: ALL, HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    Area: {ADMIN: ALL, HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    # Staff accounts: 自治体管理者 creates and edits them (never deletes: roles are revoked);
    # a head sees the town's staff to grant them roles.
    StaffUser: {ADMIN: frozenset({"view", "add", "change"}), HEAD: VIEW},
    # Roles: granted and revoked by 自治体管理者 (whole town) and 所属長 (own department).
    StaffRole: {ADMIN: ALL, HEAD: ALL},
    # Residents come from LINE; 自治体管理者 may correct their settings.
    Resident: {ADMIN: frozenset({"view", "change", "export"}), HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    AuditEntry: {ADMIN: VIEW, HEAD: VIEW},
    WebhookEvent: {ADMIN: VIEW},
    TalkMessage: {ADMIN: VIEW, HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    SimulatedDelivery: {},
}

SUPERUSER, NO_ROLE = "superuser", "no_role"
USERS = [ADMIN, HEAD, EDITOR, VIEWER, SUPERUSER, NO_ROLE]
OWN, SIBLING, FOREIGN = "own department", "other department of the same town", "another town"
PLACES = [OWN, SIBLING, FOREIGN]


def role_actions(model: type[models.Model], role: str) -> frozenset[str]:
    if model in CORE_RULES:
        return CORE_RULES[model].get(role, frozenset())
    if role == VIEWER:
        return frozenset({"view", "export"})
    if role == EDITOR:
        return ALL - frozenset(getattr(model, "head_only_actions", {"approve"}))
    return ALL


def in_reach(model: type[models.Model], role: str, place: str) -> bool:
    """Whether a role of 健康福祉課 (or the town, for 自治体管理者) reaches an object in ``place``."""
    if place == FOREIGN:
        return False
    if role == ADMIN or getattr(model, "department_path", None) is None:
        return True  # the whole town
    return place == OWN


def expected(model: type[models.Model], model_admin: Any, user: str, place: str, action: str) -> bool:
    if action in {"change", "delete", "add"} and isinstance(model_admin, ReadOnlyAdminMixin):
        return False
    if user == SUPERUSER:
        return True
    if user == NO_ROLE or getattr(model, "municipality_path", None) is None:
        return False
    if not in_reach(model, user, place):
        return False
    actions = role_actions(model, user)
    if action == "view":
        return "view" in actions or "change" in actions
    return action in actions


# --- the HTTP side -----------------------------------------------------------------------------


@dataclass
class World:
    clients: dict[str, Client]
    departments: dict[str, Department]
    superuser_client: Client


@pytest.fixture
def world(town, kenko, somu, other_department, superuser) -> World:
    users = {
        ADMIN: make_staff("m_admin", town, ADMIN),
        HEAD: make_staff("m_head", town, HEAD, kenko),
        EDITOR: make_staff("m_editor", town, EDITOR, kenko),
        VIEWER: make_staff("m_viewer", town, VIEWER, kenko),
        SUPERUSER: superuser,
        NO_ROLE: make_staff("m_norole", town),
    }
    clients = {}
    for key, user in users.items():
        client = Client()
        client.force_login(user, backend=BACKEND)
        clients[key] = client
    return World(
        clients=clients,
        departments={OWN: kenko, SIBLING: somu, FOREIGN: other_department},
        superuser_client=clients[SUPERUSER],
    )


def url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def row_of(obj: models.Model) -> dict[str, Any] | None:
    return type(obj)._base_manager.filter(pk=obj.pk).values().first()


def _widget_data(form: forms.Form, name: str, field: forms.Field) -> dict[str, Any]:
    bound = form[name]
    value = bound.value()
    key = form.add_prefix(name)
    widget = field.widget
    if isinstance(widget, forms.MultiWidget):
        parts = widget.decompress(value) if not isinstance(value, list) else value
        return {
            f"{key}{widget.widgets_names[i]}": sub.format_value(part) or ""
            for i, (sub, part) in enumerate(zip(widget.widgets, parts, strict=False))
        }
    if isinstance(field, forms.BooleanField):
        return {key: "on"} if value else {}
    if isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
        return {key: [str(v) for v in (value or [])]}
    if value is None:
        return {key: ""}
    if isinstance(field, forms.ModelChoiceField):
        return {key: str(value)}
    formatted = widget.format_value(value)
    return {key: "" if formatted is None else formatted}


def form_data(form: forms.Form) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        data.update(_widget_data(form, name, field))
    return data


def change_post_data(
    superuser_client: Client, model: type[models.Model], obj: models.Model
) -> dict[str, Any]:
    """Valid POST data for the change form, as a superuser sees it, with one text field edited."""
    response = superuser_client.get(url(model, "change", obj.pk))
    assert response.status_code == 200, f"superuser cannot open the change page of {model.__name__}"
    adminform = response.context_data["adminform"]
    data = form_data(adminform.form)
    for inline in response.context_data["inline_admin_formsets"]:
        formset = inline.formset
        data.update(form_data(formset.management_form))
        for form in formset.forms:
            data.update(form_data(form))
    # Edit a free-text field so that a refused POST that slipped through would show.
    for name, field in adminform.form.fields.items():
        if (
            type(field) is forms.CharField
            and not field.disabled
            and not isinstance(field.widget, forms.PasswordInput)
            and data.get(name)
        ):
            value = data[name]
            limit = field.max_length or len(value) + 1
            data[name] = (value if len(value) < limit else value[:-1]) + ("z" if value[-1] != "z" else "y")
            break
    data["_save"] = "保存"
    return data


def refused(response: Any) -> bool:
    """403, or the admin's redirect away from an object the user may not see."""
    if response.status_code == 403:
        return True
    return response.status_code == 302 and "/change/" not in response["Location"]


def registered_models() -> list[tuple[type[models.Model], Any]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize(
    ("model", "model_admin"), registered_models(), ids=[m._meta.label for m, _ in registered_models()]
)
def test_admin_permission_matrix(world: World, model, model_admin) -> None:
    builder = BUILDERS.get(model)
    if builder is None:
        pytest.fail(
            f"{model._meta.label} is registered in the admin but has no permission-matrix builder: "
            f"add `@matrix_builder({model.__name__})` in tests/{model._meta.app_label}/factories.py "
            "(see tests/matrix.py)."
        )
    # One object per place, shared by the users (rebuilt when a permitted delete removed it).
    objects = {place: builder(world.departments[place]) for place in PLACES}
    for obj in objects.values():
        assert obj.pk is not None, f"the {model.__name__} builder returned an unsaved object"
    post_data = {
        place: change_post_data(world.superuser_client, model, obj) for place, obj in objects.items()
    }
    problems: list[str] = []
    for user in USERS:
        for place, obj in objects.items():
            if row_of(obj) is None:
                objects[place] = builder(world.departments[place])
                post_data[place] = change_post_data(world.superuser_client, model, objects[place])
        problems += check_user(world, model, model_admin, objects, post_data, user)
    assert not problems, f"{model._meta.label}: the admin disagrees with the role rules:\n" + "\n".join(
        problems
    )


def check_user(
    world: World,
    model: Any,
    model_admin: Any,
    objects: dict[str, models.Model],
    post_data: dict[str, dict[str, Any]],
    user: str,
) -> list[str]:
    """Every disagreement between the admin and the rules for one user, as readable lines."""
    problems: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(f"  - {user}: {message}")

    client = world.clients[user]

    # Changelist: the object is listed exactly when the user may see it.
    can_list = any(expected(model, model_admin, user, place, "view") for place in PLACES) or (
        user not in {SUPERUSER, NO_ROLE}
        and getattr(model, "municipality_path", None) is not None
        and bool({"view", "change"} & role_actions(model, user))
    )
    response = client.get(url(model, "changelist"))
    if not can_list:
        check(response.status_code == 403, f"opens the list ({response.status_code}), should be 403")
    elif response.status_code != 200:
        check(False, f"cannot open the list ({response.status_code})")
    else:
        listed = {o.pk for o in response.context_data["cl"].queryset}
        for place, obj in objects.items():
            want = expected(model, model_admin, user, place, "view")
            check((obj.pk in listed) == want, f"object in {place} {'not ' if want else ''}listed")

    for place, obj in objects.items():
        may_view = expected(model, model_admin, user, place, "view")
        may_change = expected(model, model_admin, user, place, "change")

        # Change page, GET: opens (editable exactly when the user may change) or is refused.
        response = client.get(url(model, "change", obj.pk))
        if may_view:
            if response.status_code != 200:
                check(False, f"change page of the object in {place} refused ({response.status_code})")
            else:
                editable = bool(response.context_data.get("has_change_permission"))
                check(
                    editable == may_change,
                    f"change page in {place} editable={editable}, expected {may_change}",
                )
        else:
            check(refused(response), f"change page in {place} opens ({response.status_code})")

        # Change, POST: accepted (saved, or the form shows errors) or refused with nothing changed.
        before = row_of(obj)
        response = client.post(url(model, "change", obj.pk), post_data[place])
        if may_change:
            check(
                response.status_code in (200, 302), f"change POST in {place} refused ({response.status_code})"
            )
            denied = [
                m.message
                for m in response.wsgi_request._messages
                if m.level_tag == "error" and "権限" in m.message
            ]
            check(not denied, f"change POST in {place} refused by the service: {denied}")
        else:
            check(refused(response), f"change POST in {place} accepted ({response.status_code})")
            check(row_of(obj) == before, f"a refused change POST in {place} changed the row")

    for place, obj in objects.items():
        may_delete = expected(model, model_admin, user, place, "delete")
        response = client.get(url(model, "delete", obj.pk))
        if may_delete:
            check(response.status_code == 200, f"delete page in {place} refused ({response.status_code})")
        else:
            check(refused(response), f"delete page in {place} opens ({response.status_code})")

        response = client.post(url(model, "delete", obj.pk), {"post": "yes"})
        still_there = row_of(obj) is not None
        if may_delete:
            if response.status_code == 302:
                check(not still_there, f"delete POST in {place} redirected but the object is still there")
            elif response.status_code == 200:
                check(bool(response.context_data.get("protected")), f"delete POST in {place} did nothing")
            else:
                check(False, f"delete POST in {place} refused ({response.status_code})")
        else:
            check(refused(response), f"delete POST in {place} accepted ({response.status_code})")
            check(still_there, f"a refused delete POST in {place} deleted the object")
    return problems
