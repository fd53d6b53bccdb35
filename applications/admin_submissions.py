"""Staff console for submissions: list, detail, workflow buttons and actions, print, export."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from applications import exports, workflow
from applications.errors import ApplicationError
from applications.forms import AnswersForm, display_value
from applications.models import FieldKind, PaymentStatus, Submission
from applications.services import (
    payment_record_counter,
    submission_delete,
    submission_transition,
    submission_update,
)
from applications.views import attachment_response
from applications.workflow import SubmissionStatus as S
from municipalities import jp
from municipalities.admin_pages import AdminPage
from municipalities.models import Payment, StaffUser
from municipalities.scoping import DepartmentScopedAdmin

# --- submissions ----------------------------------------------------------------------------


class PaymentStateFilter(admin.SimpleListFilter):
    title = _("支払")
    parameter_name = "payment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("paid", _("支払済み")), ("unpaid", _("未払い")), ("free", _("無料"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        paid = Exists(Payment.objects.filter(submission=OuterRef("pk"), status=PaymentStatus.PAID))
        if self.value() == "paid":
            return queryset.filter(paid)
        if self.value() == "unpaid":
            return queryset.filter(fee__gt=0).exclude(paid)
        if self.value() == "free":
            return queryset.filter(fee=0)
        return queryset


class SubmissionForm(forms.ModelForm):
    class Meta:
        model = Submission
        fields = ["assignee", "memo"]


STAFF_ACTIONS = ["review", "request_correction", "approve", "reject", "complete"]


@admin.register(Submission)
class SubmissionAdmin(DepartmentScopedAdmin):
    form = SubmissionForm
    list_display = ["reference", "form", "status", "payment_state", "resident", "submitted_at", "assignee"]
    list_select_related = ["form__department", "resident", "assignee"]
    list_filter = [
        "status",
        PaymentStateFilter,
        "form__department",
        "form",
        "submitted_at",
        "payment_method",
        "assignee",
    ]
    date_hierarchy = "submitted_at"
    search_fields = ["reference", "resident__display_name", "memo"]
    readonly_fields = [
        "reference",
        "form",
        "resident",
        "status",
        "status_reason",
        "submitted_at",
        "answers_display",
        "attachments_display",
        "payments_display",
        "timeline_display",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "form", "resident", "status", "status_reason", "submitted_at"]}),
        (_("回答"), {"fields": ["answers_display", "attachments_display"]}),
        (_("支払"), {"fields": ["payments_display"]}),
        (_("経過"), {"fields": ["timeline_display"]}),
        (_("職員の記入"), {"fields": ["assignee", "memo"]}),
    ]
    actions = [
        "action_review",
        "action_request_correction",
        "action_approve",
        "action_reject",
        "action_complete",
        "action_record_counter_payment",
        "export_xlsx",
        "export_csv",
    ]
    change_form_template = "admin/applications/submission/change_form.html"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # residents submit; staff do not create submissions here

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        submission_delete(submission=obj, actor=request.user)

    def has_process_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "process", obj)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_action_permission(request, "export")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "assignee":
            user = request.user
            qs = StaffUser.objects.filter(is_active=True)
            if not user.is_superuser:
                qs = qs.filter(municipality_id=user.municipality_id)
            kwargs["queryset"] = qs
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("payments")

    @admin.display(description=_("支払"))
    def payment_state(self, obj: Submission) -> str:
        if not obj.fee:
            return "無料"
        if any(p.status == PaymentStatus.PAID for p in obj.payments.all()):
            return f"支払済み（{obj.fee:,}円）"
        return f"未払い（{obj.fee:,}円）"

    @admin.display(description=_("回答"))
    def answers_display(self, obj: Submission) -> str:
        rows = [
            (
                f.label + ("（職員記入欄）" if f.staff_only else ""),
                display_value(f, obj.answers.get(f.key)) or "—",
            )
            for f in obj.form.fields.all()
            if f.takes_input and f.kind != FieldKind.FILE
        ]
        return format_html(
            '<table class="app-answers">{}</table>',
            format_html_join(
                "", '<tr><th style="width:14em">{}</th><td style="white-space:pre-wrap">{}</td></tr>', rows
            ),
        )

    @admin.display(description=_("添付ファイル"))
    def attachments_display(self, obj: Submission) -> str:
        labels = {f.key: f.label for f in obj.form.fields.all()}
        rows = [
            (
                labels.get(a.field_key, a.field_key),
                reverse("admin:applications_submission_attachment", args=[obj.pk, a.pk]),
                a.original_name,
                a.content_type,
                f"{a.size / 1024:.0f} KB",
            )
            for a in obj.attachments.all()
        ]
        if not rows:
            return "—"
        return format_html_join(
            "", '<div>{}: <a href="{}">{}</a> <span class="quiet">({}, {})</span></div>', rows
        )

    @admin.display(description=_("支払"))
    def payments_display(self, obj: Submission) -> str:
        rows = [
            (
                p.get_provider_display(),
                f"{p.amount:,}円",
                p.get_status_display(),
                p.reference,
                timezone.localtime(p.paid_at).strftime("%Y-%m-%d %H:%M") if p.paid_at else "—",
            )
            for p in obj.payments.all()
        ]
        if not rows:
            return "無料" if not obj.fee else "—"
        return format_html_join("", "<div>{} {} {}（{}）支払日時: {}</div>", rows)

    @admin.display(description=_("日時"))
    def timeline_display(self, obj: Submission) -> str:
        stamps = [
            ("申請", obj.submitted_at),
            ("支払", obj.paid_at),
            ("審査開始", obj.reviewed_at),
            ("決定", obj.decided_at),
            ("完了", obj.completed_at),
            ("取下げ", obj.cancelled_at),
        ]
        return format_html_join(
            "",
            "<div>{}: {}（{}）</div>",
            [
                (
                    label,
                    jp.format_wareki(timezone.localtime(v).date()),
                    timezone.localtime(v).strftime("%Y-%m-%d %H:%M"),
                )
                for label, v in stamps
                if v
            ],
        )

    def save_with_service(self, request, obj, form, formsets, change):  # type: ignore[no-untyped-def]
        return submission_update(
            submission=obj,
            actor=request.user,
            memo=form.cleaned_data.get("memo", obj.memo),
            assignee=form.cleaned_data.get("assignee"),
        )

    # --- custom views -----------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:object_id>/attachments/<int:attachment_id>/",
                SubmissionAttachmentPage(self).as_view(),
                name="applications_submission_attachment",
            ),
            path(
                "<int:object_id>/print/",
                SubmissionPrintPage(self).as_view(),
                name="applications_submission_print",
            ),
            path(
                "<int:object_id>/staff-fields/",
                SubmissionStaffFieldsPage(self).as_view(),
                name="applications_submission_staff_fields",
            ),
            path(
                "<int:object_id>/transition/<str:name>/",
                SubmissionTransitionPage(self).as_view(),
                name="applications_submission_transition",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if obj is not None:
            can_process = self.has_process_permission(request, obj)
            extra["workflow_buttons"] = [
                (t.label, reverse("admin:applications_submission_transition", args=[obj.pk, t.name]))
                for t in workflow.allowed_transitions(status=obj.status, by=workflow.STAFF)
                if t.name in STAFF_ACTIONS and can_process
            ]
            if can_process and obj.status == S.AWAITING_PAYMENT:
                extra["workflow_buttons"].append(
                    (
                        _("窓口での支払いを記録"),
                        reverse("admin:applications_submission_transition", args=[obj.pk, "pay"]),
                    )
                )
            extra["has_staff_fields"] = any(f.staff_only for f in obj.form.fields.all())
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # --- actions ----------------------------------------------------------------------------

    def _transition_many(self, request: HttpRequest, queryset: QuerySet, name: str) -> HttpResponse | None:
        transition = workflow.TRANSITIONS[name]
        reason = request.POST.get("reason", "")
        if transition.reason_required and "apply" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "queryset": queryset,
                "transition": transition,
                "action": request.POST.get("action"),
                "title": transition.label,
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            }
            return TemplateResponse(request, "admin/applications/submission/reason_action.html", context)
        self.run_service_per_row(
            request,
            queryset,
            lambda submission: submission_transition(
                submission=submission, name=name, actor=request.user, reason=reason
            ),
            # "%%(n)d" survives the label's substitution as the runner's count.
            _("%%(n)d 件を「%(label)s」にしました。") % {"label": S(transition.target).label},
            select_related=["form__department"],
            label=lambda submission: submission.reference,
        )
        return None

    @admin.action(description=_("審査を開始する"), permissions=["process"])
    def action_review(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._transition_many(request, queryset, "review")

    @admin.action(description=_("修正を依頼する（理由を入力）"), permissions=["process"])
    def action_request_correction(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._transition_many(request, queryset, "request_correction")

    @admin.action(description=_("承認する"), permissions=["process"])
    def action_approve(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._transition_many(request, queryset, "approve")

    @admin.action(description=_("却下する（理由を入力）"), permissions=["process"])
    def action_reject(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._transition_many(request, queryset, "reject")

    @admin.action(description=_("完了にする"), permissions=["process"])
    def action_complete(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._transition_many(request, queryset, "complete")

    @admin.action(description=_("窓口での支払いを記録する"), permissions=["process"])
    def action_record_counter_payment(self, request: HttpRequest, queryset: QuerySet) -> None:
        receipt_number = request.POST.get("receipt_number", "")
        self.run_service_per_row(
            request,
            queryset,
            lambda submission: payment_record_counter(
                submission=submission, actor=request.user, receipt_number=receipt_number
            ),
            _("%(n)d 件の支払いを記録し、受付にしました。"),
            select_related=["form__department"],
            label=lambda submission: submission.reference,
        )

    def _export(self, queryset: QuerySet, fmt: str) -> HttpResponse:
        qs = queryset.select_related("form__department", "resident", "assignee").prefetch_related(
            "form__fields", "attachments", "payments"
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return exports.download(exports.submissions_dataset(qs), fmt=fmt, filename=f"submissions-{stamp}")

    @admin.action(description=_("選択した申請を Excel（XLSX）で出力"), permissions=["export"])
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return self._export(queryset, "xlsx")

    @admin.action(description=_("選択した申請を CSV で出力"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return self._export(queryset, "csv")


class SubmissionAttachmentPage(AdminPage):
    """An attachment of a submission, downloaded through the scoped queryset."""

    def handle(self, request: HttpRequest, object_id: int, attachment_id: int) -> HttpResponse:
        """Download through the scoped queryset: another department's file is a 404."""
        obj = self.get_object(request, object_id)
        attachment = obj.attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
        return attachment_response(attachment)


