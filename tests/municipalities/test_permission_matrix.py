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
- A town's rich menu (RichMenu) is seen by every role of the town and laid out, added and deleted
  by 自治体管理者; the 所属長 of a department that owns one of its tiles may also change (and
  publish) it, other roles read it (the builder gives the menu a tile of its department).
- 防災 (granted by 自治体管理者) does what 編集者 does, and what a table names for it (災害モード:
  switching it, not an admin model); where a table does not name 防災, the 編集者's line applies.
- A superuser does everything; a staff member without roles nothing; models that are not
  tenant data (no ``municipality_path``) are for superusers only.
- Logs (admins built on ``ReadOnlyAdminMixin``) are never changed or deleted by anyone.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse

import tests
from municipalities.admin import ReadOnlyAdminMixin
from municipalities.models import (
    Area,
    AuditEntry,
    Department,
    HouseholdMember,
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
from municipalities.permissions import walk_id
from municipalities.services import staff_role_grant
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
DISASTER = Role.DISASTER

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
    # A resident's family (children's birth dates): only the resident writes them.
    HouseholdMember: {ADMIN: VIEW, HEAD: VIEW},
    AuditEntry: {ADMIN: VIEW, HEAD: VIEW},
    WebhookEvent: {ADMIN: VIEW},
    TalkMessage: {ADMIN: VIEW, HEAD: VIEW, EDITOR: VIEW, VIEWER: VIEW},
    SimulatedDelivery: {},
}

# Feature models with a table of their own (the others follow the general rules above).
FEATURE_RULES: dict[str, dict[str, frozenset[str]]] = {
    "richmenus.richmenu": {
        ADMIN: ALL,
        HEAD: frozenset({"view", "export", "change"}),
        EDITOR: frozenset({"view", "export"}),
        VIEWER: frozenset({"view", "export"}),
    },
}
# Town-owned models that departments edit through a part they own (a menu's tiles): writes
# follow the department roles of the place, reads every role of the town.
EDITED_THROUGH_DEPARTMENTS = {"richmenus.richmenu"}

SUPERUSER, NO_ROLE, MIXED = "superuser", "no_role", "mixed"
USERS = [ADMIN, HEAD, EDITOR, VIEWER, DISASTER, MIXED, SUPERUSER, NO_ROLE]
OWN, SIBLING, FOREIGN = "own department", "other department of the same town", "another town"
PLACES = [OWN, SIBLING, FOREIGN]

# Where each user's roles apply: 自治体管理者 in every department of the town, the department
# roles in 健康福祉課 (OWN), and MIXED is 編集者 of 健康福祉課 and 閲覧者 of 総務課 (SIBLING).
USER_ROLES: dict[str, dict[str, list[str]]] = {
    ADMIN: {OWN: [ADMIN], SIBLING: [ADMIN]},
    HEAD: {OWN: [HEAD]},
    EDITOR: {OWN: [EDITOR]},
    VIEWER: {OWN: [VIEWER]},
    DISASTER: {OWN: [DISASTER]},
    MIXED: {OWN: [EDITOR], SIBLING: [VIEWER]},
    SUPERUSER: {},
    NO_ROLE: {},
}


def held_roles(user: str) -> set[str]:
    return {role for roles in USER_ROLES[user].values() for role in roles}


def roles_reaching(model: type[models.Model], user: str, place: str, action: str = "view") -> set[str]:
    """The roles of ``user`` that apply to ``action`` on an object in ``place``."""
    if place == FOREIGN:
        return set()
    if model._meta.label_lower in EDITED_THROUGH_DEPARTMENTS and action not in {"view", "export"}:
        return set(USER_ROLES[user].get(place, []))
    if getattr(model, "department_path", None) is None:
        return held_roles(user)  # owned by the whole town: any role in the town
    return set(USER_ROLES[user].get(place, []))


