"""Staff console for reservations: menus, slots (day view, roster, import, pattern), bookings.

Thin (STYLE R9): every write is a service call; the custom pages live in admin_views.py.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from municipalities import jp
from municipalities.permissions import policy_for
from municipalities.resources import ProjectExportMixin
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

from . import admin_phone, admin_views
from .forms import MenuForm
from .models import Menu, Reservation, ReservationStatus, Slot, WaitlistEntry
from .resources import SlotResource
from .rules import normalize_code
from .services import (
    reservation_cancel,
    reservation_delete,
    reservation_mark_attendance,
    reservation_update_contact,
    slot_delete,
    slot_save,
    slot_set_open,
)


@admin.register(Menu)
class MenuAdmin(DepartmentScopedAdmin):
    form = MenuForm
    list_display = ["name", "department", "is_suspended", "window", "links"]
    list_select_related = ["department"]
    list_filter = ["department", "is_suspended"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["department", "name", "description", "venues", "sort_order", "is_suspended"]}),
        (
            _("受付期間と締切"),
            {
                "fields": [
                    "opens_days_before",
                    "window_in_business_days",
                    "closes_hours_before",
                    "cancel_deadline_hours",
                ]
            },
        ),
        (_("1 人あたりの上限"), {"fields": ["max_active_per_resident", "max_per_resident_per_day"]}),
        (
            _("対象者"),
            {"fields": ["eligible_age_from_months", "eligible_age_until_months", "eligible_areas"]},
        ),
        (
            _("キャンセル待ち"),
            {"fields": ["waitlist_enabled", "waitlist_hold_minutes", "waitlist_auto_book"]},
        ),
        (_("予約時の質問とお知らせ"), {"fields": ["questions", "confirmation_text", "reminder_offsets"]}),
    ]

    @admin.display(description=_("受付"))
    def window(self, obj: Menu) -> str:
        return f"{obj.opens_days_before}日前〜{obj.closes_hours_before}時間前"

    @admin.display(description=_("操作"))
    def links(self, obj: Menu) -> str:
        day = reverse("admin:reservations_slot_day")
        return format_html(
            '<a href="{}?menu={}">日別の枠</a> ・ <a href="{}?menu__id__exact={}">枠一覧</a>',
            day,
            obj.pk,
            reverse("admin:reservations_slot_changelist"),
            obj.pk,
        )


class SlotForm(forms.ModelForm):
    class Meta:
        model = Slot
        fields = ["menu", "venue", "starts_at", "ends_at", "capacity", "is_open"]


@admin.register(Slot)
class SlotAdmin(ProjectExportMixin, DepartmentScopedAdmin):
    form = SlotForm
    resource_classes = [SlotResource]
    list_display = [
        "starts_at",
        "ends_at_time",
        "venue",
        "menu",
        "reserved_of_capacity",
        "is_open",
        "roster_link",
    ]
    list_select_related = ["menu"]
    list_filter = ["menu", "is_open", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["venue", "menu__name"]
    date_hierarchy = "starts_at"
    ordering = ["starts_at", "venue"]
    change_list_template = "admin/reservations/slot/change_list.html"

    actions = ["close_slots", "open_slots"]

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request.user}

    def _set_open(self, request: HttpRequest, queryset: QuerySet, is_open: bool, done_message: str) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda slot: slot_set_open(slot=slot, is_open=is_open, actor=request.user),
            done_message,
            select_related=["menu__department"],
        )

    @admin.action(description=_("受付を停止する（予約は残ります）"), permissions=["change"])
    def close_slots(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_open(request, queryset, False, _("%(n)d 枠の受付を停止しました。"))

    @admin.action(description=_("受付を再開する"), permissions=["change"])
    def open_slots(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_open(request, queryset, True, _("%(n)d 枠の受付を再開しました。"))

    @admin.display(description=_("終了"))
    def ends_at_time(self, obj: Slot) -> str:
        return f"{timezone.localtime(obj.ends_at):%H:%M}"

    @admin.display(description=_("予約 / 定員"))
    def reserved_of_capacity(self, obj: Slot) -> str:
        return f"{obj.reserved} / {obj.capacity}"

    @admin.display(description=_("名簿"))
    def roster_link(self, obj: Slot) -> str:
        return format_html('<a href="{}">名簿</a>', reverse("admin:reservations_slot_roster", args=[obj.pk]))

    def get_urls(self):
        extra = [
            path("day/", admin_views.DayView(self).as_view(), name="reservations_slot_day"),
            path(
                "<int:slot_id>/roster/",
                admin_views.RosterView(self).as_view(),
                name="reservations_slot_roster",
            ),
            path(
                "<int:slot_id>/roster.<str:fmt>",
                admin_views.RosterExportView(self).as_view(),
                name="reservations_slot_roster_export",
            ),
            path(
                "phone-booking/",
                admin_phone.PhoneBookingView(self).as_view(),
                name="reservations_slot_phone_booking",
            ),
            path("generate/", admin_views.GenerateView(self).as_view(), name="reservations_slot_generate"),
            path("upload/", admin_views.UploadView(self).as_view(), name="reservations_slot_upload"),
            path(
                "upload/<int:job_id>/",
                admin_views.UploadJobView(self).as_view(),
                name="reservations_slot_upload_job",
            ),
        ]
        return extra + super().get_urls()

    def save_with_service(
        self, request: HttpRequest, obj: Slot, form: Any, formsets: Any, change: bool
    ) -> Slot:
        return slot_save(slot=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Slot) -> None:
        slot_delete(slot=obj, actor=request.user)


class ReservationForm(forms.ModelForm):
    class Meta:
        model = Reservation
        fields = ["name", "kana", "phone"]


@admin.register(Reservation)
class ReservationAdmin(DepartmentScopedAdmin):
    form = ReservationForm
    list_display = ["code", "person", "slot", "menu", "status", "channel", "created_at"]
    list_select_related = ["slot", "menu", "resident", "booked_by"]
    list_filter = ["status", "menu", ("slot_date", admin.DateFieldListFilter)]
    search_fields = ["code", "name", "kana", "phone", "resident__display_name"]
    readonly_fields = [
        "code",
        "status",
        "slot",
        "menu",
        "resident",
        "answers_text",
        "booked_by",
        "created_at",
        "cancelled_at",
        "cancelled_by",
    ]
    fields = [
        "code",
        "status",
        "slot",
        "resident",
        "name",
        "kana",
        "phone",
        "answers_text",
        "booked_by",
        "created_at",
        "cancelled_at",
        "cancelled_by",
    ]
    actions = ["mark_attended", "mark_no_show", "cancel_on_behalf"]
    date_hierarchy = "slot_date"

    @admin.display(description=_("氏名"))
    def person(self, obj: Reservation) -> str:
        return obj.display_name

    @admin.display(description=_("予約方法"))
    def channel(self, obj: Reservation) -> str:
        return "代理" if obj.booked_by_id else "LINE"

    @admin.display(description=_("質問への回答"))
    def answers_text(self, obj: Reservation) -> str:
        return " / ".join(f"{k}: {v}" for k, v in (obj.answers or {}).items()) or "―"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # 予約番号 as read out on the phone: "abcd1234", "ＡＢＣＤ－１２３４" → "ABCD-1234"; kana in any script.
        qs, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            extra = Q(code=normalize_code(search_term)) | Q(kana__contains=jp.to_katakana(search_term))
            digits = "".join(c for c in jp.normalise_text(search_term) if c.isdigit())
            if len(digits) >= 4:
                extra |= Q(phone__contains=digits)
            qs = qs | queryset.filter(extra)
        return qs, may_have_duplicates

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:reservations_slot_phone_booking"))

    def save_with_service(
        self, request: HttpRequest, obj: Reservation, form: Any, formsets: Any, change: bool
    ) -> Reservation:
        return reservation_update_contact(
            reservation=obj, actor=request.user, name=obj.name, kana=obj.kana, phone=obj.phone
        )

    def delete_model(self, request: HttpRequest, obj: Reservation) -> None:
        reservation_delete(reservation=obj, actor=request.user)

    def has_book_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policy_for(Slot).user_has_permission(request.user, "book")

    def _run(self, request: HttpRequest, queryset: QuerySet, service: Any, done_message: str) -> None:
        self.run_service_per_row(
            request,
            queryset,
            service,
            done_message,
            select_related=["slot__menu__department"],
            label=lambda reservation: reservation.code,
        )

    @admin.action(description=_("来場にする"), permissions=["change"])
    def mark_attended(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda r: reservation_mark_attendance(
                reservation=r, status=ReservationStatus.ATTENDED, actor=request.user
            ),
            _("%(n)d 件を来場にしました。"),
        )

    @admin.action(description=_("無断キャンセルにする"), permissions=["change"])
    def mark_no_show(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda r: reservation_mark_attendance(
                reservation=r, status=ReservationStatus.NO_SHOW, actor=request.user
            ),
            _("%(n)d 件を無断キャンセルにしました。"),
        )

    @admin.action(description=_("代理でキャンセルする"), permissions=["book"])
    def cancel_on_behalf(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda r: reservation_cancel(reservation=r, actor=request.user),
            _("%(n)d 件をキャンセルしました。"),
        )


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """キャンセル待ち across slots and days, and each entry's history (read-only, like a log).
    Residents join and leave in LINE, staff add callers on the 代理予約 page; offers and expiries
    are the system's. For someone on the phone staff book a held place or decline it on the
    slot's roster (名簿), where the offer shows."""

    list_display = [
        "slot_or_day",
        "menu",
        "person",
        "member",
        "status",
        "created_at",
        "hold_until",
        "reservation",
    ]
    list_select_related = ["menu", "slot", "resident", "member", "reservation"]
    list_filter = ["status", "whole_day", "menu"]
    search_fields = ["resident__display_name", "member__name", "member__kana", "name", "kana", "phone"]
    date_hierarchy = "created_at"
    fields = [
        "menu",
        "day",
        "whole_day",
        "slot",
        "resident",
        "member",
        "name",
        "kana",
        "phone",
        "birth_date",
        "added_by",
        "status",
        "answers",
        "created_at",
        "offered_at",
        "hold_until",
        "closed_at",
        "reservation",
    ]
    readonly_fields = fields

    @admin.display(description=_("枠・日付"), ordering="day")
    def slot_or_day(self, obj: WaitlistEntry) -> str:
        if obj.slot_id is not None:
            return str(obj.slot)
        return f"{obj.day:%Y/%m/%d} どの時間でも"

    @admin.display(description=_("氏名"))
    def person(self, obj: WaitlistEntry) -> str:
        return obj.name or (obj.resident.display_name if obj.resident_id else "")
