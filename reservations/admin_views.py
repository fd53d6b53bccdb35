"""The custom staff pages of the slot admin: day view, roster, 代理予約, pattern, file import.

Each page parses the request, checks the policy, calls one service and reports (STYLE R9).
Objects are looked up through the policy's queryset, so another department's slot is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import tablib
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone

from municipalities import jp
from municipalities.admin_pages import AdminPage
from municipalities.files import export_response
from municipalities.models import Department
from municipalities.permissions import departments_for_staff, policy_for

from .eligibility import member_age_text
from .forms import SlotFileForm, SlotPatternForm
from .models import ImportStatus, Menu, Reservation, ReservationStatus, Slot, SlotImportJob, WaitlistStatus
from .resources import RosterResource
from .selectors import (
    menu_day_summary,
    roster_for_slot,
    slots_for_day,
    waitlist_for_slot,
)
from .services import (
    ASYNC_THRESHOLD_ROWS,
    ReservationError,
    reservation_cancel,
    reservation_mark_attendance,
    slot_import_job_create,
    slot_import_job_retry,
    slot_import_job_run,
    slots_generate,
    waitlist_accept,
    waitlist_leave,
)
from .slot_import import SlotFileError, count_rows
from .tasks import slot_import_job_apply_task


class StaffPage(AdminPage):
    """A page of the slot admin: the shared page framework plus the slot lookups every page uses."""

    def context(self, request: HttpRequest) -> dict[str, Any]:
        return {
            **super().context(request),
            "can_book": policy_for(Slot).user_has_permission(request.user, "book"),
        }

    def menus(self, request: HttpRequest, action: str = "view") -> QuerySet[Menu]:
        return policy_for(Menu).instances_user_has_permission_for(
            request.user, action, Menu.objects.select_related("department")
        )

    def slots(self, request: HttpRequest, action: str = "view") -> QuerySet[Slot]:
        return policy_for(Slot).instances_user_has_permission_for(
            request.user, action, Slot.objects.select_related("menu__department")
        )

    def slot(self, request: HttpRequest, slot_id: int, action: str = "view") -> Slot:
        try:
            return self.slots(request, action).get(pk=slot_id)
        except Slot.DoesNotExist:
            raise Http404 from None

    def departments(self, request: HttpRequest, perm: str) -> QuerySet[Department]:
        return departments_for_staff(user=request.user, perm=perm)


class DayView(StaffPage):
    template = "admin/reservations/day.html"
    title = "日別の予約枠"

    def handle(self, request: HttpRequest) -> HttpResponse:
        menus = self.menus(request)
        selected = (
            menus.filter(pk=request.GET.get("menu")).first()
            if request.GET.get("menu", "").isdigit()
            else None
        )
        try:
            day = dt.date.fromisoformat(request.GET.get("date", ""))
        except ValueError:
            # No date asked for: the next day that has slots (today when it has some).
            start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(0, 0)))
            upcoming = Slot.objects.filter(menu__in=[selected] if selected else menus, starts_at__gte=start)
            first = upcoming.order_by("starts_at").values_list("starts_at", flat=True).first()
            day = timezone.localtime(first).date() if first else timezone.localdate()
        shown = menus.filter(pk=selected.pk) if selected else menus
        slots = list(slots_for_day(menus=shown, on=day))
        summary = menu_day_summary(menu=selected, first=day, days=14) if selected else []
        return self.render(
            request,
            {
                "menus": menus,
                "selected": selected,
                "day": day,
                "wareki": jp.format_wareki(day),
                "slots": slots,
                "prev": day - dt.timedelta(days=1),
                "next": day + dt.timedelta(days=1),
                "summary": summary,
                "totals": {
                    "capacity": sum(s.capacity for s in slots),
                    "reserved": sum(s.reserved for s in slots),
                },
            },
        )


class RosterView(StaffPage):
    template = "admin/reservations/roster.html"
    title = "名簿"

    def handle(self, request: HttpRequest, slot_id: int) -> HttpResponse:
        slot = self.slot(request, slot_id)
        if request.method == "POST" and "entry" in request.POST:
            return self._waitlist_op(request, slot)
        if request.method == "POST":
            reservation = roster_for_slot(slot=slot).filter(pk=request.POST.get("reservation")).first()
            op = request.POST.get("op", "")
            if reservation is None:
                raise Http404
            try:
                if op == "cancel":
                    reservation_cancel(reservation=reservation, actor=request.user)
                    messages.success(request, f"{reservation.code} を代理でキャンセルしました。")
                elif op in (ReservationStatus.ATTENDED, ReservationStatus.NO_SHOW, ReservationStatus.BOOKED):
                    reservation_mark_attendance(reservation=reservation, status=op, actor=request.user)
                    messages.success(
                        request,
                        f"{reservation.display_name} さんを「{ReservationStatus(op).label}」にしました。",
                    )
            except ReservationError as exc:
                messages.error(request, exc.message)
            return HttpResponseRedirect(request.path)
        rows = list(roster_for_slot(slot=slot))
        for r in rows:
            if r.member_id:
                r.member_birth_wareki = jp.format_wareki(r.member.birth_date)
                r.member_age = member_age_text(r)
            elif r.birth_date is not None:
                r.birth_wareki = jp.format_wareki(r.birth_date)
                r.member_age = member_age_text(r)
        waitlist, position = [], 0
        for entry in waitlist_for_slot(slot=slot):
            if entry.status == WaitlistStatus.WAITING:
                position += 1
            waitlist.append(
                {"e": entry, "position": position if entry.status == WaitlistStatus.WAITING else None}
            )
        return self.render(
            request,
            {
                "slot": slot,
                "rows": rows,
                "waitlist": waitlist,
                "waiting_count": position,
                "title": f"名簿: {slot.menu.name} {slot}",
                "can_change": policy_for(Reservation).user_has_permission_for_instance(
                    request.user, "change", Reservation(slot=slot)
                )
                if rows
                else False,
                "wareki": jp.format_wareki(timezone.localtime(slot.starts_at).date()),
                "counts": {s: sum(1 for r in rows if r.status == s) for s in ReservationStatus.values},
            },
        )

    def _waitlist_op(self, request: HttpRequest, slot: Slot) -> HttpResponse:
        """For someone on the phone: book the place held for them (``op=accept``), or decline it /
        take them off the list (``op=leave``); the services check the clerk's 代理予約 right."""
        entry = waitlist_for_slot(slot=slot).filter(pk=request.POST.get("entry")).first()
        if entry is None:
            raise Http404
        try:
            if request.POST.get("op") == "accept":
                reservation = waitlist_accept(entry=entry, actor=request.user)
                messages.success(
                    request, f"{entry.display_name} さんを予約しました（予約番号 {reservation.code}）。"
                )
            else:
                waitlist_leave(entry=entry, actor=request.user)
                messages.success(request, f"{entry.display_name} さんのキャンセル待ちを取り下げました。")
        except ReservationError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(request.path)


