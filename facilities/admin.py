"""Staff console for 施設予約: facilities (rooms, frames, 減免, extras), fees, closures, bookings.

Thin (STYLE R9): every write that matters is a service call; the custom pages (day grid,
窓口予約, 定期利用, a booking's decisions, usage report) live in admin_views.py. Every class
inherits the tenancy mixin, so a department sees and changes only its own facilities.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from municipalities.scoping import DepartmentScopedAdmin, ScopedTabularInline

from . import admin_lottery, admin_views  # noqa: F401 - admin_lottery registers the lottery's admins
from .models import (
    WEEKDAY_LABELS,
    BookingStatus,
    Closure,
    ClosureStatus,
    Discount,
    Extra,
    Facility,
    FacilityBooking,
    Rate,
    Room,
    TimeFrame,
)
from .services import (
    booking_approve,
    booking_cancel,
    booking_delete,
    booking_refund,
    closure_confirm,
    closure_withdraw,
)
from .services.closures import bookings_in_closure

WEEKDAY_CHOICES = [(str(i), f"{label}曜") for i, label in enumerate(WEEKDAY_LABELS)]


class FacilityForm(forms.ModelForm):
    open_weekdays = forms.MultipleChoiceField(
        label=_("開館曜日"),
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("開館する曜日に印を付けます。"),
    )

    class Meta:
        model = Facility
        fields = [
            "department",
            "name",
            "kana",
            "address",
            "notes",
            "is_published",
            "sort_order",
            "frame_kind",
            "open_weekdays",
            "closed_on_holidays",
            "closed_year_end",
            "requires_approval",
            "booking_opens_days_before",
            "booking_closes_days_before",
            "monthly_limit_per_group",
            "pay_online",
            "pay_at_counter",
            "payment_due_days",
            "cancel_free_days_before",
            "cancel_fee_percent",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        value = self.initial.get("open_weekdays")
        if isinstance(value, str):
            self.initial["open_weekdays"] = list(value)

    def clean_open_weekdays(self) -> str:
        days = "".join(sorted(set(self.cleaned_data["open_weekdays"])))
        if not days:
            raise forms.ValidationError(_("開館する曜日を1つ以上選んでください。"))
        return days


class RoomInline(ScopedTabularInline):
    model = Room
    extra = 0
    fields = ["name", "is_exclusive", "capacity", "is_active", "sort_order"]


class TimeFrameInline(ScopedTabularInline):
    model = TimeFrame
    extra = 0
    fields = ["name", "starts_at", "ends_at", "is_active"]


class DiscountInline(ScopedTabularInline):
    model = Discount
    extra = 0
    fields = ["name", "percent", "residents_may_choose", "is_active"]


class ExtraInline(ScopedTabularInline):
    model = Extra
    extra = 0
    fields = ["name", "price_per_frame", "is_active"]


@admin.register(Facility)
class FacilityAdmin(DepartmentScopedAdmin):
    form = FacilityForm
    inlines = [RoomInline, TimeFrameInline, DiscountInline, ExtraInline]
    list_display = ["name", "department", "requires_approval", "open_weekdays_label", "is_published", "links"]
    list_select_related = ["department"]
    list_filter = ["department", "requires_approval", "is_published"]
    search_fields = ["name", "kana", "address"]
    fieldsets = [
        (None, {"fields": ["department", "name", "kana", "address", "notes", "is_published", "sort_order"]}),
        (
            _("開館日と時間枠"),
            {"fields": ["frame_kind", "open_weekdays", "closed_on_holidays", "closed_year_end"]},
        ),
        (
            _("予約の受付"),
            {
                "fields": [
                    "requires_approval",
                    "booking_opens_days_before",
                    "booking_closes_days_before",
                    "monthly_limit_per_group",
                ]
            },
        ),
        (_("支払"), {"fields": ["pay_online", "pay_at_counter", "payment_due_days"]}),
        (_("取消と返金"), {"fields": ["cancel_free_days_before", "cancel_fee_percent"]}),
    ]

    @admin.display(description=_("開館曜日"))
    def open_weekdays_label(self, obj: Facility) -> str:
        return obj.open_weekdays_label

    @admin.display(description=_("操作"))
    def links(self, obj: Facility) -> str:
        return format_html(
            '<a href="{}?facility={}">日別の予約状況</a> ・ <a href="{}?facility={}">利用状況</a> ・ '
            '<a href="{}?room__facility__id__exact={}">使用料</a>',
            reverse("admin:facilities_facilitybooking_grid"),
            obj.pk,
            reverse("admin:facilities_facility_report"),
            obj.pk,
            reverse("admin:facilities_rate_changelist"),
            obj.pk,
        )

    def get_urls(self):
        extra = [
            path("report/", admin_views.UsageReportView(self).as_view(), name="facilities_facility_report")
        ]
        return extra + super().get_urls()


@admin.register(Rate)
class RateAdmin(DepartmentScopedAdmin):
    list_display = ["room", "facility", "frame", "resident_fee", "non_resident_fee"]
    list_select_related = ["room__facility", "frame"]
    list_filter = ["room__facility"]
    search_fields = ["room__name", "room__facility__name"]
    fields = ["room", "frame", "resident_fee", "non_resident_fee"]

    @admin.display(description=_("施設"))
    def facility(self, obj: Rate) -> str:
        return obj.room.facility.name


@admin.register(Closure)
class ClosureAdmin(DepartmentScopedAdmin):
    list_display = ["starts_on", "ends_on", "facility", "room", "reason", "status", "cancelled_bookings"]
    list_select_related = ["facility", "room"]
    list_filter = ["status", "facility"]
    search_fields = ["reason", "facility__name"]
    fields = [
        "facility",
        "room",
        "starts_on",
        "ends_on",
        "reason",
        "status",
        "affected",
        "confirmed_at",
        "confirmed_by",
        "cancelled_bookings",
    ]
    readonly_fields = ["status", "affected", "confirmed_at", "confirmed_by", "cancelled_bookings"]
    actions = ["confirm", "withdraw"]

    def get_readonly_fields(self, request: HttpRequest, obj: Closure | None = None) -> list[str]:
        if obj is not None and obj.status != ClosureStatus.PLANNED:
            return list(self.fields)  # a confirmed closure has cancelled bookings: it stays as it was
        return list(self.readonly_fields)

    @admin.display(description=_("確定すると取り消す予約"))
    def affected(self, obj: Closure) -> str:
        if obj.pk is None or obj.status != ClosureStatus.PLANNED:
            return "―"
        codes = [
            f"{b.use_date:%m/%d} {b.starts_at:%H:%M} {b.room.name} {b.display_name}"
            for b in bookings_in_closure(obj)
        ]
        return " / ".join(codes) or "なし"

    @admin.action(
        description=_("休館を確定する（対象の予約を取り消し、返金し、LINE で通知します）"),
        permissions=["change"],
    )
    def confirm(self, request: HttpRequest, queryset: QuerySet) -> None:
        def run(closure: Closure) -> None:
            result = closure_confirm(closure=closure, actor=request.user)
            for line in result.refund_errors:
                self.message_user(request, f"返金できませんでした: {line}", level="ERROR")

        self.run_service_per_row(
            request,
            queryset,
            run,
            _("%(n)d 件の休館を確定しました。"),
            select_related=["facility__department"],
        )

    @admin.action(description=_("休館を取りやめる"), permissions=["change"])
    def withdraw(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda c: closure_withdraw(closure=c, actor=request.user),
            _("%(n)d 件の休館を取りやめました。"),
            select_related=["facility__department"],
        )


class PaymentStateFilter(admin.SimpleListFilter):
    title = _("支払状況")
    parameter_name = "payment_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(FacilityBooking.PaymentState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(payment_state=self.value()) if self.value() else queryset


@admin.register(FacilityBooking)
class FacilityBookingAdmin(DepartmentScopedAdmin):
    """施設予約: listed, searched and decided here; every change is a service (the booking's
    page has the buttons: 承認・却下, 窓口での支払, 取消, 返金). Nothing is edited by hand."""

    list_display = [
        "code",
        "use_date",
        "time",
        "room",
        "facility",
        "display_name",
        "headcount",
        "status",
        "total_fee",
        "payment_state",
        "origin",
        "decide_link",
    ]
    list_select_related = ["room", "facility"]
    list_filter = [
        "status",
        PaymentStateFilter,
        "origin",
        "facility",
        ("use_date", admin.DateFieldListFilter),
    ]
    search_fields = ["code", "group_name", "representative", "representative_kana", "phone"]
    date_hierarchy = "use_date"
    actions = ["approve", "cancel_by_staff", "refund"]
    readonly_fields = [
        "code",
        "status",
        "facility",
        "room",
        "use_date",
        "starts_at",
        "ends_at",
        "group_name",
        "representative",
        "representative_kana",
        "phone",
        "headcount",
        "purpose",
        "resident",
        "origin",
        "fee_text",
        "payment_method",
        "payment_state",
        "payment_due_at",
        "paid_at",
        "booked_by",
        "decided_at",
        "decided_by",
        "rejection_reason",
        "cancelled_at",
        "cancelled_by",
        "cancel_reason",
        "cancellation_fee",
        "refund_amount",
    ]
    fields = readonly_fields

    @admin.display(description=_("時間"))
    def time(self, obj: FacilityBooking) -> str:
        return f"{obj.starts_at:%H:%M}–{obj.ends_at:%H:%M}"

    @admin.display(description=_("団体名・代表者"))
    def display_name(self, obj: FacilityBooking) -> str:
        return obj.display_name

    @admin.display(description=_("料金の内訳"))
    def fee_text(self, obj: FacilityBooking) -> str:
        lines = [f"{line['label']}: {line['amount']:,}円" for line in obj.fee_lines or []]
        if obj.discount_reason:
            lines.append(f"減免の理由: {obj.discount_reason}")
        lines.append(f"合計: {obj.total_fee:,}円")
        return " / ".join(lines)

    @admin.display(description=_("操作"))
    def decide_link(self, obj: FacilityBooking) -> str:
        label = "承認・却下" if obj.status == BookingStatus.PENDING else "詳細・操作"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:facilities_facilitybooking_decide", args=[obj.pk]), label
        )

    def get_urls(self):
        extra = [
            path("grid/", admin_views.DayGridView(self).as_view(), name="facilities_facilitybooking_grid"),
            path(
                "book/", admin_views.StaffBookingView(self).as_view(), name="facilities_facilitybooking_book"
            ),
            path(
                "bulk/", admin_views.BulkBookingView(self).as_view(), name="facilities_facilitybooking_bulk"
            ),
            path(
                "<int:booking_id>/decide/",
                admin_views.BookingDecisionView(self).as_view(),
                name="facilities_facilitybooking_decide",
            ),
        ]
        return extra + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:facilities_facilitybooking_book"))

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_action_permission(request, "book")

    def has_book_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "book", obj)

    def has_approve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "approve", obj)

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: Any, formsets: Any, change: bool
    ) -> Any:
        # Every field is read-only: a booking changes only through the services (the buttons on
        # its page); saving the form writes nothing.
        return obj

    def delete_model(self, request: HttpRequest, obj: FacilityBooking) -> None:
        # Only a mistaken entry without payments is deleted; the service refuses the others.
        booking_delete(booking=obj, actor=request.user)

    def _run(self, request: HttpRequest, queryset: QuerySet, service: Any, done: str) -> None:
        self.run_service_per_row(
            request, queryset, service, done, select_related=["facility__department"], label=lambda b: b.code
        )

    @admin.action(description=_("承認する"), permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda b: booking_approve(booking=b, actor=request.user),
            _("%(n)d 件を承認しました。"),
        )

    @admin.action(description=_("取り消す（返金は返金待ちになります）"), permissions=["change"])
    def cancel_by_staff(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda b: booking_cancel(booking=b, actor=request.user, reason="窓口で取消"),
            _("%(n)d 件を取り消しました。"),
        )

    @admin.action(description=_("返金する（所属長）"), permissions=["change"])
    def refund(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda b: booking_refund(booking=b, actor=request.user),
            _("%(n)d 件を返金しました。"),
        )
