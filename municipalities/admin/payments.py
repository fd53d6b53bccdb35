"""Staff console for payments (every feature's fees): the records, refunds and the reconciliation
page (入金の照合) with its XLSX/CSV download."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tablib
from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities import selectors
from municipalities.admin_pages import AdminPage
from municipalities.files import export_response
from municipalities.models import Payment
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin
from municipalities.services.payments import payment_refund


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
        "subject_text",
        "description",
        "department",
        "provider",
        "amount",
        "status",
        "paid_at",
        "recorded_by",
    ]
    list_select_related = ["department", "recorded_by", "subject_type"]
    list_filter = ["status", "provider", "department", "paid_at"]
    date_hierarchy = "paid_at"
    search_fields = ["reference", "description"]
    readonly_fields = [
        "subject_text",
        "description",
        "department",
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
    change_list_template = "admin/municipalities/payment/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("subject")

    def has_refund_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "refund", obj)

    @admin.display(description=_("対象"))
    def subject_text(self, obj: Payment) -> str:
        return str(obj.subject) if obj.subject is not None else "—"

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
            select_related=["department__municipality"],
            label=lambda payment: payment.reference,
        )
        return None

    def get_urls(self) -> list[Any]:
        return [
            path(
                "reconciliation/",
                ReconciliationPage(self).as_view(),
                name="municipalities_payment_reconciliation",
            ),
            *super().get_urls(),
        ]


class ReconciliationPage(AdminPage):
    """Payments per day, what they were for and provider; unpaid payments; XLSX/CSV download."""

    template = "admin/municipalities/payment/reconciliation.html"
    title = _("入金の照合")

    def handle(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        form = ReconciliationForm(request.GET or {"start": today.replace(day=1), "end": today})
        start, end = today.replace(day=1), today
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        rows = selectors.payments_reconciliation(user=request.user, start=start, end=end)
        unpaid = selectors.unpaid_payments_for_staff(user=request.user)
        fmt = request.GET.get("format")
        if fmt in ("xlsx", "csv"):
            if not self.model_admin.has_export_permission(request):
                raise PermissionDenied
            book = reconciliation_dataset(rows, unpaid)
            if fmt == "csv" and request.GET.get("sheet") == "unpaid":
                return export_response(book.sheets()[1], fmt="csv", filename=f"unpaid-{today:%Y%m%d}")
            return export_response(book, fmt=fmt, filename=f"payments-{start:%Y%m%d}-{end:%Y%m%d}")
        context = {
            "form": form,
            "rows": rows,
            "unpaid": unpaid,
            "to_refund": selectors.payments_to_refund_for_staff(user=request.user),
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


def reconciliation_dataset(rows: list[dict[str, Any]], unpaid: Iterable[Payment]) -> tablib.Databook:
    """The reconciliation as a workbook: the day totals, then the unpaid payments."""
    totals = tablib.Dataset(
        headers=["日付", "課", "内容", "支払方法", "件数", "入金額", "返金額", "差引"], title="日別集計"
    )
    for r in rows:
        totals.append(
            [
                r["day"].isoformat(),
                r["department"],
                r["description"],
                r["provider_label"],
                r["count"],
                r["amount"],
                r["refunded"],
                r["net"],
            ]
        )
    totals.append(
        [
            "合計",
            "",
            "",
            "",
            sum(r["count"] for r in rows),
            sum(r["amount"] for r in rows),
            sum(r["refunded"] for r in rows),
            sum(r["net"] for r in rows),
        ]
    )
    pending = tablib.Dataset(
        headers=["決済番号", "対象", "内容", "課", "受付日時", "金額", "支払方法"], title="未払い"
    )
    for p in unpaid:
        pending.append(
            [
                p.reference,
                str(p.subject) if p.subject is not None else "",
                p.description,
                p.department.name,
                timezone.localtime(p.created_at).strftime("%Y-%m-%d %H:%M"),
                p.amount,
                p.get_provider_display(),
            ]
        )
    return tablib.Databook([totals, pending])