def role_actions(model: type[models.Model], role: str) -> frozenset[str]:
    if role == DISASTER and DISASTER not in CORE_RULES.get(
        model, FEATURE_RULES.get(model._meta.label_lower, {})
    ):
        role = EDITOR  # 防災 does what 編集者 does, unless a table names it
    if model in CORE_RULES:
        return CORE_RULES[model].get(role, frozenset())
    if model._meta.label_lower in FEATURE_RULES:
        return FEATURE_RULES[model._meta.label_lower].get(role, frozenset())
    if role == VIEWER:
        return frozenset({"view", "export"})
    if role == EDITOR:
        return ALL - frozenset(getattr(model, "head_only_actions", {"approve"}))
    return ALL


def expected(model: type[models.Model], model_admin: Any, user: str, place: str, action: str) -> bool:
    if action in {"change", "delete", "add"} and isinstance(model_admin, ReadOnlyAdminMixin):
        return False
    if user == SUPERUSER:
        return True
    if user == NO_ROLE or getattr(model, "municipality_path", None) is None:
        return False
    if any(action in role_actions(model, role) for role in roles_reaching(model, user, place, action)):
        return True
    return action == "view" and any(
        "change" in role_actions(model, role) for role in roles_reaching(model, user, place, "change")
    )


def expected_anywhere(model: type[models.Model], model_admin: Any, user: str, action: str) -> bool:
    """Whether the user may ``action`` the model somewhere (the model-level permission)."""
    if action in {"change", "delete", "add"} and isinstance(model_admin, ReadOnlyAdminMixin):
        return False
    if user == SUPERUSER:
        return True
    if user == NO_ROLE or getattr(model, "municipality_path", None) is None:
        return False
    return any(
        action in role_actions(model, role) or (action == "view" and "change" in role_actions(model, role))
        for role in held_roles(user)
    )


# --- the HTTP side -----------------------------------------------------------------------------


@dataclass
class World:
    clients: dict[str, Client]
    users: dict[str, StaffUser]
    departments: dict[str, Department]
    superuser_client: Client


@pytest.fixture
def world(town, kenko, somu, other_department, superuser) -> World:
    mixed = make_staff("m_mixed", town, EDITOR, kenko)
    staff_role_grant(user=mixed, role=VIEWER, department=somu, actor=None)
    users = {
        ADMIN: make_staff("m_admin", town, ADMIN),
        HEAD: make_staff("m_head", town, HEAD, kenko),
        EDITOR: make_staff("m_editor", town, EDITOR, kenko),
        VIEWER: make_staff("m_viewer", town, VIEWER, kenko),
        DISASTER: make_staff("m_bosai", town, DISASTER, kenko),
        MIXED: mixed,
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
        users=users,
        departments={OWN: kenko, SIBLING: somu, FOREIGN: other_department},
        superuser_client=clients[SUPERUSER],
    )