class SubmissionPrintPage(AdminPage):
    """A printable page of one submission (answers, attachments, payments)."""

    template = "admin/applications/submission/print.html"

    def handle(self, request: HttpRequest, object_id: int) -> HttpResponse:
        obj = self.get_object(request, object_id)
        fields = list(obj.form.fields.all())
        rows = [
            (f, display_value(f, obj.answers.get(f.key)))
            for f in fields
            if f.takes_input and f.kind != FieldKind.FILE
        ]
        context = {
            "submission": obj,
            "rows": rows,
            "attachments": list(obj.attachments.all()),
            "payments": list(obj.payments.all()),
            "printed_at": timezone.now(),
        }
        return self.render(request, context)


class SubmissionStaffFieldsPage(AdminPage):
    """The staff-only fields of a submission (職員記入欄)."""

    template = "admin/applications/submission/staff_fields.html"

    def handle(self, request: HttpRequest, object_id: int) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if not self.model_admin.has_change_permission(request, obj):
            raise PermissionDenied
        fields = list(obj.form.fields.all())
        if request.method == "POST":
            answers_form = AnswersForm(request.POST, form_fields=fields, staff_only=True)
            if answers_form.is_valid():
                values, _files = answers_form.answers()
                try:
                    submission_update(submission=obj, actor=request.user, staff_answers=values)
                except ApplicationError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.info(request, _("職員記入欄を保存しました。"))
                    return redirect("admin:applications_submission_change", obj.pk)
        else:
            answers_form = AnswersForm(initial=obj.answers, form_fields=fields, staff_only=True)
        context = {
            "original": obj,
            "answers_form": answers_form,
            "title": _("職員記入欄: %s") % obj,
        }
        return self.render(request, context)


