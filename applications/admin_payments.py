"""Staff console for payments: the records, refunds and the reconciliation page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications import exports, selectors
from applications.models import (
    Payment,
)
from applications.services import (
    payment_refund,
)
from municipalities.admin_pages import AdminPage
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

# --- payments and reconciliation ------------------------------------------------------------


class ReconciliationForm(forms.Form):
    start = forms.DateField(label=_("開始日"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("終了日"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("終了日は開始日以降にしてください。"))
        if data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 366:
            raise forms.ValidationError(_("期間は 1 年以内にしてください。"))
        return data


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """Payments are records: nobody edits or deletes them; refunds are an action (所属長)."""

    list_display = [
        "reference",
        "submission",
        "form_title",
        "provider",
        "amount",
        "status",
        "paid_at",
        "recorded_by",
    ]
    list_select_related = ["submission__form__department", "recorded_by"]
    list_filter = ["status", "provider", "submission__form__department", "submission__form", "paid_at"]
    date_hierarchy = "paid_at"
    search_fields = ["reference", "submission__reference"]
    readonly_fields = [
        "submission",
        "provider",
        "amount",
        "status",
        "reference",
        "paid_at",
        "failed_at",
        "refunded_at",
        "recorded_by",
        "detail",
    ]
    fields = readonly_fields
    actions = ["action_refund"]
    change_list_template = "admin/applications/payment/change_list.html"

    def has_refund_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "refund", obj)

    @admin.display(description=_("フォーム"), ordering="submission__form__title")
    def form_title(self, obj: Payment) -> str:
        return obj.submission.form.title

    @admin.action(description=_("返金する（理由を入力・所属長）"), permissions=["refund"])
    def action_refund(self, request: HttpRequest, queryset: QuerySet) -> Any:
        if "apply" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "queryset": queryset,
                "transition": {"label": _("返金"), "reason_required": True},
                "action": "action_refund",
                "title": _("返金"),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            }
            return TemplateResponse(request, "admin/applications/submission/reason_action.html", context)
        reason = request.POST.get("reason", "")
        self.run_service_per_row(
            request,
            queryset,
            lambda payment: payment_refund(payment=payment, actor=request.user, reason=reason),
            _("%(n)d 件を返金しました。"),
            select_related=["submission__form__department"],
            label=lambda payment: payment.reference,
        )
        return None

    def get_urls(self) -> list[Any]:
        return [
            path(
                "reconciliation/",
                ReconciliationPage(self).as_view(),
                name="applications_payment_reconciliation",
            ),
            *super().get_urls(),
        ]


class ReconciliationPage(AdminPage):
    """Payments per day, form and provider; unpaid submissions; XLSX/CSV download."""

    template = "admin/applications/payment/reconciliation.html"
    title = _("入金の照合")

    def handle(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        form = ReconciliationForm(request.GET or {"start": today.replace(day=1), "end": today})
        start, end = today.replace(day=1), today
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        rows = selectors.payments_reconciliation(user=request.user, start=start, end=end)
        unpaid = selectors.unpaid_submissions_for_staff(user=request.user)
        fmt = request.GET.get("format")
        if fmt in ("xlsx", "csv"):
            if not self.model_admin.has_export_permission(request):
                raise PermissionDenied
            book = exports.reconciliation_dataset(rows, unpaid)
            if fmt == "csv" and request.GET.get("sheet") == "unpaid":
                return exports.download(book.sheets()[1], fmt="csv", filename=f"unpaid-{today:%Y%m%d}")
            return exports.download(book, fmt=fmt, filename=f"payments-{start:%Y%m%d}-{end:%Y%m%d}")
        context = {
            "form": form,
            "rows": rows,
            "unpaid": unpaid,
            "start": start,
            "end": end,
            "totals": {
                "count": sum(r["count"] for r in rows),
                "amount": sum(r["amount"] for r in rows),
                "refunded": sum(r["refunded"] for r in rows),
                "net": sum(r["net"] for r in rows),
            },
            "can_export": self.model_admin.has_export_permission(request),
            "query": f"start={start.isoformat()}&end={end.isoformat()}",
        }
        return self.render(request, context)