def url(model: type[models.Model], view: str, *args: Any) -> str:
    EXERCISED["urls"].add(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")
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
    can_list = expected_anywhere(model, model_admin, user, "view")
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


# --- every other admin surface, generated from the registry and the URLconf -------------------
#
# What the matrix exercised is recorded here; test_matrix_covers_every_admin_surface (last in
# this file) walks the URLconf, the actions and the inlines and fails for anything missing.

EXERCISED: dict[str, set[str]] = {"urls": set(), "actions": set(), "inlines": set(), "staff_urls": set()}
STANDARD_VIEWS = {"changelist", "add", "change", "delete", "history"}


def hit(client: Client, method: str, path: str, data: Any = None) -> Any:
    match = resolve(urlsplit(path).path)
    EXERCISED["urls"].add(match.view_name)
    return client.get(path, data) if method == "GET" else client.post(path, data or {})


def role_can(model: type[models.Model], role: str, action: str) -> bool:
    actions = role_actions(model, role)
    return action in actions or (action == "view" and "change" in actions)


def visible_departments(model: type[models.Model], user: str, world: World) -> set[int] | None:
    """Departments whose ``model`` rows the user may view; None: the whole town."""
    if ADMIN in held_roles(user) and role_can(model, ADMIN, "view"):
        return None
    return {
        world.departments[place].pk
        for place, roles in USER_ROLES[user].items()
        if any(role_can(model, role, "view") for role in roles)
    }


def out_of_reach(
    related: type[models.Model], admin_model: type[models.Model], user: str, world: World, pks: Any
) -> list[str]:
    """The rows of ``related`` among ``pks`` that ``user`` may not see (choices under the
    permissions of ``admin_model``): another town's, or another department's."""
    muni_path = getattr(related, "municipality_path", None)
    if muni_path is None or user == SUPERUSER:
        return []
    town = world.departments[OWN].municipality_id
    departments = visible_departments(admin_model, user, world)
    dept_path = getattr(related, "department_path", None)
    leaked = []
    for obj in related._default_manager.filter(pk__in=list(pks)):
        if walk_id(obj, muni_path) != town:
            leaked.append(f"{related.__name__} {obj} (another town)")
        elif dept_path is not None and departments is not None and walk_id(obj, dept_path) not in departments:
            leaked.append(f"{related.__name__} {obj} (another department)")
    return leaked


def tenant_of(obj: models.Model) -> tuple[Any, Any]:
    model = type(obj)
    fresh = model._base_manager.get(pk=obj.pk)
    dept_path = getattr(model, "department_path", None)
    muni_path = getattr(model, "municipality_path", None)
    return (
        walk_id(fresh, dept_path) if dept_path is not None else None,
        walk_id(fresh, muni_path) if muni_path is not None else None,
    )


def audit_count(obj: models.Model) -> int:
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return AuditEntry.objects.filter(content_type=ct, object_id=str(obj.pk)).count()


def superuser_request(world: World) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = StaffUser(is_superuser=True, is_staff=True, is_active=True)
    return request


def extra_patterns(model_admin: Any) -> list[Any]:
    """The URL patterns a ModelAdmin adds to the standard five (import/export, custom pages)."""
    prefix = f"{model_admin.model._meta.app_label}_{model_admin.model._meta.model_name}_"
    return [
        p
        for p in model_admin.get_urls()
        if isinstance(p, URLPattern) and p.name and p.name.removeprefix(prefix) not in STANDARD_VIEWS
    ]


def _filled(field: forms.Field, form: forms.Form, name: str) -> dict[str, Any]:
    data = _widget_data(form, name, field)
    key = form.add_prefix(name)
    if field.required and data.get(key) in ("", None, []):
        if isinstance(field, forms.ModelChoiceField):
            first = field.queryset.first()
            data[key] = str(first.pk) if first else ""
        elif isinstance(field, forms.ChoiceField):
            values = [str(v) for v, _label in field.choices if v not in ("", None)]
            data[key] = values[0] if values else ""
        elif isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
            data[key] = "1"
        else:
            data[key] = "テスト"
    return data


def new_inline_row(formset: Any) -> dict[str, Any]:
    """POST data for one more row of an inline: a copy of its first row, or its empty form with
    the required fields filled."""
    index = formset.total_form_count()
    template = formset.forms[0] if formset.forms else formset.empty_form
    data: dict[str, Any] = {}
    for name, field in template.fields.items():
        if field.disabled or name in {"id", "DELETE", formset.fk.name}:
            continue
        for key, value in _filled(field, template, name).items():
            suffix = key.removeprefix(template.prefix)
            data[f"{formset.prefix}-{index}{suffix}"] = value
    data[f"{formset.prefix}-TOTAL_FORMS"] = str(index + 1)
    return data


@pytest.mark.parametrize(
    ("model", "model_admin"), registered_models(), ids=[m._meta.label for m, _ in registered_models()]
)
def test_admin_surfaces_matrix(world: World, model, model_admin) -> None:
    """History, add (GET and POST, into each place), moving a row by POST, inline rows, list
    actions on objects out of reach, list-filter choices, autocompletes and every extra URL of
    the ModelAdmin, for every user and place."""
    builder = BUILDERS.get(model)
    assert builder is not None, f"{model._meta.label} has no permission-matrix builder (see tests/matrix.py)"
    objects = {place: builder(world.departments[place]) for place in PLACES}
    post_data = {place: change_post_data(world.superuser_client, model, o) for place, o in objects.items()}
    problems: list[str] = []
    for user in USERS:
        client = world.clients[user]

        def check(ok: bool, message: str, user: str = user) -> None:
            if not ok:
                problems.append(f"  - {user}: {message}")

        check_reads(world, model, model_admin, objects, user, client, check)
        check_extra_urls(world, model, model_admin, objects, user, client, check)
        check_actions(world, model, model_admin, objects, user, client, check)
        check_add(world, model, model_admin, post_data, user, client, check)
        for place, obj in objects.items():  # a permitted delete or move above: rebuild
            if row_of(obj) is None or tenant_of(obj) != tenant_of_place(obj, world, place):
                objects[place] = builder(world.departments[place])
                post_data[place] = change_post_data(world.superuser_client, model, objects[place])
        check_inlines(world, model, model_admin, objects, user, client, check)
        moved = check_move(world, model, model_admin, objects, post_data, user, client, check)
        if moved:
            objects[OWN] = builder(world.departments[OWN])
            post_data[OWN] = change_post_data(world.superuser_client, model, objects[OWN])
    assert not problems, f"{model._meta.label}: the admin disagrees with the role rules:\n" + "\n".join(
        problems
    )


def tenant_of_place(obj: models.Model, world: World, place: str) -> tuple[Any, Any]:
    return tenant_of(obj)  # builders put each object in its place; a move changes tenant_of()


def check_reads(world, model, model_admin, objects, user, client, check) -> None:
    # History: the object's audit log, for those who may see the object.
    for place, obj in objects.items():
        response = hit(client, "GET", url(model, "history", obj.pk))
        if expected(model, model_admin, user, place, "view"):
            check(response.status_code == 200, f"history in {place} refused ({response.status_code})")
        else:
            check(refused(response), f"history in {place} opens ({response.status_code})")
    # List filters: no choice out of the user's reach.
    if expected_anywhere(model, model_admin, user, "view"):
        response = client.get(url(model, "changelist"))
        if response.status_code == 200:
            for spec in response.context_data["cl"].filter_specs:
                related = getattr(getattr(spec, "field", None), "related_model", None)
                choices = getattr(spec, "lookup_choices", None)
                if related is None or not choices:
                    continue
                leaked = out_of_reach(related, model, user, world, [pk for pk, _label in choices])
                check(not leaked, f"list filter {spec.field_path!r} offers {leaked}")
    # Autocompletes: every relation of the model to a registered, searchable admin.
    for field in model._meta.get_fields():
        remote = getattr(getattr(field, "remote_field", None), "model", None)
        remote_admin = admin.site._registry.get(remote)
        if not field.concrete or remote_admin is None:
            continue
        if not remote_admin.get_search_fields(superuser_request(world)):
            continue
        response = hit(
            client,
            "GET",
            reverse("admin:autocomplete")
            + "?"
            + urlencode(
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                    "term": "",
                }
            ),
        )
        check(response.status_code < 500, f"autocomplete {field.name} fails ({response.status_code})")
        if response.status_code == 200:
            ids = [row["id"] for row in response.json()["results"]]
            leaked = out_of_reach(remote, remote, user, world, ids)
            check(not leaked, f"autocomplete {field.name} offers {leaked}")


