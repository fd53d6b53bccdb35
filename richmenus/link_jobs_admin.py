"""The re-linking jobs (再紐付け) in the admin: each job's progress as a bar (done / total), its
state, and 「再開する」 for a job that stopped. Read-only: the rows are the services'."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin
from richmenus.models import RichMenuLinkJob
from richmenus.services import richmenu_link_job_resume


def progress_html(job: RichMenuLinkJob) -> str:
    return format_html(
        '<progress class="rm-link-progress" max="{}" value="{}"></progress> '
        '<span class="rm-link-progress-label">{} / {}（{}%）</span>',
        job.total or 1,
        job.done if job.total else 1,
        f"{job.done:,}",
        f"{job.total:,}",
        job.percent,
    )


@admin.register(RichMenuLinkJob)
class RichMenuLinkJobAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    list_display = [
        "created_at",
        "municipality",
        "reason",
        "status",
        "progress",
        "changed",
        "calls",
        "finished_at",
    ]
    list_select_related = ["municipality"]
    list_filter = ["status"]
    actions = ["resume"]
    fields = [
        "municipality",
        "reason",
        "status",
        "progress",
        "changed",
        "calls",
        "generation",
        "after",
        "started_at",
        "finished_at",
        "last_error",
    ]
    readonly_fields = fields

    @admin.display(description=_("進み具合"))
    def progress(self, obj: RichMenuLinkJob) -> str:
        return progress_html(obj)

    def has_resume_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "resume", obj)

    @admin.action(description=_("止まった再紐付けを再開する"), permissions=["resume"])
    def resume(self, request: HttpRequest, queryset: Any) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda job: richmenu_link_job_resume(job=job, actor=request.user),
            str(_("%(n)d 件の再紐付けを再開しました。")),
            select_related=["municipality"],
        )
