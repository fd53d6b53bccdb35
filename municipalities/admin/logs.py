"""Read-only logs: the audit trail, the talk log and received webhook events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from municipalities.audit import action_label, audit_sentence, data_lines
from municipalities.models import (
    AuditEntry,
    TalkMessage,
    WebhookEvent,
)
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

# The talk log's message kinds (LINE's type names) as staff say them.
TALK_KINDS = {
    "text": _("文章"),
    "postback": _("ボタンの操作"),
    "follow": _("友だち追加"),
    "unfollow": _("ブロック"),
    "image": _("画像"),
    "sticker": _("スタンプ"),
    "location": _("位置情報"),
    "video": _("動画"),
    "audio": _("音声"),
    "file": _("ファイル"),
    "template": _("ボタン付きメッセージ"),
    "flex": _("カード"),
    "imagemap": _("画像リンク"),
    "summary": _("一覧（要約）"),
}


class ActionFilter(admin.SimpleListFilter):
    """操作 by what it was (「予約: 予約を受付」), not by its internal code."""

    title = _("操作")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        actions = model_admin.get_queryset(request).order_by().values_list("action", flat=True).distinct()
        return sorted(((a, action_label(a)) for a in actions), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(action=self.value()) if self.value() else queryset


class TalkKindFilter(admin.SimpleListFilter):
    title = _("種類")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(TALK_KINDS.items())

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """The audit log: read-only; each object's own entries are also its 「履歴」 page."""

    list_display = ["created_at", "sentence_display", "department"]
    list_select_related = ["department"]
    list_filter = [ActionFilter, "department"]
    search_fields = ["object_repr", "actor_label", "action"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "sentence_display",
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
                "subtitle": audit_sentence(entry),
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("できごと"))
    def sentence_display(self, obj: AuditEntry) -> str:
        # 「kenko_head さんがお知らせ「健診のご案内」を承認しました。」 (the date is its own column)
        return audit_sentence(obj, with_time=False)

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
    list_display = ["created_at", "resident", "direction", "kind_display", "text", "sent_by"]
    list_select_related = ["resident", "sent_by"]
    list_filter = ["direction", TalkKindFilter]
    search_fields = ["text", "resident__display_name"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "municipality",
        "resident",
        "direction",
        "kind_display",
        "text",
        "payload",
        "sent_by",
    ]
    readonly_fields = fields

    @admin.display(description=_("種類"), ordering="kind")
    def kind_display(self, obj: TalkMessage) -> str:
        return str(TALK_KINDS.get(obj.kind, obj.kind))


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
