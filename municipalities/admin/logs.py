"""Read-only logs: the audit trail, the talk log and received webhook events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from municipalities.audit import action_label, data_lines
from municipalities.models import (
    AuditEntry,
    TalkMessage,
    WebhookEvent,
)
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin


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
