"""The custom staff pages of 施設予約: the day × room grid, 窓口・電話の予約, 定期利用の一括登録,
a booking's decisions (承認・却下, 窓口での支払, 取消, 返金) and the usage report.

Each page parses the request, checks the policy, calls one service and reports (STYLE R9).
Objects are looked up through the policy's queryset, so another department's facility is a 404.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from municipalities import jp
from municipalities.admin_pages import AdminPage
from municipalities.permissions import policy_for

from .errors import FacilityError
from .models import (
    WEEKDAY_LABELS,
    BookingPaymentState,
    BookingStatus,
    Discount,
    Extra,
    Facility,
    FacilityBooking,
    Room,
    TimeFrame,
)
from .selectors import day_grid, usage_report
from .services import (
    FacilityBulkError,
    GroupDetails,
    booking_approve,
    booking_cancel,
    booking_create,
    booking_payment_record_counter,
    booking_refund,
    booking_reject,
    bookings_bulk_create,
)


class FacilityPage(AdminPage):
    """A page of the booking admin, with the facility lookups every page uses."""

    def facilities(self, request: HttpRequest, action: str = "view") -> QuerySet[Facility]:
        return policy_for(Facility).instances_user_has_permission_for(
            request.user, action, Facility.objects.select_related("department")
        )

    def facility(self, request: HttpRequest, action: str = "view") -> Facility | None:
        """The facility of ``?facility=`` (or the first the user sees); 404 when out of reach."""
        qs = self.facilities(request, action)
        raw = request.GET.get("facility") or request.POST.get("facility")
        if raw:
            try:
                return qs.get(pk=int(raw))
            except (ValueError, Facility.DoesNotExist):
                raise Http404 from None
        return qs.first()

    def context(self, request: HttpRequest) -> dict[str, Any]:
        policy = policy_for(FacilityBooking)
        return {
            **super().context(request),
            "can_book": policy.user_has_permission(request.user, "book"),
            "can_approve": policy.user_has_permission(request.user, "approve"),
        }


def _parse_day(raw: str | None) -> dt.date:
    if raw:
        with contextlib.suppress(jp.InputError):  # a mistyped date shows today, not an error page
            return jp.parse_date(raw)
    return timezone.localdate()


class DayGridView(FacilityPage):
    template = "admin/facilities/grid.html"
    title = "日別の予約状況"
    model = FacilityBooking

    def handle(self, request: HttpRequest) -> HttpResponse:
        day = _parse_day(request.GET.get("date"))
        facility = self.facility(request)
        grid = day_grid(facility=facility, day=day) if facility is not None else None
        return self.render(
            request,
            {
                "facilities": self.facilities(request),
                "selected": facility,
                "day": day,
                "weekday": WEEKDAY_LABELS[day.weekday()],
                "wareki": jp.format_wareki(day),
                "prev": day - dt.timedelta(days=1),
                "next": day + dt.timedelta(days=1),
                "grid": grid,
                "states": BookingPaymentState,
            },
        )


class GroupForm(forms.Form):
    group_name = forms.CharField(label="団体名", max_length=100, required=False)
    representative = forms.CharField(label="代表者", max_length=100)
    representative_kana = forms.CharField(label="代表者（フリガナ）", max_length=100, required=False)
    phone = forms.CharField(label="電話番号", max_length=20, required=False)
    headcount = forms.IntegerField(label="人数", min_value=1, initial=1)
    purpose = forms.CharField(label="利用目的", max_length=200)
    is_resident_rate = forms.BooleanField(label="町内料金", required=False, initial=True)
    discount = forms.ModelChoiceField(label="減免", queryset=Discount.objects.none(), required=False)
    discount_reason = forms.CharField(label="減免の理由（確認した書類など）", max_length=200, required=False)
    extras = forms.ModelMultipleChoiceField(
        label="付帯設備", queryset=Extra.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, facility: Facility, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["discount"].queryset = facility.discounts.filter(is_active=True)
        self.fields["extras"].queryset = facility.extras.filter(is_active=True)

    def group(self) -> GroupDetails:
        d = self.cleaned_data
        return GroupDetails(
            group_name=d["group_name"],
            representative=d["representative"],
            representative_kana=d["representative_kana"],
            phone=d["phone"],
            headcount=d["headcount"],
            purpose=d["purpose"],
            is_resident_rate=d["is_resident_rate"],
        )


class StaffBookingForm(GroupForm):
    room = forms.ModelChoiceField(label="部屋・コート", queryset=Room.objects.none())
    frame = forms.ModelChoiceField(label="時間枠", queryset=TimeFrame.objects.none())
    use_date = forms.CharField(label="利用日", help_text="例: 2026-06-15、R8.6.15、令和8年6月15日")

    def __init__(self, *args: Any, facility: Facility, **kwargs: Any) -> None:
        super().__init__(*args, facility=facility, **kwargs)
        self.fields["room"].queryset = facility.rooms.filter(is_active=True)
        self.fields["frame"].queryset = facility.frames.filter(is_active=True)
        self.order_fields(["room", "use_date", "frame"])

    def clean_use_date(self) -> dt.date:
        try:
            return jp.parse_date(self.cleaned_data["use_date"])
        except Exception as exc:  # noqa: BLE001 - jp.parse_date's message is for staff
            raise forms.ValidationError(
                str(getattr(exc, "message", exc)) or "日付を読み取れません。"
            ) from None


class StaffBookingView(FacilityPage):
    """窓口・電話の予約 (代理予約): staff book a frame for a group, paid at the counter."""

    template = "admin/facilities/book.html"
    title = "窓口・電話の予約"
    model = FacilityBooking
    action = "book"

    def handle(self, request: HttpRequest) -> HttpResponse:
        facility = self.facility(request)
        if facility is None:
            raise Http404
        initial = {k: request.GET[k] for k in ("room", "frame", "use_date") if k in request.GET}
        form = StaffBookingForm(request.POST or None, facility=facility, initial=initial)
        if request.method == "POST" and form.is_valid():
            d = form.cleaned_data
            try:
                booking = booking_create(
                    room=d["room"],
                    frame=d["frame"],
                    use_date=d["use_date"],
                    group=form.group(),
                    discount=d["discount"],
                    discount_reason=d["discount_reason"],
                    extras=list(d["extras"]),
                    actor=request.user,
                )
            except FacilityError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request, f"予約しました（予約番号 {booking.code}、{booking.total_fee:,}円）。"
                )
                return HttpResponseRedirect(
                    reverse("admin:facilities_facilitybooking_decide", args=[booking.pk])
                )
        return self.render(
            request, {"form": form, "selected": facility, "facilities": self.facilities(request)}
        )


class BulkForm(GroupForm):
    room = forms.ModelChoiceField(label="部屋・コート", queryset=Room.objects.none())
    frame = forms.ModelChoiceField(label="時間枠", queryset=TimeFrame.objects.none())
    weekday = forms.TypedChoiceField(
        label="曜日", choices=[(i, f"毎週{w}曜") for i, w in enumerate(WEEKDAY_LABELS)], coerce=int
    )
    starts_on = forms.DateField(label="開始日", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label="終了日", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, facility: Facility, **kwargs: Any) -> None:
        super().__init__(*args, facility=facility, **kwargs)
        self.fields["room"].queryset = facility.rooms.filter(is_active=True)
        self.fields["frame"].queryset = facility.frames.filter(is_active=True)
        self.order_fields(["room", "frame", "weekday", "starts_on", "ends_on"])


class BulkBookingView(FacilityPage):
    """定期利用の一括登録: preview first (nothing written), then register all or nothing."""

    template = "admin/facilities/bulk.html"
    title = "定期利用の一括登録"
    model = FacilityBooking
    action = "book"

    def handle(self, request: HttpRequest) -> HttpResponse:
        facility = self.facility(request)
        if facility is None:
            raise Http404
        form = BulkForm(request.POST or None, facility=facility)
        result, rows = None, []
        if request.method == "POST" and form.is_valid():
            d = form.cleaned_data
            dry_run = "confirm" not in request.POST
            try:
                result = bookings_bulk_create(
                    room=d["room"],
                    frame=d["frame"],
                    weekday=d["weekday"],
                    starts_on=d["starts_on"],
                    ends_on=d["ends_on"],
                    group=form.group(),
                    discount=d["discount"],
                    discount_reason=d["discount_reason"],
                    extras=list(d["extras"]),
                    actor=request.user,
                    dry_run=dry_run,
                )
            except FacilityBulkError as exc:
                form.add_error(None, exc.message)
                rows = [(day, message) for day, message in exc.rows]
            except FacilityError as exc:
                form.add_error(None, exc.message)
            else:
                if not dry_run:
                    messages.success(request, f"{len(result.dates)} 件の定期利用を登録しました。")
                    url = reverse("admin:facilities_facilitybooking_changelist")
                    return HttpResponseRedirect(f"{url}?q=&series={result.series}")
        return self.render(
            request,
            {
                "form": form,
                "selected": facility,
                "result": result,
                "rows": rows,
                "facilities": self.facilities(request),
            },
        )


class BookingDecisionView(FacilityPage):
    """One booking with its fee and payments, and the buttons that apply to it."""

    template = "admin/facilities/decide.html"
    title = "施設予約の詳細と操作"
    model = FacilityBooking

    def handle(self, request: HttpRequest, booking_id: int) -> HttpResponse:
        booking = self.get_object(request, booking_id)
        if request.method == "POST":
            op = request.POST.get("op", "")
            reason = request.POST.get("reason", "")
            if op == "approve":
                booking_approve(booking=booking, actor=request.user)
                messages.success(request, f"{booking.code} を承認しました。")
            elif op == "reject":
                booking_reject(booking=booking, actor=request.user, reason=reason)
                messages.success(request, f"{booking.code} を却下しました。")
            elif op == "pay":
                booking_payment_record_counter(
                    booking=booking, actor=request.user, receipt_number=request.POST.get("receipt_number", "")
                )
                messages.success(request, f"{booking.code} の窓口での支払を記録しました。")
            elif op == "cancel":
                booking_cancel(booking=booking, actor=request.user, reason=reason)
                messages.success(request, f"{booking.code} を取り消しました。")
            elif op == "refund":
                booking_refund(booking=booking, actor=request.user, reason=reason)
                messages.success(request, f"{booking.code} を返金しました。")
            else:
                messages.error(request, "操作を選んでください。")
            return HttpResponseRedirect(request.path)
        booking = (
            FacilityBooking.objects.select_related("facility__department", "room", "resident", "decided_by")
            .prefetch_related("payments")
            .get(pk=booking.pk)
        )
        policy = policy_for(booking)
        return self.render(
            request,
            {
                "booking": booking,
                "payments": list(booking.payments.all()),
                "may_change": policy.user_has_permission_for_instance(request.user, "change", booking),
                "may_approve": policy.user_has_permission_for_instance(request.user, "approve", booking),
                "Status": BookingStatus,
                "States": BookingPaymentState,
            },
        )


class UsageReportView(FacilityPage):
    """利用状況: per room, frames open and booked (the utilisation), people and fee income."""

    template = "admin/facilities/report.html"
    title = "施設の利用状況"
    model = Facility

    def handle(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        start = _parse_day(request.GET.get("start")) if request.GET.get("start") else today.replace(day=1)
        end = (
            _parse_day(request.GET.get("end"))
            if request.GET.get("end")
            else (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        )
        if end < start:
            start, end = end, start
        end = min(end, start + dt.timedelta(days=366))
        facilities = self.facilities(request)
        if request.GET.get("facility"):
            facilities = facilities.filter(pk=self.facility(request).pk)
        rows = usage_report(facilities=facilities, start=start, end=end)
        totals = {
            "frames_open": sum(r.frames_open for r in rows),
            "frames_booked": sum(r.frames_booked for r in rows),
            "bookings": sum(r.bookings for r in rows),
            "people": sum(r.people for r in rows),
            "fee_income": sum(r.fee_income for r in rows),
        }
        totals["utilisation"] = (
            totals["frames_booked"] / totals["frames_open"] if totals["frames_open"] else 0.0
        )
        return self.render(request, {"rows": rows, "start": start, "end": end, "totals": totals})