class SubmissionTransitionPage(AdminPage):
    """One workflow step of a submission (with a reason where the step asks for one)."""

    template = "admin/applications/submission/transition.html"

    def handle(self, request: HttpRequest, object_id: int, name: str) -> HttpResponse:
        obj = self.get_object(request, object_id)
        transition = workflow.TRANSITIONS.get(name)
        if transition is None or name not in [*STAFF_ACTIONS, "pay"]:
            raise Http404
        if not self.model_admin.has_process_permission(request, obj):
            raise PermissionDenied
        error = ""
        if request.method == "POST":
            try:
                if name == "pay":  # 窓口払い: recording the payment is what moves it to 受付
                    payment_record_counter(
                        submission=obj,
                        actor=request.user,
                        receipt_number=request.POST.get("receipt_number", "").strip(),
                    )
                else:
                    submission_transition(
                        submission=obj, name=name, actor=request.user, reason=request.POST.get("reason", "")
                    )
            except ApplicationError as exc:
                error = exc.message
            else:
                messages.info(
                    request,
                    _("%(ref)s を「%(label)s」にしました。")
                    % {"ref": obj.reference, "label": S(transition.target).label},
                )
                return redirect("admin:applications_submission_change", obj.pk)
        context = {
            "original": obj,
            "transition": transition,
            "error": error,
            "title": f"{obj.reference}: {transition.label}",
        }
        return self.render(request, context)
