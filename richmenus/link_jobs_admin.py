"""The re-linking jobs (再紐付け) in the admin: each job's progress as a bar (done / total), its
state, and 「再開する」 for a job that stopped. Read-only: the rows are the services'."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, Q, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from municipalities.admin_pages import AdminPage
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
        "resume_link",
    ]
    list_select_related = ["municipality"]
    list_filter = ["status"]
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

    def get_queryset(self, request: HttpRequest) -> Any:
        # Whether the user may resume each row, decided by the policy in the same query.
        may = self.policy.instances_user_has_permission_for(request.user, "resume").values("pk")
        return (
            super()
            .get_queryset(request)
            .annotate(may_resume=ExpressionWrapper(Q(pk__in=Subquery(may)), output_field=BooleanField()))
        )

    @admin.display(description=_("操作"))
    def resume_link(self, obj: RichMenuLinkJob) -> str:
        if obj.status == RichMenuLinkJob.Status.DONE or not getattr(obj, "may_resume", False):
            return ""
        return format_html(
            '<a class="rm-link-resume" href="{}">再開する…</a>',
            reverse("admin:richmenus_richmenulinkjob_resume", args=[obj.pk]),
        )

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:job_id>/resume/",
                ResumePage(self, action="resume").as_view(),
                name="richmenus_richmenulinkjob_resume",
            ),
            *super().get_urls(),
        ]


class ResumePage(AdminPage):
    """GET: what resuming does; POST: run a stopped job on from its cursor."""

    template = "admin/richmenus/link_job_resume.html"
    title = "再紐付けの再開"

    def handle(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self.get_object(request, job_id, action="resume")
        if request.method != "POST":
            return self.render(request, {"job": job, "progress": progress_html(job)})
        richmenu_link_job_resume(job=job, actor=request.user)
        messages.success(request, _("再紐付けを再開しました。"))
        return HttpResponseRedirect(reverse("admin:richmenus_richmenulinkjob_changelist"))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("admin:richmenus_richmenulinkjob_changelist")