def check_extra_urls(world, model, model_admin, objects, user, client, check) -> None:
    """Every URL the ModelAdmin's get_urls adds: another town's object is never shown, nobody
    without the view permission opens it, nothing is a 500."""
    may_view = expected_anywhere(model, model_admin, user, "view")
    for pattern in extra_patterns(model_admin):
        name = f"admin:{pattern.name}"
        converters = list(pattern.pattern.converters)
        places = PLACES if converters else [None]
        for place in places:
            kwargs = {key: objects[place].pk for key in converters} if place else {}
            path = reverse(name, kwargs=kwargs)
            response = hit(client, "GET", path)
            where = f"{pattern.name} ({place or 'list'})"
            check(response.status_code < 500, f"{where} fails ({response.status_code})")
            if user == SUPERUSER:
                continue
            if not may_view or place == FOREIGN:
                check(response.status_code != 200, f"{where} opens for a user out of reach")
            if place == FOREIGN:
                before = row_of(objects[place])
                response = hit(client, "POST", path, {})
                check(response.status_code < 500, f"POST {where} fails ({response.status_code})")
                check(row_of(objects[place]) == before, f"POST {where} changed another town's object")


def check_actions(world, model, model_admin, objects, user, client, check) -> None:
    """Every list action, run on an object the user may not change: nothing changes."""
    actions = [
        name for name in model_admin.get_actions(superuser_request(world)) if name != "delete_selected"
    ]
    for name in actions:
        EXERCISED["actions"].add(f"{model._meta.label}.{name}")
        if user == SUPERUSER:
            continue
        for place, obj in objects.items():
            may_view = expected(model, model_admin, user, place, "view")
            if expected(model, model_admin, user, place, "change"):
                continue
            before, audited = row_of(obj), audit_count(obj)
            response = hit(
                client,
                "POST",
                url(model, "changelist"),
                {"action": name, "_selected_action": [obj.pk], "index": "0"},
            )
            check(response.status_code < 500, f"action {name} on {place} fails ({response.status_code})")
            check(row_of(obj) == before, f"action {name} changed the object in {place}")
            check(audit_count(obj) == audited, f"action {name} wrote an audit entry for {place}")
            if not may_view and response.status_code == 200 and response.get("Content-Disposition"):
                check(
                    str(obj) not in response.content.decode("utf-8", "replace"),
                    f"action {name} exports {place}",
                )


