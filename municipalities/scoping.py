"""The one admin mixin that enforces tenancy (ARCHITECTURE "Boundaries", STYLE R8/R9).

Every admin class of the project inherits ``DepartmentScopedAdmin``. It scopes the changelist
to what the staff user may see, decides view/add/change/delete per object with the policy in
permissions.py, limits foreign-key choices the same way, and routes saves and deletes through
services in one transaction with an audit row. No admin class re-implements any of this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from municipalities import services
from municipalities.errors import ServiceError
from municipalities.models import AuditEntry
from municipalities.permissions import DepartmentPolicy, policy_for, walk_id


def is_tenant_model(model: type[models.Model]) -> bool:
    return getattr(model, "municipality_path", None) is not None


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """The related-object filter of the changelist, offering only rows the user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        related = field.related_model
        qs = related._default_manager.all()
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            qs = qs.order_by(*ordering)
        qs = model_admin.policy.related_choices(request.user, "view", related, qs)
        return [(obj.pk, str(obj)) for obj in qs]


class _ScopedChoicesMixin:
    """Narrows the choices of any RelatedFieldListFilter subclass declared as
    ``(field, SomeFilter)`` to the rows the user may see (the subclass builds them its way)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        choices = super().field_choices(field, request, model_admin)  # type: ignore[misc]
        related = field.related_model
        allowed = set(
            model_admin.policy.related_choices(
                request.user, "view", related, related._default_manager.all()
            ).values_list("pk", flat=True)
        )
        return [choice for choice in choices if choice[0] in allowed]


_scoped_filter_classes: dict[type, type] = {}


def scoped_filter_class(filter_class: type) -> type:
    """``filter_class`` (a RelatedFieldListFilter) with its choices scoped; cached per class."""
    if issubclass(filter_class, ScopedRelatedFieldListFilter | _ScopedChoicesMixin):
        return filter_class
    if filter_class is admin.RelatedFieldListFilter:
        return ScopedRelatedFieldListFilter
    if filter_class not in _scoped_filter_classes:
        _scoped_filter_classes[filter_class] = type(
            f"Scoped{filter_class.__name__}", (_ScopedChoicesMixin, filter_class), {}
        )
    return _scoped_filter_classes[filter_class]


def related_field_of_path(model: type[models.Model], path: str) -> Any:
    """The last field of a list-filter path ("submission__form__department"), or None."""
    try:
        field = get_fields_from_path(model, path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return None
    return field if getattr(field, "is_relation", False) else None


def limit_related_choices(
    model_admin: Any,
    policy: DepartmentPolicy,
    action: str,
    db_field: Any,
    request: HttpRequest,
    kwargs: dict[str, Any],
) -> None:
    """Narrow the choices of a foreign-key or many-to-many form field (``kwargs["queryset"]``) to
    the rows where the user may ``action`` the model of ``policy``; for admins and inlines alike.
    Without a queryset given, the related admin's (its ordering), as Django's own would use."""
    related = db_field.remote_field.model
    if not is_tenant_model(related):
        return
    qs = kwargs.get("queryset")
    if qs is None:
        qs = model_admin.get_field_queryset(None, db_field, request)
    if qs is None:
        qs = related._default_manager.all()
    kwargs["queryset"] = policy.related_choices(request.user, action, related, qs)


class ReadOnlyAdminMixin:
    """For logs: visible to those allowed, never added, changed or deleted from the admin.

    Put it before ``DepartmentScopedAdmin`` in the bases. The permission-matrix test expects
    nobody (not even a superuser) to change or delete the rows of an admin built on it.
    """

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DepartmentScopedAdmin(admin.ModelAdmin):
    """Scopes querysets, object permissions and foreign-key choices to the user's roles.

    Saves go through ``save_with_service()`` (default: ``admin_object_save``, which audits);
    models with their own services override it. Django wraps the change and delete views in
    ``transaction.atomic()``; this mixin does not, because each service opens its own durable
    transaction (STYLE R3) and must be the outermost one.
    """

    # Admin actions are services; QuerySet.delete() would skip them.
    actions_without_delete = True
    # A link typed without a scheme is https (LINE opens https links only; Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @property
    def policy(self) -> DepartmentPolicy:
        return policy_for(self.model)

    # --- what the user sees ---------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = super().get_queryset(request)
        return self.policy.instances_user_has_permission_for(request.user, "view", qs)

    def has_action_permission(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        if obj is None:
            return self.policy.user_has_permission(request.user, action)
        return self.policy.user_has_permission_for_instance(request.user, action, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "view", obj) or self.has_action_permission(
            request, "change", obj
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_action_permission(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "delete", obj)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_action_permission(request, "import")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_action_permission(request, "export")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if self.actions_without_delete:
            actions.pop("delete_selected", None)
        return actions

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        # A plain relation filter would list every town's departments and forms; scope its
        # choices, for any path ("form__department", "submission__form") and for filters
        # declared as (path, SomeRelatedFieldListFilter).
        scoped = []
        for entry in super().get_list_filter(request):
            path, filter_class = (
                (entry, admin.RelatedFieldListFilter) if isinstance(entry, str) else (None, None)
            )
            if isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], str):
                path, filter_class = entry
            field = related_field_of_path(self.model, path) if path else None
            if (
                field is not None
                and is_tenant_model(field.related_model)
                and isinstance(filter_class, type)
                and issubclass(filter_class, admin.RelatedFieldListFilter)
            ):
                entry = (path, scoped_filter_class(filter_class))
            scoped.append(entry)
        return scoped

    # --- admin actions: one service call per selected row -------------------------------

    def run_service_per_row(
        self,
        request: HttpRequest,
        queryset: models.QuerySet,
        service: Callable[[Any], object],
        done_message: str,
        *,
        select_related: Sequence[str] = (),
        label: Callable[[Any], str] = str,
    ) -> int:
        """Run ``service(row)`` for each selected row and report; returns how many were done.

        The one runner of every admin action (STYLE R9). Each call is its own transaction: the
        services are ``atomic(durable=True)`` and this runs outside any outer atomic block, so a
        row done stays done when a later row is refused. A refusal is a ``ServiceError`` (the
        services turn a policy refusal or an invalid value into their app's error), reported
        as one ERROR line per row, "<label(row)>: <reason>"; the rows done are reported in one
        success line, ``done_message % {"n": done}``. Nothing ends in a bare 403.
        """
        done, refused = 0, []
        rows = queryset.select_related(*select_related) if select_related else queryset
        for row in rows:
            try:
                service(row)
            except ServiceError as exc:
                refused.append(f"{label(row)}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"n": done}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)
        return done

    # --- foreign-key choices --------------------------------------------------------------

    def _choice_action(self, request: HttpRequest) -> str:
        match = getattr(request, "resolver_match", None)
        return "add" if match and match.url_name and match.url_name.endswith("_add") else "change"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        limit_related_choices(self, self.policy, self._choice_action(request), db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        limit_related_choices(self, self.policy, self._choice_action(request), db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- writes through services ----------------------------------------------------------

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            if request.method == "POST" and not hasattr(request, "service_refusal"):
                # The service refused the save and wrote nothing: the form again, with what the
                # staff member typed and the reason at its top, as for any invalid form.
                request.service_refusal = exc.message  # type: ignore[attr-defined]
                for _name, files in request.FILES.lists():
                    for upload in files:
                        upload.seek(0)
                return self._changeform_view(request, object_id, form_url, extra_context)
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_form(self, request: HttpRequest, obj: Any = None, *args: Any, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, *args, **kwargs)
        refusal = getattr(request, "service_refusal", None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                super().clean()
                raise ValidationError(refusal)

        return RefusedForm

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return self._delete_view(request, object_id, extra_context)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        # Saved together with its relations in save_related(), in one service call.
        pass

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool) -> None:
        saved = self.save_with_service(request, form.instance, form, formsets, change)
        if saved is not None and saved is not form.instance:
            form.instance.pk = saved.pk

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: ModelForm, formsets: Any, change: bool
    ) -> Any:
        return services.admin_object_save(
            obj=obj, form=form, formsets=formsets, created=not change, actor=request.user
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.admin_object_delete(obj=obj, actor=request.user)

    # --- history: the audit log of the object ---------------------------------------------

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_or_change_permission(request, obj):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        limit = 200
        entries = list(
            AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
                object_id=str(obj.pk),
            ).select_related("content_type")[: limit + 1]
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("操作履歴: %(obj)s") % {"obj": obj},
            "subtitle": None,
            "entries": entries[:limit],
            "truncated": len(entries) > limit,
            "module_name": str(self.opts.verbose_name_plural),
            "object": obj,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/audit_history.html", context)


# --- inlines ------------------------------------------------------------------------------------


class ScopedInline(admin.options.InlineModelAdmin):
    """The one base of every admin inline: the tenancy mixin's rules for the rows of a parent.

    Rows are listed only where the user may see them; adding, changing and deleting rows is
    allowed when the user may change the parent object (its department, through the policy)
    and holds the row model's permission; foreign-key and many-to-many choices are limited
    with ``policy.related_choices``; a new row takes its tenant (``municipality`` /
    ``department``) from the parent, so it never reaches the database without one. The save
    service checks every row again (``require_formset_rows``). Use ``ScopedTabularInline`` or
    ``ScopedStackedInline``; subclasses narrow the permissions further with ``and super()``.
    """

    def _row_policy(self) -> DepartmentPolicy:
        return policy_for(self.model)

    def _parent_allows(self, request: HttpRequest, action: str, obj: Any) -> bool:
        parent_policy = policy_for(self.parent_model)
        if obj is None:
            return parent_policy.user_has_permission(request.user, action)
        return parent_policy.user_has_permission_for_instance(request.user, action, obj)

    def _may_edit(self, request: HttpRequest, action: str, obj: Any) -> bool:
        # Editing a parent's rows is changing the parent (adding it, on the add page).
        parent_action = "add" if obj is None or obj.pk is None else "change"
        return self._parent_allows(request, parent_action, obj) and self._row_policy().user_has_permission(
            request.user, action
        )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = super().get_queryset(request)
        return self._row_policy().instances_user_has_permission_for(request.user, "view", qs)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_allows(request, "view", obj) or self._parent_allows(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, "delete", obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        limit_related_choices(self, self._row_policy(), "change", db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        limit_related_choices(self, self._row_policy(), "change", db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset_class = super().get_formset(request, obj, **kwargs)
        return type(formset_class.__name__, (TenantFromParentFormSetMixin, formset_class), {})


def set_tenant_from_parent(row: models.Model, parent: models.Model) -> None:
    """Give a new inline row the municipality / department of its parent (when the row model
    has such a foreign key of its own)."""
    parent_model = type(parent)
    for name, parent_path in (
        ("municipality", getattr(parent_model, "municipality_path", None)),
        ("department", getattr(parent_model, "department_path", None)),
    ):
        if parent_path is None:
            continue
        try:
            field = type(row)._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if not field.is_relation or getattr(row, field.attname) is not None:
            continue
        value = walk_id(parent, parent_path)
        if value is not None:
            setattr(row, field.attname, value)


class TenantFromParentFormSetMixin:
    """Inline formset whose new rows get their tenant from the parent (before validation, so
    the model's own checks see it, and again when saved)."""

    def _construct_form(self, i: int, **kwargs: Any) -> Any:
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        if form.instance.pk is None:
            set_tenant_from_parent(form.instance, self.instance)  # type: ignore[attr-defined]
        return form

    def save_new(self, form: Any, commit: bool = True) -> Any:
        set_tenant_from_parent(form.instance, self.instance)  # type: ignore[attr-defined]
        return super().save_new(form, commit)  # type: ignore[misc]


class ScopedTabularInline(ScopedInline):
    template = "admin/edit_inline/tabular.html"


class ScopedStackedInline(ScopedInline):
    template = "admin/edit_inline/stacked.html"