class RosterExportView(StaffPage):
    action = "export"

    def handle(self, request: HttpRequest, slot_id: int, fmt: str) -> HttpResponse:
        slot = self.slot(request, slot_id, "export")
        dataset = RosterResource().export(roster_for_slot(slot=slot))
        start = timezone.localtime(slot.starts_at)
        name = f"roster_{slot.menu_id}_{start:%Y%m%d_%H%M}"
        if fmt not in ("csv", "xlsx"):
            raise Http404
        dataset.title = "名簿"
        return export_response(dataset, fmt=fmt, filename=name)


class GenerateView(StaffPage):
    template = "admin/reservations/generate.html"
    title = "パターンから枠を作成"
    action = "add"

    def handle(self, request: HttpRequest) -> HttpResponse:
        form = SlotPatternForm(
            request.POST or None,
            menus=self.menus(request, "change"),
            initial={"menu": request.GET.get("menu")},
        )
        if request.method == "POST" and form.is_valid():
            d = form.cleaned_data
            created, unchanged = slots_generate(
                menu=d["menu"],
                venue=jp.normalise_text(d["venue"]),
                date_from=d["date_from"],
                date_to=d["date_to"],
                weekdays=d["weekdays"],
                times=d["times"],
                capacity=d["capacity"],
                skip_holidays=d["skip_holidays"],
                actor=request.user,
            )
            messages.success(
                request, f"{created} 件の枠を作成しました（既にあった {unchanged} 件はそのままです）。"
            )
            return HttpResponseRedirect(
                reverse("admin:reservations_slot_day") + f"?menu={d['menu'].pk}&date={d['date_from']}"
            )
        return self.render(request, {"form": form})


