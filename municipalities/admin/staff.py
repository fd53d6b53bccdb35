"""Admin of staff: accounts, their roles per department, two-factor reset."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from municipalities import permissions
from municipalities.errors import ServiceError
from municipalities.models import (
    Role,
    StaffRole,
    StaffUser,
)
from municipalities.scoping import DepartmentScopedAdmin, ScopedTabularInline
from municipalities.services import (
    staff_role_grant,
    staff_role_revoke,
    staff_user_save,
    staff_user_set_password,
    staff_user_unlock,
)
from municipalities.two_factor.services import two_factor_reset


class StaffRoleInline(ScopedTabularInline):
    model = StaffRole
    fk_name = "user"
    extra = 0
    fields = ["department", "role", "granted_by", "created_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("役割（付与と取消は「職員の役割」から）")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The request, for StaffPasswordChangeForm.save() (admin instances are shared between requests).
_current_request: ContextVar[HttpRequest | None] = ContextVar("cms_staff_admin_request", default=None)


def _check_operator_has_no_town(form: forms.ModelForm, data: dict[str, Any]) -> None:
    """A system operator (superuser) belongs to no town (the database CHECK says so too)."""
    is_superuser = data["is_superuser"] if "is_superuser" in data else form.instance.is_superuser
    municipality = data["municipality"] if "municipality" in data else form.instance.municipality
    if is_superuser and municipality is not None:
        form.add_error(
            "municipality" if "municipality" in form.fields else None,
            _("システム運用者（スーパーユーザー）は自治体に所属させません。所属自治体を空にしてください。"),
        )


class StaffUserCreationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = StaffUser
        fields = ["username", "last_name", "first_name", "email", "municipality"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _check_operator_has_no_town(self, data)
        return data


class StaffUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = StaffUser
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _check_operator_has_no_town(self, data)
        return data


class StaffPasswordChangeForm(AdminPasswordChangeForm):
    """Django's password form, saved through ``staff_user_set_password`` (checked, audited)."""

    def save(self, commit: bool = True) -> StaffUser:
        request = _current_request.get()
        usable = self.cleaned_data.get("set_usable_password", True)
        return staff_user_set_password(
            user=self.user,
            password=self.cleaned_data["password1"] if usable else None,
            actor=request.user if request is not None else None,
        )


@admin.register(StaffUser)
class StaffUserAdmin(DepartmentScopedAdmin, UserAdmin):
    add_form = StaffUserCreationForm
    form = StaffUserChangeForm
    change_password_form = StaffPasswordChangeForm
    list_display = ["username", "last_name", "first_name", "municipality", "is_active", "last_login"]
    list_select_related = ["municipality"]
    list_filter = ["municipality", "is_active"]
    search_fields = ["username", "last_name", "first_name", "email"]
    inlines = [StaffRoleInline]
    readonly_fields = ["last_login", "date_joined"]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": [
                    "username",
                    "last_name",
                    "first_name",
                    "email",
                    "municipality",
                    "password1",
                    "password2",
                ],
            },
        )
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        fieldsets = [
            (None, {"fields": ["username", "password"]}),
            (_("氏名・連絡先"), {"fields": ["last_name", "first_name", "email", "line_user_id"]}),
            (_("所属と状態"), {"fields": ["municipality", "is_active", "last_login", "date_joined"]}),
        ]
        if request.user.is_superuser:
            fieldsets.append((_("システム運用"), {"fields": ["is_staff", "is_superuser"]}))
        return fieldsets

    actions = ["reset_two_factor", "unlock_sign_in"]

    def get_queryset(self, request: HttpRequest) -> Any:
        qs = super().get_queryset(request).select_related("municipality")
        if not request.user.is_superuser:
            # System operators are nobody's staff: a town's 自治体管理者 never sees them.
            qs = qs.filter(is_superuser=False)
        return qs

    @method_decorator(sensitive_post_parameters())
    @method_decorator(csrf_protect)
    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        # UserAdmin.add_view wraps the view in transaction.atomic(); the save service is the
        # (durable) transaction itself (STYLE R3), so the view must not open an outer one.
        return self._add_view(request, form_url, extra_context)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        token = _current_request.set(request)  # for StaffPasswordChangeForm.save()
        try:
            return super().user_change_password(request, id, form_url)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        finally:
            _current_request.reset(token)

    def save_with_service(
        self, request: HttpRequest, obj: StaffUser, form: Any, formsets: Any, change: bool
    ) -> Any:
        return staff_user_save(user=obj, form=form, formsets=formsets, created=not change, actor=request.user)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        field = form.base_fields.get("municipality")
        if field is not None and not request.user.is_superuser:
            # Only system operators are without a town; nobody else may create one.
            field.required = True
            field.empty_label = None
        return form

    def has_reset_two_factor_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "change", obj)

    def has_unlock_sign_in_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "change", obj)

    def _each_user(self, request: HttpRequest, queryset: Any, service: Any, done: str) -> None:
        self.run_service_per_row(request, queryset, lambda user: service(user=user, actor=request.user), done)

    @admin.action(
        description=_("二段階認証をリセットする（スマートフォンの紛失・機種変更）"),
        permissions=["reset_two_factor"],
    )
    def reset_two_factor(self, request: HttpRequest, queryset: Any) -> None:
        self._each_user(request, queryset, two_factor_reset, _("%(n)d 人の二段階認証をリセットしました。"))

    @admin.action(description=_("ログイン制限を解除する"), permissions=["unlock_sign_in"])
    def unlock_sign_in(self, request: HttpRequest, queryset: Any) -> None:
        self._each_user(request, queryset, staff_user_unlock, _("%(n)d 人のログイン制限を解除しました。"))


