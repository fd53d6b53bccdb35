"""The one place where staff roles are interpreted.

A role (StaffRole.role) is backed by a Django group of the same name holding the model
permissions; the StaffRole row says *where* they apply: one department, or — for
自治体管理者 — every department of the municipality. The policy object has Wagtail's
interface (``user_has_permission``, ``user_has_permission_for_instance``,
``instances_user_has_permission_for``) and is used by the admin mixin, the services and
import-export.

Models say where they live with two class attributes (set by the abstract bases in
models.py): ``department_path`` (lookup to the owning Department, ``None`` when the model is
owned by the municipality as a whole) and ``municipality_path``. A row whose department is empty
is 自治体管理者's only, unless the model names ``town_wide_rows_perm``: then it is in scope in
every town where the user's role also holds that permission (TalkMessage: the general chat is for
the roles that answer residents, a department's notices for that department).

What each role may do on a model:

- 閲覧者: view and export.
- 編集者: every action of the model except those in ``head_only_actions`` (default
  ``{"approve"}``).
- 所属長 and 自治体管理者: every action.
- 防災 (a department role granted by 自治体管理者 only): what an 編集者 does, and the actions a
  model grants it by name in its ``role_rules`` (災害モード: switch it on and off); where a table
  does not name 防災, it is read as the 編集者's line.

Core models that are about the channel and the staff have their own rules (CORE_RULES); a feature
model may state its own table the same way (``role_rules``, e.g. the town's rich menus).

A row owned by the town as a whole can still be *edited* by departments: a model that names
``edit_departments_path`` (lookup to the Department(s) owning parts of the row, e.g. a rich
menu's tiles) is seen by every role of the town, while every other action is for 自治体管理者
and for the department roles of a department on that path (a head whose department owns a tile
changes the menu; other heads only read it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from municipalities.errors import ServiceError
from municipalities.models import Department, Municipality, Role, StaffRole

PROJECT_APPS = (
    "municipalities",
    "broadcasts",
    "reservations",
    "applications",
    "chatbot",
    "reports",
    "richmenus",
    "facilities",
)

ROLE_GROUP_NAMES: dict[str, str] = {
    Role.MUNICIPALITY_ADMIN: "自治体管理者",
    Role.HEAD: "所属長",
    Role.EDITOR: "編集者",
    Role.VIEWER: "閲覧者",
    Role.DISASTER: "防災",
}

DEFAULT_HEAD_ONLY_ACTIONS = frozenset({"approve"})
VIEWER_ACTIONS = frozenset({"view", "export"})
READ_ACTIONS = VIEWER_ACTIONS  # actions that ``edit_departments_path`` does not narrow
ALL = None  # every action the model has

_VIEW = frozenset({"view"})
CORE_RULES: dict[str, dict[str, frozenset[str] | None]] = {
    "municipalities.municipality": {
        # The simulator is a training tool: those who teach others to use the account.
        Role.MUNICIPALITY_ADMIN: frozenset({"view", "change", "use_simulator"}),
        Role.HEAD: frozenset({"view", "use_simulator"}),
        Role.EDITOR: _VIEW,
        Role.VIEWER: _VIEW,
    },
    "municipalities.department": {
        Role.MUNICIPALITY_ADMIN: ALL,
        Role.HEAD: _VIEW,
        Role.EDITOR: _VIEW,
        Role.VIEWER: _VIEW,
    },
    "municipalities.staffuser": {
        Role.MUNICIPALITY_ADMIN: frozenset({"view", "add", "change"}),
        Role.HEAD: _VIEW,
    },
    "municipalities.staffrole": {Role.MUNICIPALITY_ADMIN: ALL, Role.HEAD: ALL},
    "municipalities.interest": {
        Role.MUNICIPALITY_ADMIN: ALL,
        Role.HEAD: _VIEW,
        Role.EDITOR: _VIEW,
        Role.VIEWER: _VIEW,
    },
    "municipalities.area": {
        Role.MUNICIPALITY_ADMIN: ALL,
        Role.HEAD: _VIEW,
        Role.EDITOR: _VIEW,
        Role.VIEWER: _VIEW,
    },
    "municipalities.resident": {
        Role.MUNICIPALITY_ADMIN: frozenset({"view", "change", "export"}),
        Role.HEAD: _VIEW,
        Role.EDITOR: _VIEW,
        Role.VIEWER: _VIEW,
    },
    # A resident's family (children's birth dates): read by those who run the town's bookings;
    # only the resident writes them (household_member_save).
    "municipalities.householdmember": {Role.MUNICIPALITY_ADMIN: _VIEW, Role.HEAD: _VIEW},
    "municipalities.auditentry": {Role.MUNICIPALITY_ADMIN: _VIEW, Role.HEAD: _VIEW},
    "municipalities.webhookevent": {Role.MUNICIPALITY_ADMIN: _VIEW},
    "municipalities.talkmessage": {
        Role.MUNICIPALITY_ADMIN: frozenset({"view", "reply"}),
        Role.HEAD: frozenset({"view", "reply"}),
        Role.EDITOR: frozenset({"view", "reply"}),
        Role.VIEWER: _VIEW,
    },
    "municipalities.simulateddelivery": {},
    "municipalities.simulatedrichmenu": {},
    "municipalities.simulatedrichmenulink": {},
    "municipalities.residentlinkuse": {},
}

# Roles a department head may grant. 自治体管理者 is granted by 自治体管理者 (or a superuser) only.
GRANTABLE_BY_HEAD = (Role.HEAD, Role.EDITOR, Role.VIEWER)


def permission_action(codename: str, model_name: str) -> str:
    """ "approve_broadcast" → "approve"; "import_slot" → "import"."""
    suffix = f"_{model_name}"
    return codename[: -len(suffix)] if codename.endswith(suffix) else codename.split("_", 1)[0]


def role_allows(model: type[models.Model], role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action`` on ``model`` at all (ignoring where)."""
    rules = CORE_RULES.get(model._meta.label_lower)
    if rules is None:
        rules = getattr(model, "role_rules", None)
    if rules is not None:
        if role == Role.DISASTER and role not in rules:
            role = Role.EDITOR
        allowed = rules.get(role, frozenset())
        return allowed is ALL or action in allowed
    if role == Role.VIEWER:
        return action in VIEWER_ACTIONS
    if role in (Role.EDITOR, Role.DISASTER):
        return action not in getattr(model, "head_only_actions", DEFAULT_HEAD_ONLY_ACTIONS)
    return True