class UploadView(StaffPage):
    template = "admin/reservations/upload.html"
    title = "予約枠の取込（CSV / Excel）"
    action = "import"

    def handle(self, request: HttpRequest) -> HttpResponse:
        departments = self.departments(request, "reservations.import_slot")
        if request.GET.get("template") in ("xlsx", "csv"):
            return self.template_download(request, departments, request.GET["template"])
        form = SlotFileForm(request.POST or None, request.FILES or None, departments=departments)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read()
            try:
                rows = count_rows(data, upload.name)
            except SlotFileError as exc:
                form.add_error("file", str(exc))
                return self.render(request, {"form": form, "jobs": self._jobs(request)})
            upload.seek(0)
            background = rows > ASYNC_THRESHOLD_ROWS
            job = slot_import_job_create(
                department=form.cleaned_data["department"],
                upload=upload,
                actor=request.user,
                run_in_background=background,
            )
            if not background:
                slot_import_job_run(job=job, commit=False, actor=request.user)
            return HttpResponseRedirect(reverse("admin:reservations_slot_upload_job", args=[job.pk]))
        return self.render(
            request, {"form": form, "jobs": self._jobs(request), "threshold": ASYNC_THRESHOLD_ROWS}
        )

    def template_download(self, request: HttpRequest, departments: Any, fmt: str) -> HttpResponse:
        """A file to fill in: the six headings the import reads, and two example rows with a menu
        and a venue of the clerk's own department (on the same URL, so the page's policy applies)."""
        menu = (
            Menu.objects.filter(department__in=departments)
            .order_by("department_id", "sort_order", "pk")
            .first()
        )
        name = menu.name if menu else "乳幼児歯科健診"
        venue = (menu.venue_list[0] if menu and menu.venue_list else "") or "保健センター"
        day = timezone.localdate() + dt.timedelta(days=14)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        dataset = tablib.Dataset(headers=["サービス", "会場", "日付", "開始", "終了", "定員"], title="予約枠")
        dataset.append([name, venue, f"{day:%Y/%m/%d}", "9:00", "9:30", 5])
        dataset.append([name, venue, jp.format_wareki(day), "9:30", "10:00", 5])
        return export_response(dataset, fmt=fmt, filename="slot_import_template")

    def _jobs(self, request: HttpRequest) -> QuerySet[SlotImportJob]:
        return jobs_for_import(request)[:10]


def jobs_for_import(request: HttpRequest) -> QuerySet[SlotImportJob]:
    """Import jobs of the departments where the user may import slots: every step of a job (preview,
    progress, confirm) needs that right in the job's own department, not somewhere else."""
    departments = departments_for_staff(user=request.user, perm="reservations.import_slot")
    return SlotImportJob.objects.filter(department__in=departments).select_related("department", "created_by")


class UploadJobView(StaffPage):
    template = "admin/reservations/upload_job.html"
    title = "予約枠の取込"
    action = "import"

    def handle(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = jobs_for_import(request).filter(pk=job_id).first()
        if job is None:
            raise Http404
        if request.GET.get("format") == "json":
            return JsonResponse(
                {
                    "status": job.status,
                    "percent": job.percent,
                    "processed": job.processed_rows,
                    "total": job.total_rows,
                    "label": job.get_status_display(),
                }
            )
        if request.method == "POST" and "retry" in request.POST:
            try:
                slot_import_job_retry(job=job, actor=request.user)
            except ReservationError as exc:
                messages.error(request, exc.message)
            else:
                messages.info(request, "もう一度確認しています。終わるまでこの画面でお待ちください。")
            return HttpResponseRedirect(request.path)
        closed_rows = [p for p in job.preview or [] if p.get("closed")]
        if request.method == "POST" and job.status == ImportStatus.CHECKED:
            if closed_rows and not request.POST.get("confirm_closed_days"):
                messages.error(
                    request,
                    "祝日・年末年始の枠があります。確かめて「祝日・年末年始の枠も取り込む」にチェックしてください。",
                )
                return HttpResponseRedirect(request.path)
            if job.total_rows > ASYNC_THRESHOLD_ROWS:
                slot_import_job_apply_task.delay(job.pk, request.user.pk)
                messages.info(request, "取込を開始しました。完了までこの画面でお待ちください。")
            else:
                job = slot_import_job_run(job=job, commit=True, actor=request.user)
                if job.status == ImportStatus.DONE:
                    messages.success(
                        request,
                        f"{job.created_count} 件の枠を作成しました（変更なし {job.unchanged_count} 件）。",
                    )
            return HttpResponseRedirect(request.path)
        running = job.status in (ImportStatus.QUEUED, ImportStatus.CHECKING, ImportStatus.IMPORTING)
        return self.render(
            request,
            {"job": job, "running": running, "closed_rows": closed_rows, "title": f"取込: {job.file_name}"},
        )