_ADD_STATUS: dict[type, int] = {}


def check_add(world, model, model_admin, post_data, user, client, check) -> None:
    """The add page, and an add POST whose department/town is each place."""
    if model not in _ADD_STATUS:
        _ADD_STATUS[model] = world.superuser_client.get(url(model, "add")).status_code
    response = hit(client, "GET", url(model, "add"))
    if _ADD_STATUS[model] == 200:
        if expected_anywhere(model, model_admin, user, "add"):
            check(response.status_code == 200, f"add page refused ({response.status_code})")
        else:
            check(response.status_code in (302, 403), f"add page opens ({response.status_code})")
    else:
        check(response.status_code != 200, f"add page opens ({response.status_code}) though disabled")
    for place, data in post_data.items():
        count = model._base_manager.count()
        response = hit(client, "POST", url(model, "add"), data)
        check(response.status_code < 500, f"add POST into {place} fails ({response.status_code})")
        if not expected(model, model_admin, user, place, "add"):
            check(model._base_manager.count() == count, f"add POST into {place} created a row")


_FORM_FIELDS: dict[tuple[type, int], Any] = {}


def check_move(world, model, model_admin, objects, post_data, user, client, check) -> bool:
    """A change POST that moves the own department's row to a sibling department / another
    town: nothing moves unless the user may change the row in both places."""
    key = (model, objects[OWN].pk)
    if key not in _FORM_FIELDS:
        page = world.superuser_client.get(url(model, "change", objects[OWN].pk))
        _FORM_FIELDS[key] = page.context_data["adminform"].form.fields
    form_fields = _FORM_FIELDS[key]
    moved_any = False
    for target in (SIBLING, FOREIGN):
        department = world.departments[target]
        data = dict(post_data[OWN])
        changed = False
        for name, field in form_fields.items():
            target_model = getattr(getattr(field, "queryset", None), "model", None)
            if field.disabled or target_model not in (Department, Municipality) or model is target_model:
                continue
            data[name] = str(department.pk if target_model is Department else department.municipality_id)
            changed = True
        if not changed:
            continue
        obj = objects[OWN]
        before = tenant_of(obj)
        response = hit(client, "POST", url(model, "change", obj.pk), data)
        check(response.status_code < 500, f"move POST to {target} fails ({response.status_code})")
        if row_of(obj) is None:
            continue
        allowed = expected(model, model_admin, user, OWN, "change") and expected(
            model, model_admin, user, target, "change"
        )
        after = tenant_of(obj)
        if not allowed:
            check(after == before, f"a move POST moved the row of {OWN} to {target}")
        if after != before:
            return True
    return moved_any