def project_models() -> Iterable[type[models.Model]]:
    """Every model of the project's apps (the ones the role groups cover)."""
    for label in PROJECT_APPS:
        yield from apps.get_app_config(label).get_models()


def sync_role_groups() -> None:
    """Create the four role groups and give each exactly the permissions the rules allow.

    Runs after every ``migrate`` (post_migrate), so models added later join automatically.
    """
    wanted: dict[str, set[int]] = {role: set() for role in ROLE_GROUP_NAMES}
    for model in project_models():
        ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
        for perm_id, codename in Permission.objects.filter(content_type=ct).values_list("pk", "codename"):
            action = permission_action(codename, model._meta.model_name)
            for role in ROLE_GROUP_NAMES:
                if role_allows(model, role, action):
                    wanted[role].add(perm_id)
    for role, name in ROLE_GROUP_NAMES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(wanted[role])


# --- Per-user role data, cached on the user object for the request ---------------------------


def _roles(user: Any) -> list[StaffRole]:
    cached = getattr(user, "_cms_roles", None)
    if cached is None:
        cached = list(
            StaffRole.objects.filter(user_id=user.pk).only("role", "municipality_id", "department_id")
        )
        user._cms_roles = cached
    return cached


def _role_perms(user: Any) -> dict[str, set[str]]:
    """{role: {"app.codename", …}} for the roles the user holds."""
    cached = getattr(user, "_cms_role_perms", None)
    if cached is None:
        held = {r.role for r in _roles(user)}
        cached = {role: set() for role in held}
        names = {ROLE_GROUP_NAMES[role]: role for role in held}
        rows = Permission.objects.filter(group__name__in=names).values_list(
            "group__name", "content_type__app_label", "codename"
        )
        for group_name, app_label, codename in rows:
            cached[names[group_name]].add(f"{app_label}.{codename}")
        user._cms_role_perms = cached
    return cached


def clear_cache(user: Any) -> None:
    """Forget the roles cached on a user object (after a grant or revoke in the same request)."""
    for attr in ("_cms_roles", "_cms_role_perms", "_perm_cache", "_group_perm_cache"):
        if hasattr(user, attr):
            delattr(user, attr)


def role_permissions(user: Any) -> set[str]:
    """Every "app.codename" any of the user's roles grants, wherever it applies."""
    return set().union(*_role_perms(user).values()) if user.is_active else set()


