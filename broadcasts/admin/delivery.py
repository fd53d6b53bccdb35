"""Watching a broadcast go out: the status badge, the progress bar, the batches LINE refused, and
the progress as JSON for the change page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch
from broadcasts.selectors import broadcast_progress
from municipalities.admin_pages import AdminPage
from municipalities.scoping import ScopedTabularInline

STATUS_COLOURS = {
    BroadcastStatus.DRAFT: "#6b7280",
    BroadcastStatus.PENDING: "#b45309",
    BroadcastStatus.APPROVED: "#1d4ed8",
    BroadcastStatus.SCHEDULED: "#1d4ed8",
    BroadcastStatus.SENDING: "#7c3aed",
    BroadcastStatus.SENT: "#15803d",
    BroadcastStatus.PARTIAL: "#b91c1c",
    BroadcastStatus.CANCELLED: "#374151",
}


def status_badge_html(obj: Broadcast) -> str:
    colour = STATUS_COLOURS.get(obj.status, "#374151")
    return format_html(
        '<span class="bc-status" style="background:{}">{}</span>', colour, obj.get_status_display()
    )


def progress_bar_html(done: int, total: int, failed: int = 0) -> str:
    percent = int(100 * done / total) if total else 100
    failed_percent = int(100 * failed / total) if total else 0
    return format_html(
        '<div class="bc-progress" role="progressbar" aria-valuemin="0" aria-valuemax="{}" aria-valuenow="{}">'
        '<div class="bc-progress-done" style="width:{}%"></div><div class="bc-progress-failed" style="width:{}%"></div>'
        '</div><span class="bc-progress-label">{} / {}（{}%）</span>',
        total,
        done,
        max(percent - failed_percent, 0),
        failed_percent,
        f"{done:,}",
        f"{total:,}",
        percent,
    )


class FailedBatchInline(ScopedTabularInline):
    """The batches LINE refused, with LINE's message (the others need no attention)."""

    model = DeliveryBatch
    fields = ["seq", "size", "attempts", "http_status", "error_message", "updated_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name = gettext_lazy("失敗したバッチ")
    verbose_name_plural = gettext_lazy("失敗したバッチ（LINE の応答）")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(status=BatchStatus.FAILED).defer("line_user_ids")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProgressPage(AdminPage):
    """The delivery progress of a broadcast, as JSON for the change page's progress bar."""

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        broadcast = self.get_object(request, pk)
        progress = broadcast_progress(broadcast=broadcast)
        return JsonResponse(
            {
                "status": broadcast.status,
                "status_label": broadcast.get_status_display(),
                "total": progress.total,
                "sent": progress.sent,
                "failed": progress.failed,
                "pending": progress.pending,
                "percent": progress.percent,
            }
        )
