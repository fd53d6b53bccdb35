"""Admin of the core app: municipalities, departments, staff, roles, residents, logs."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities import permissions
from municipalities.audit import action_label, data_lines
from municipalities.errors import ServiceError
from municipalities.fields import mask_secret
from municipalities.models import (
    Area,
    AuditEntry,
    Department,
    Interest,
    Municipality,
    Resident,
    Role,
    StaffRole,
    StaffUser,
    TalkMessage,
    WebhookEvent,
)
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin, ScopedTabularInline
from municipalities.services import (
    department_create,
    municipality_create_or_update,
    municipality_update,
    resident_update_preferences,
    staff_role_grant,
    staff_role_revoke,
    staff_user_save,
    staff_user_set_password,
    staff_user_unlock,
)
from municipalities.two_factor.services import two_factor_reset

_current_request: ContextVar[HttpRequest | None] = ContextVar("cms_admin_request", default=None)

__all__ = ["DepartmentScopedAdmin", "ReadOnlyAdminMixin"]

# Role groups are kept in sync with the rules in permissions.py; nobody edits them by hand.
admin.site.unregister(Group)
# TOTP devices are enrolled by each staff member (two_factor) and reset with an action on the
# staff list; django-otp's own admin would show every device's secret key.
admin.site.unregister(TOTPDevice)


class MunicipalityForm(forms.ModelForm):
    new_channel_secret = forms.CharField(
        label=_("チャネルシークレット（変更するときだけ入力）"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    new_channel_access_token = forms.CharField(
        label=_("チャネルアクセストークン（変更するときだけ入力）"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = Municipality
        fields = [
            "name",
            "slug",
            "prefecture",
            "line_channel_id",
            "liff_id",
            "require_two_factor",
            "talk_log_retention_days",
            "follow_greeting",
            "broadcast_needs_second_approver",
        ]


@admin.register(Municipality)
class MunicipalityAdmin(DepartmentScopedAdmin):
    form = MunicipalityForm
    list_display = ["name", "slug", "prefecture", "line_channel_id", "require_two_factor"]
    search_fields = ["name", "slug"]
    readonly_fields = ["webhook_url", "channel_secret_masked", "channel_access_token_masked"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            (None, {"fields": ["name", "slug", "prefecture"]}),
            (
                _("LINE チャネル"),
                {
                    "fields": [
                        "webhook_url",
                        "line_channel_id",
                        "channel_secret_masked",
                        "new_channel_secret",
                        "channel_access_token_masked",
                        "new_channel_access_token",
                        "liff_id",
                        "follow_greeting",
                    ]
                },
            ),
            (
                _("運用"),
                {
                    "fields": [
                        "require_two_factor",
                        "talk_log_retention_days",
                        "broadcast_needs_second_approver",
                    ]
                },
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            fields.append("slug")
        return fields

    @admin.display(description=_("Webhook URL"))
    def webhook_url(self, obj: Municipality) -> str:
        if not obj.pk:
            return _("保存すると表示されます。")
        path = reverse("line:webhook", kwargs={"slug": obj.slug})
        request = _current_request.get()
        url = (
            f"{settings.SITE_URL}{path}"
            if settings.SITE_URL
            else (request.build_absolute_uri(path) if request else path)
        )
        return format_html(
            '<div class="cms-copy-row"><code id="webhook-url">{}</code>'
            '<button type="button" class="button" data-copy-target="webhook-url">{}</button></div>'
            '<div class="help">{}</div>',
            url,
            _("コピー"),
            _("LINE Developers コンソールの「Webhook URL」に貼り付けてください。"),
        )

    @admin.display(description=_("チャネルシークレット"))
    def channel_secret_masked(self, obj: Municipality) -> str:
        return mask_secret(obj.channel_secret) or _("未設定")

    @admin.display(description=_("チャネルアクセストークン"))
    def channel_access_token_masked(self, obj: Municipality) -> str:
        return mask_secret(obj.channel_access_token) or _("未設定")

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        token = _current_request.set(request)  # for webhook_url(); admin instances are shared
        try:
            response = super().changeform_view(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()  # while the request is known to webhook_url()
            return response
        finally:
            _current_request.reset(token)

    class Media:
        js = ["cms/admin/copy.js"]

    def save_with_service(
        self, request: HttpRequest, obj: Municipality, form: Any, formsets: Any, change: bool
    ) -> Any:
        data = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in MunicipalityForm.Meta.fields
        }
        if form.cleaned_data.get("new_channel_secret"):
            data["channel_secret"] = form.cleaned_data["new_channel_secret"]
        if form.cleaned_data.get("new_channel_access_token"):
            data["channel_access_token"] = form.cleaned_data["new_channel_access_token"]
        if not change:
            municipality, _created = municipality_create_or_update(
                slug=obj.slug,
                name=obj.name,
                prefecture=obj.prefecture,
                channel_id=obj.line_channel_id,
                channel_secret=data.pop("channel_secret", ""),
                channel_access_token=data.pop("channel_access_token", ""),
                settings_data={
                    k: v
                    for k, v in data.items()
                    if k not in {"slug", "name", "prefecture", "line_channel_id"}
                },
                actor=request.user,
            )
            return municipality
        return municipality_update(municipality=obj, actor=request.user, data=data)


@admin.register(Department)
class DepartmentAdmin(DepartmentScopedAdmin):
    list_display = ["name", "code", "municipality", "sort_order"]
    list_select_related = ["municipality"]
    list_filter = ["municipality"]
    search_fields = ["name", "code"]

    def save_with_service(
        self, request: HttpRequest, obj: Department, form: Any, formsets: Any, change: bool
    ) -> Any:
        if change:
            return super().save_with_service(request, obj, form, formsets, change)
        return department_create(
            municipality=obj.municipality,
            code=obj.code,
            name=obj.name,
            sort_order=obj.sort_order,
            actor=request.user,
        )


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


@admin.register(Interest)
class InterestAdmin(DepartmentScopedAdmin):
    list_display = ["name", "code", "municipality", "sort_order"]
    list_select_related = ["municipality"]
    list_filter = ["municipality"]
    search_fields = ["name", "code"]


@admin.register(Area)
class AreaAdmin(DepartmentScopedAdmin):
    list_display = ["name", "kana", "municipality", "sort_order"]
    list_select_related = ["municipality"]
    list_filter = ["municipality"]
    search_fields = ["name", "kana"]


@admin.register(Resident)
class ResidentAdmin(DepartmentScopedAdmin):
    list_display = ["__str__", "area", "age_band", "is_following", "followed_at", "unfollowed_at"]
    list_select_related = ["area"]
    list_filter = ["is_following", "notices_paused", "age_band", "area"]
    search_fields = ["display_name", "line_user_id"]
    # What LINE tells about the friend is shown, never edited; staff set the rest.
    readonly_fields = [
        "municipality",
        "display_name",
        "line_user_id",
        "is_following",
        "followed_at",
        "unfollowed_at",
    ]
    fields = [*readonly_fields, "area", "age_band", "interests", "notices_paused"]
    filter_horizontal = ["interests"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # residents come from LINE (follow events)

    def save_with_service(
        self, request: HttpRequest, obj: Resident, form: Any, formsets: Any, change: bool
    ) -> Any:
        data = form.cleaned_data
        return resident_update_preferences(
            resident=obj,
            interests=data["interests"] if "interests" in data else None,
            area=data["area"] if "area" in data else False,
            age_band=data.get("age_band"),
            notices_paused=data.get("notices_paused"),
            actor=request.user,
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """The audit log: read-only; each object's own entries are also its 「履歴」 page."""

    list_display = ["created_at", "actor_label", "action_display", "object_repr", "department"]
    list_select_related = ["department"]
    list_filter = ["action", "department"]
    search_fields = ["object_repr", "actor_label", "action"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "municipality",
        "department",
        "actor_label",
        "action_display",
        "content_type",
        "object_link",
        "data_display",
    ]
    readonly_fields = fields

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        entry = self.get_object(request, object_id)
        if entry is not None:  # "職員の役割: 役割を付与 – newcomer（健康福祉課・編集者）", not the raw code
            extra_context = {
                "subtitle": f"{action_label(entry.action)} – {entry.object_repr}",
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("操作"), ordering="action")
    def action_display(self, obj: AuditEntry) -> str:
        return action_label(obj.action)

    @admin.display(description=_("対象"))
    def object_link(self, obj: AuditEntry) -> str:
        # The link opens the object only for those who may see it (the admin checks).
        model = obj.content_type.model_class()
        if model is not None and model in self.admin_site._registry:
            url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.object_id]
            )
            return format_html('<a href="{}">{}</a>', url, obj.object_repr)
        return obj.object_repr

    @admin.display(description=_("内容"))
    def data_display(self, obj: AuditEntry) -> str:
        lines = data_lines(obj)
        if not lines:
            return "—"
        return format_html_join("", "<div><strong>{}</strong>: {}</div>", lines)


@admin.register(TalkMessage)
class TalkMessageAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    list_display = ["created_at", "resident", "direction", "kind", "text", "sent_by"]
    list_select_related = ["resident", "sent_by"]
    list_filter = ["direction", "kind"]
    search_fields = ["text", "resident__display_name"]
    date_hierarchy = "created_at"
    fields = ["created_at", "municipality", "resident", "direction", "kind", "text", "payload", "sent_by"]
    readonly_fields = fields


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    list_display = [
        "created_at",
        "municipality",
        "event_type",
        "mode",
        "status",
        "line_user_id",
        "is_redelivery",
    ]
    list_select_related = ["municipality"]
    list_filter = ["event_type", "status", "mode"]
    search_fields = ["webhook_event_id", "line_user_id"]
    fields = [
        "created_at",
        "municipality",
        "webhook_event_id",
        "event_type",
        "mode",
        "is_redelivery",
        "line_user_id",
        "occurred_at",
        "status",
        "processed_at",
        "error",
        "payload",
    ]
    readonly_fields = fields