_INLINE_PLANS: dict[tuple[type, int], list[tuple[Any, Any, dict[str, Any], bool]]] = {}


def inline_plans(world: World, model: Any, obj: models.Model) -> list[tuple[Any, Any, dict[str, Any], bool]]:
    """(inline class, rows queryset, POST data with one new row, superuser may add) per inline."""
    key = (model, obj.pk)
    if key not in _INLINE_PLANS:
        page = world.superuser_client.get(url(model, "change", obj.pk))
        base = change_post_data(world.superuser_client, model, obj)
        plans = []
        for inline_set in page.context_data.get("inline_admin_formsets") or []:
            formset = inline_set.formset
            rows = inline_set.opts.model._base_manager.filter(**{formset.fk.name: obj.pk})
            data = {**base, **new_inline_row(formset)}
            plans.append((type(inline_set.opts), rows, data, inline_set.has_add_permission))
        _INLINE_PLANS[key] = plans
    return _INLINE_PLANS[key]


def check_inlines(world, model, model_admin, objects, user, client, check) -> None:
    """Each inline of the change page: a new row posted by the user is saved only when the user
    may change the parent (and the inline takes rows at all); existing rows stay as they are."""
    for place, obj in objects.items():
        for inline, rows, data, superuser_may_add in inline_plans(world, model, obj):
            EXERCISED["inlines"].add(f"{type(model_admin).__name__}.{inline.__name__}")
            count = rows.count()
            response = hit(client, "POST", url(model, "change", obj.pk), data)
            check(response.status_code < 500, f"inline {inline.__name__} add row in {place} fails")
            if not (expected(model, model_admin, user, place, "change") and superuser_may_add):
                check(rows.count() == count, f"inline {inline.__name__} row added in {place}")


def test_admin_site_pages(world: World) -> None:
    """The site's own admin pages (index, app lists, password, two-factor set-up, jsi18n,
    view-on-site, log-in and log-out): never a 500, and nobody without roles sees a model."""
    problems: list[str] = []
    foreign_objects = [BUILDERS[Department](world.departments[FOREIGN])]
    apps_ = sorted({m._meta.app_label for m in admin.site._registry})
    for user in USERS:
        client = world.clients[user]
        pages = [reverse("admin:index"), reverse("admin:jsi18n"), reverse("admin:password_change")]
        pages += [reverse("admin:password_change_done"), reverse("admin:two_factor_setup")]
        pages += [reverse("admin:app_list", kwargs={"app_label": label}) for label in apps_]
        for obj in foreign_objects:
            ct = ContentType.objects.get_for_model(obj)
            pages.append(reverse("admin:view_on_site", args=[ct.pk, obj.pk]))
        for page in pages:
            response = hit(client, "GET", page)
            if response.status_code >= 500:
                problems.append(f"  - {user}: {page} fails ({response.status_code})")
        response = client.get(reverse("admin:index"))
        if user == NO_ROLE and response.status_code == 200:
            if response.context_data.get("app_list"):
                problems.append(f"  - {user}: the index lists models")
    anonymous = Client()
    hit(anonymous, "GET", reverse("admin:login"))
    hit(Client(), "POST", reverse("admin:logout"))
    assert not problems, "\n".join(problems)