class StaffRoleForm(forms.ModelForm):
    class Meta:
        model = StaffRole
        fields = ["user", "department", "role"]

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        actor = request.user if request else None
        if "user" in self.fields and actor is not None:
            # Nobody grants themselves a role, and system operators hold none.
            self.fields["user"].queryset = (
                self.fields["user"].queryset.exclude(pk=actor.pk).exclude(is_superuser=True)
            )
        if "department" in self.fields and self.instance.pk is None:
            departments = list(self.fields["department"].queryset[:2])
            if len(departments) == 1:  # a head grants in their one department: preselect it
                self.initial.setdefault("department", departments[0].pk)
        if "role" in self.fields and actor is not None and not actor.is_superuser:
            scope = permissions.Scope(actor, "municipalities.add_staffrole")
            if not scope.admin_municipality_ids:
                self.fields["role"].choices = [
                    (value, label)
                    for value, label in self.fields["role"].choices
                    if value in permissions.GRANTABLE_BY_HEAD or value == ""
                ]

    def add_error(self, field: str | None, error: Any) -> None:
        # On the change form the department is read-only (not a form field).
        super().add_error(field if field is None or field in self.fields else None, error)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        role = data.get("role")
        department = (
            data["department"] if "department" in data else getattr(self.instance, "department", None)
        )
        if role == Role.MUNICIPALITY_ADMIN and department is not None:
            self.add_error("department", _("自治体管理者は課を指定せずに付与します。"))
        if role and role != Role.MUNICIPALITY_ADMIN and department is None:
            self.add_error("department", _("課を選んでください。"))
        user = data.get("user") or getattr(self.instance, "user", None)
        if user is not None and department is not None and user.municipality_id != department.municipality_id:
            self.add_error("department", _("職員の所属自治体と課の自治体が一致しません。"))
        return data

    def _post_clean(self) -> None:
        # The row is built by staff_role_grant(); its municipality comes from the user.
        user = self.cleaned_data.get("user") or getattr(self.instance, "user", None)
        if user is not None and user.municipality_id:
            self.instance.municipality_id = user.municipality_id
        super()._post_clean()


@admin.register(StaffRole)
class StaffRoleAdmin(DepartmentScopedAdmin):
    form = StaffRoleForm
    list_display = ["user", "role", "department", "municipality", "granted_by", "created_at"]
    list_select_related = ["user", "department", "municipality", "granted_by"]
    list_filter = ["role", "department"]
    search_fields = ["user__username", "user__last_name", "user__first_name"]
    autocomplete_fields: list[str] = []

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)

        class RequestForm(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, request=request, **kw)

        return RequestForm

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["user", "department"] if obj is not None else []

    def save_with_service(
        self, request: HttpRequest, obj: StaffRole, form: Any, formsets: Any, change: bool
    ) -> Any:
        return staff_role_grant(user=obj.user, role=obj.role, department=obj.department, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: StaffRole) -> None:
        staff_role_revoke(staff_role=obj, actor=request.user)