class Scope:
    """Where a user holds one permission: departments, and towns they administer."""

    def __init__(self, user: Any, perm: str) -> None:
        perms = _role_perms(user)
        roles = [r for r in _roles(user) if perm in perms.get(r.role, ())]
        self.department_ids = {r.department_id for r in roles if r.department_id}
        self.admin_municipality_ids = {r.municipality_id for r in roles if r.role == Role.MUNICIPALITY_ADMIN}
        self.municipality_ids = {r.municipality_id for r in roles}
        self._roles, self._perms = roles, perms
        self.codename = perm.partition(".")[2]

    def _edit_path(self, model: type[models.Model]) -> str | None:
        """``edit_departments_path`` of ``model`` when this scope's action is a write on it."""
        path = getattr(model, "edit_departments_path", None)
        if not path or permission_action(self.codename, model._meta.model_name) in READ_ACTIONS:
            return None
        return path

    def _town_wide_ids(self, model: type[models.Model]) -> set[int] | None:
        """Towns where rows of ``model`` without a department are in scope, for models that declare
        ``town_wide_rows_perm`` (TalkMessage: the general chat belongs to whoever answers residents):
        the towns where a role holding this scope's permission also holds that one. None for other
        models (a row without a department is then 自治体管理者's only)."""
        extra = getattr(model, "town_wide_rows_perm", None)
        if not extra:
            return None
        return {r.municipality_id for r in self._roles if extra in self._perms.get(r.role, ())}

    def q(self, model: type[models.Model]) -> Q:
        """A filter for ``model`` rows inside this scope."""
        dept_path = getattr(model, "department_path", None)
        muni_path = getattr(model, "municipality_path", None)
        if dept_path is None and muni_path is None:
            return Q(pk__in=[])  # not a tenant model: nobody but superusers
        edit_path = self._edit_path(model) if dept_path is None else None
        if edit_path:
            owned = model._default_manager.filter(
                **{
                    _lookup(edit_path, "in"): self.department_ids,
                    _lookup(muni_path, "in"): self.municipality_ids,
                }
            ).values("pk")
            return Q(**{_lookup(muni_path, "in"): self.admin_municipality_ids}) | Q(pk__in=owned)
        if dept_path is None:
            return Q(**{_lookup(muni_path, "in"): self.municipality_ids})
        q = Q(**{_lookup(dept_path, "in"): self.department_ids}) | Q(
            **{_lookup(muni_path, "in"): self.admin_municipality_ids}
        )
        town_wide = self._town_wide_ids(model)
        if town_wide:
            q |= Q(**{_lookup(dept_path, "isnull"): True, _lookup(muni_path, "in"): town_wide})
        return q

    def contains(self, obj: models.Model) -> bool:
        model = type(obj)
        dept_path = getattr(model, "department_path", None)
        muni_path = getattr(model, "municipality_path", None)
        if muni_path is None:
            return False
        municipality_id = walk_id(obj, muni_path)
        edit_path = self._edit_path(model) if dept_path is None else None
        if edit_path:
            return municipality_id in self.admin_municipality_ids or (
                municipality_id in self.municipality_ids and self._edits_through(obj, edit_path)
            )
        if dept_path is None:
            return municipality_id in self.municipality_ids
        department_id = walk_id(obj, dept_path)
        if department_id in self.department_ids or municipality_id in self.admin_municipality_ids:
            return True
        town_wide = self._town_wide_ids(model)
        return department_id is None and bool(town_wide) and municipality_id in town_wide

    def _edits_through(self, obj: models.Model, path: str) -> bool:
        """A department of the user's on ``edit_departments_path`` of ``obj`` (read from the object
        for a path of foreign keys, so an unsaved row counts as it will be saved; from the database
        for a path through many rows)."""
        if _single_valued(type(obj), path):
            return walk_id(obj, path) in self.department_ids
        if obj.pk is None:
            return False
        return (
            type(obj)
            ._default_manager.filter(pk=obj.pk, **{_lookup(path, "in"): self.department_ids})
            .exists()
        )


def _single_valued(model: type[models.Model], path: str) -> bool:
    """Whether ``path`` follows foreign keys only (one value per row)."""
    for hop in path.split("__"):
        field = model._meta.get_field(hop)
        if not (field.is_relation and field.concrete and (field.many_to_one or field.one_to_one)):
            return False
        model = field.related_model
    return True


def _lookup(path: str, op: str) -> str:
    return f"{path}__{op}" if path else f"pk__{op}"


