"""Admin of the town itself: the municipality (its LINE channel), departments, interests, areas."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from municipalities.fields import mask_secret
from municipalities.line import quota
from municipalities.models import (
    Area,
    Department,
    Interest,
    Municipality,
)
from municipalities.scoping import DepartmentScopedAdmin
from municipalities.services import (
    department_create,
    municipality_create_or_update,
    municipality_update,
)

# The request, for webhook_url() (admin instances are shared between requests).
_current_request: ContextVar[HttpRequest | None] = ContextVar("cms_admin_request", default=None)


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
    new_stripe_secret_key = forms.CharField(
        label=_("Stripe シークレットキー（変更するときだけ入力）"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    new_stripe_webhook_secret = forms.CharField(
        label=_("Stripe Webhook 署名シークレット（変更するときだけ入力）"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    stripe_payment_methods = forms.MultipleChoiceField(
        label=_("Stripe で受け付ける支払手段"),
        required=False,
        choices=[("card", _("クレジットカード")), ("konbini", _("コンビニ払い")), ("paypay", _("PayPay"))],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Stripe アカウントで有効にしている支払手段だけを選んでください。"),
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
            "garbage_collection_time",
            "office_hours",
            "handoff_notify_email",
            "handoff_pause_minutes",
            "monthly_push_budget",
            "stripe_payment_methods",
        ]


@admin.register(Municipality)
class MunicipalityAdmin(DepartmentScopedAdmin):
    form = MunicipalityForm
    list_display = ["name", "slug", "prefecture", "line_channel_id", "require_two_factor"]
    search_fields = ["name", "slug"]
    readonly_fields = [
        "webhook_url",
        "channel_secret_masked",
        "channel_access_token_masked",
        "stripe_webhook_url",
        "stripe_secret_key_masked",
        "push_usage",
    ]

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
                        "monthly_push_budget",
                        "push_usage",
                    ]
                },
            ),
            (
                _("オンライン決済（Stripe）"),
                {
                    "fields": [
                        "stripe_webhook_url",
                        "stripe_secret_key_masked",
                        "new_stripe_secret_key",
                        "new_stripe_webhook_secret",
                        "stripe_payment_methods",
                    ]
                },
            ),
            (
                _("チャットボットと職員対応"),
                {
                    "fields": [
                        "garbage_collection_time",
                        "office_hours",
                        "handoff_notify_email",
                        "handoff_pause_minutes",
                    ]
                },
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            fields.append("slug")
        return fields

    @admin.display(description=_("今月の送信数"))
    def push_usage(self, obj: Municipality) -> str:
        if not obj.pk:
            return "-"
        used = quota.used_this_month(obj)
        if used is None:
            return _("LINE から取得できませんでした。")
        if obj.monthly_push_budget:
            return _("%(used)s 通 / 上限 %(budget)s 通") % {
                "used": f"{used:,}",
                "budget": f"{obj.monthly_push_budget:,}",
            }
        return _("%(used)s 通（上限の設定なし）") % {"used": f"{used:,}"}

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

    @admin.display(description=_("Stripe の Webhook URL"))
    def stripe_webhook_url(self, obj: Municipality) -> str:
        if not obj.pk:
            return _("保存すると表示されます。")
        path = reverse("payments:stripe_webhook", kwargs={"slug": obj.slug})
        return format_html(
            '<code>{}</code><div class="help">{}</div>',
            f"{settings.SITE_URL}{path}" if settings.SITE_URL else path,
            _("Stripe ダッシュボードの Webhook に、checkout.session の各イベントを送る先として登録します。"),
        )

    @admin.display(description=_("Stripe シークレットキー"))
    def stripe_secret_key_masked(self, obj: Municipality) -> str:
        return mask_secret(obj.stripe_secret_key) or _("未設定")

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
        for secret in ("stripe_secret_key", "stripe_webhook_secret"):
            if form.cleaned_data.get(f"new_{secret}"):
                data[secret] = form.cleaned_data[f"new_{secret}"]
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