SIMULATOR_URLS = ["line:simulator", "line:simulator_residents", "line:simulator_send", "line:simulator_talk"]
SIMULATOR_URLS += ["line:simulator_open"]


def _walk(resolver: URLResolver, namespace: str = "", prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _walk(entry, ns, prefix + str(entry.pattern))
        elif entry.name:
            found.append((f"{namespace}{entry.name}", entry))
    return found


def staff_only_urls() -> dict[str, str]:
    """{name: path} of the non-admin URLs an anonymous visitor is sent to the staff login from,
    or refused (403): staff-only views, found from the URLconf (plus the simulator's, named)."""
    anonymous = Client()
    login = reverse("admin:login")
    found = {name: reverse(name) for name in SIMULATOR_URLS}
    for name, pattern in _walk(get_resolver()):
        if name.startswith("admin:") or name in found:
            continue
        kwargs = {key: "1" for key in pattern.pattern.converters}
        try:
            path = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
        response = anonymous.get(path)
        if response.status_code == 403 or (
            response.status_code == 302 and response.get("Location", "").startswith(login)
        ):
            found[name] = path
    return found


def test_staff_only_urls_refuse_users_without_the_permission(world: World) -> None:
    """Each staff-only non-admin URL, asked about the user's own town (GET with
    ``?municipality=``, POST with a JSON body naming it): a user without the simulator
    permission (編集者, 閲覧者, 防災, no role, and the mixed user) gets 403/404 (405 where the method
    is not served at all); nobody gets a 500."""
    problems: list[str] = []
    without_permission = [EDITOR, VIEWER, DISASTER, MIXED, NO_ROLE]
    town = world.departments[OWN].municipality_id
    body = json.dumps({"municipality": town, "type": "text", "text": "申請状況", "userId": "U" + "a" * 32})
    for name, path in staff_only_urls().items():
        EXERCISED["staff_urls"].add(name)
        for user in USERS:
            client = world.clients[user]
            for method in ("GET", "POST"):
                if method == "GET":
                    response = client.get(path, {"municipality": town})
                else:
                    response = client.post(path, body, content_type="application/json")
                if response.status_code >= 500:
                    problems.append(f"  - {user}: {method} {name} fails ({response.status_code})")
                elif user in without_permission and response.status_code not in (403, 404, 405):
                    problems.append(
                        f"  - {user}: {method} {name} answers {response.status_code}, not 403/404"
                    )
    assert not problems, "staff-only URLs open to users without the permission:\n" + "\n".join(problems)


def test_matrix_covers_every_admin_surface() -> None:
    """Runs after the matrix above (same file): every admin URL pattern, every registered action
    and inline, and every staff-only URL was exercised. A new admin, action, inline or view
    joins the matrix by itself; one the matrix cannot reach fails here, by name."""
    assert EXERCISED["urls"], "run the whole matrix file: the coverage test reads what the matrix exercised"
    admin_urls = {name for name, _pattern in _walk(get_resolver()) if name.startswith("admin:")}
    request = RequestFactory().get("/admin/")
    request.user = StaffUser(is_superuser=True, is_staff=True, is_active=True)
    actions = {
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
        if name != "delete_selected"
    }
    inlines = {
        f"{type(model_admin).__name__}.{inline.__name__}"
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }
    missing = {
        "admin URLs": sorted(admin_urls - EXERCISED["urls"]),
        "actions": sorted(actions - EXERCISED["actions"]),
        "inlines": sorted(inlines - EXERCISED["inlines"]),
        "staff-only URLs": sorted(set(SIMULATOR_URLS) - EXERCISED["staff_urls"]),
    }
    assert not any(missing.values()), f"not exercised by the permission matrix: {missing}"