def walk_id(obj: models.Model, path: str) -> Any:
    """The primary key at the end of ``path`` ("slot__menu__department") from ``obj``."""
    if not path:
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


class DepartmentPolicy:
    """Permission policy for one model (Wagtail's interface)."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model

    def _perm(self, action: str) -> str:
        return f"{self.model._meta.app_label}.{action}_{self.model._meta.model_name}"

    def user_has_permission(self, user: Any, action: str) -> bool:
        """Whether the user may perform ``action`` on this model somewhere."""
        if not (user.is_authenticated and user.is_active):
            return False
        if user.is_superuser:
            return True
        return self._perm(action) in role_permissions(user)

    def user_has_permission_for_instance(self, user: Any, action: str, obj: models.Model) -> bool:
        """Whether the user may perform ``action`` on ``obj``: a role granting it where ``obj`` lives.

        Nobody but a superuser changes or revokes their own StaffRole.
        """
        if not (user.is_authenticated and user.is_active):
            return False
        if user.is_superuser:
            return True
        if isinstance(obj, StaffRole) and obj.user_id == user.pk and action != "view":
            return False  # nobody changes their own role
        return Scope(user, self._perm(action)).contains(obj)

    def instances_user_has_permission_for(
        self, user: Any, action: str, queryset: QuerySet | None = None
    ) -> QuerySet:
        """``queryset`` (default: every row) narrowed to the rows the user may ``action``."""
        qs = queryset if queryset is not None else self.model._default_manager.all()
        if not (user.is_authenticated and user.is_active):
            return qs.none()
        if user.is_superuser:
            return qs
        return qs.filter(Scope(user, self._perm(action)).q(self.model))

    def related_choices(
        self, user: Any, action: str, related_model: type[models.Model], queryset: QuerySet
    ) -> QuerySet:
        """Limit a foreign-key choice to rows where the user may ``action`` this model."""
        if user.is_superuser:
            return queryset
        return queryset.filter(Scope(user, self._perm(action)).q(related_model))


def policy_for(model: type[models.Model] | models.Model) -> DepartmentPolicy:
    """The policy of a model (or of an instance's model)."""
    if isinstance(model, models.Model):
        model = type(model)
    return DepartmentPolicy(model)


def departments_for_staff(*, user: Any, perm: str = "municipalities.view_department") -> QuerySet[Department]:
    """Departments in which ``user`` holds ``perm`` ("app.codename"): the one answer to "where may
    this staff member do P" for forms, pages and selectors (every department for a superuser)."""
    qs = Department.objects.select_related("municipality")
    if not (user.is_authenticated and user.is_active):
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(Scope(user, perm).q(Department))


def towns_for_staff(*, user: Any, perm: str) -> QuerySet[Municipality]:
    """Towns in which ``user`` holds ``perm`` through any role (every town for a superuser): for
    pages about a town as a whole (rich menus, 災害モード, shelters)."""
    if not (user.is_authenticated and user.is_active):
        return Municipality.objects.none()
    if user.is_superuser:
        return Municipality.objects.all()
    return Municipality.objects.filter(pk__in=Scope(user, perm).municipality_ids)


def require(
    user: Any,
    action: str,
    obj: models.Model,
    *,
    error: type[ServiceError],
    message: str | None = None,
) -> None:
    """Services call this when ``actor`` is given:
    ``require(actor, "approve", broadcast, error=BroadcastError)``.

    A refusal raises the app's ``error`` (code "permission_denied") with ``message``, or a
    general Japanese one, so a service never lets ``PermissionDenied`` escape (STYLE R2).
    """
    if not policy_for(obj).user_has_permission_for_instance(user, action, obj):
        raise error(message or _("この操作を行う権限がありません。"), code="permission_denied")


def require_save(
    user: Any, obj: models.Model, *, created: bool, error: type[ServiceError], message: str | None = None
) -> None:
    """The user may save ``obj``: change the row as stored (an edit cannot take over another
    department's row) and add/change it as it will be saved (a foreign key cannot move it out of
    the user's reach). Raises ``error`` as ``require`` does."""
    if not created:
        model = type(obj)
        owner_hops = getattr(model, "municipality_path", "").rpartition("__")[0]
        stored = model._default_manager.select_related(*([owner_hops] if owner_hops else []))
        require(user, "change", stored.get(pk=obj.pk), error=error, message=message)
    require(user, "add" if created else "change", obj, error=error, message=message)
