"""The one admin mixin that enforces tenancy (ARCHITECTURE "Boundaries", STYLE R8/R9).

Every admin class of the project inherits ``DepartmentScopedAdmin``. It scopes the changelist
to what the staff user may see, decides view/add/change/delete per object with the policy in
permissions.py, limits foreign-key choices the same way, and routes saves and deletes through
services in one transaction with an audit row. No admin class re-implements any of this.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from municipalities.errors import ServiceError
from municipalities.models import AuditEntry
from municipalities.permissions import DepartmentPolicy, policy_for


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
        # A plain foreign-key filter would list every town's departments; scope its choices.
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                try:
                    field = self.model._meta.get_field(entry)
                except FieldDoesNotExist:
                    field = None
                if field is not None and field.is_relation and is_tenant_model(field.related_model):
                    entry = (entry, ScopedRelatedFieldListFilter)
            scoped.append(entry)
        return scoped

    # --- foreign-key choices --------------------------------------------------------------

    def _choice_action(self, request: HttpRequest) -> str:
        match = getattr(request, "resolver_match", None)
        return "add" if match and match.url_name and match.url_name.endswith("_add") else "change"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.remote_field.model
        if is_tenant_model(related):
            qs = kwargs["queryset"] if "queryset" in kwargs else self._related_queryset(db_field, request)
            kwargs["queryset"] = self.policy.related_choices(
                request.user, self._choice_action(request), related, qs
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.remote_field.model
        if is_tenant_model(related):
            qs = kwargs["queryset"] if "queryset" in kwargs else self._related_queryset(db_field, request)
            kwargs["queryset"] = self.policy.related_choices(
                request.user, self._choice_action(request), related, qs
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _related_queryset(self, db_field: Any, request: HttpRequest) -> models.QuerySet:
        # The related admin's ordering, as Django's own formfield_for_foreignkey would use.
        qs = self.get_field_queryset(None, db_field, request)
        return qs if qs is not None else db_field.remote_field.model._default_manager.all()

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
        from municipalities.services import admin_object_save

        return admin_object_save(
            obj=obj, form=form, formsets=formsets, created=not change, actor=request.user
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        from municipalities.services import admin_object_delete

        admin_object_delete(obj=obj, actor=request.user)

    # --- history: the audit log of the object ---------------------------------------------

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_or_change_permission(request, obj):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        from django.contrib.contenttypes.models import ContentType

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
