"""代理予約 (phone booking), built around the call.

One page: the menu, a week calendar of its free places with weekdays (one radio group, so the
arrow keys move between slots), the menu's questions at once, a caller search that finds earlier
callers of the department and LINE users by name, kana or phone digits and fills them in (with
a warning when that person already holds a booking of the menu), and one submit. The search
answers on the same URL (``?callers=``) as JSON, so the page is one surface for the policy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone

from municipalities import jp

from .admin_views import StaffPage
from .forms import PhoneBookingForm
from .models import Menu, Slot
from .rules import format_dt
from .selectors import (
    callers_for_department,
    phone_booking_week,
    resident_for_phone_booking,
    residents_for_phone_booking,
    upcoming_booking_of,
)
from .services import ReservationError, reservation_book

WEEKDAYS = "月火水木金土日"


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


class PhoneBookingView(StaffPage):
    template = "admin/reservations/phone_booking.html"
    title = "代理予約（電話予約）"
    action = "book"

    def bookable_menus(self, request: HttpRequest) -> Any:
        """Menus of the departments where the clerk may book on behalf (the policy's 代理予約 right)."""
        departments = self.departments(request, "reservations.book_slot")
        return Menu.objects.filter(department__in=departments).select_related("department")

    def _menu(self, request: HttpRequest) -> Menu | None:
        menu_id = request.POST.get("menu") or request.GET.get("menu") or ""
        slot_id = request.GET.get("slot") or ""
        if not str(menu_id).isdigit() and str(slot_id).isdigit():
            # Opened from a slot (day view, roster): that slot's menu, if the clerk may book there.
            return self.bookable_menus(request).filter(slots__pk=slot_id).first()
        if not str(menu_id).isdigit():
            return None
        return self.bookable_menus(request).filter(pk=menu_id).first()

    def _bookable(self, request: HttpRequest, menu: Menu) -> Any:
        return self.slots(request, "book").filter(menu=menu, is_open=True, starts_at__gt=timezone.now())

    def callers_json(self, request: HttpRequest, menu: Menu | None) -> JsonResponse:
        """Suggestions for the caller box: earlier phone callers of the department, then LINE users."""
        query = jp.normalise_text(request.GET.get("callers", ""))
        if menu is None or len(query) < 2:
            return JsonResponse({"results": []}, json_dumps_params={"ensure_ascii": False})
        department = menu.department
        results: list[dict[str, str]] = []
        for c in callers_for_department(department=department, user=request.user, query=query, limit=8):
            results.append(
                {**c, "phone_display": jp.format_phone(c["phone"]), "resident": "", "kind": "電話"}
            )
        for r in residents_for_phone_booking(department=department, query=query, limit=5):
            results.append(
                {
                    "name": r.display_name,
                    "kana": "",
                    "phone": "",
                    "phone_display": "",
                    "resident": str(r.pk),
                    "kind": "LINE",
                }
            )
        for item in results:
            booking = upcoming_booking_of(
                menu=menu,
                phone=item["phone"],
                resident_id=int(item["resident"]) if item["resident"] else None,
            )
            item["warning"] = (
                f"この方は {format_dt(booking.slot.starts_at)} に「{menu.name}」の予約があります（予約番号 {booking.code}）。"
                if booking is not None
                else ""
            )
        return JsonResponse({"results": results}, json_dumps_params={"ensure_ascii": False})

    def handle(self, request: HttpRequest) -> HttpResponse:
        menu = self._menu(request)
        if "callers" in request.GET:
            return self.callers_json(request, menu)
        menus = self.bookable_menus(request)
        if menu is None:
            return self.render(request, {"menus": menus, "menu": None, "form": None})
        bookable = self._bookable(request, menu)
        chosen_id = request.POST.get("slot") or request.GET.get("slot") or ""
        chosen = bookable.filter(pk=chosen_id).first() if str(chosen_id).isdigit() else None
        initial = {"slot": chosen, **{k: request.GET.get(k, "") for k in ("name", "kana", "phone")}}
        form = PhoneBookingForm(
            request.POST or None, slots=bookable, questions=menu.question_list, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            slot = form.cleaned_data["slot"]
            resident = None
            if form.cleaned_data.get("resident"):
                resident = resident_for_phone_booking(
                    department=menu.department, resident_id=form.cleaned_data["resident"]
                )
            try:
                reservation = reservation_book(
                    slot=slot,
                    resident=resident,
                    actor=request.user,
                    answers=form.answers(),
                    name="" if resident else form.cleaned_data["name"],
                    kana=form.cleaned_data["kana"],
                    phone=form.cleaned_data["phone"],
                )
            except ReservationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"予約しました。予約番号 {reservation.code}（{reservation.display_name} さん・"
                    f"{format_dt(slot.starts_at)} {slot.venue}）。予約番号を電話でお伝えください。",
                )
                nxt = reverse("admin:reservations_slot_phone_booking") + f"?menu={menu.pk}"
                if request.POST.get("_then") == "roster":
                    nxt = reverse("admin:reservations_slot_roster", args=[slot.pk])
                return HttpResponseRedirect(nxt)
        selected = form["slot"].value() or (chosen.pk if chosen else None)
        start = self._week_start(request, bookable, chosen)
        days = phone_booking_week(slots=bookable, start=start)
        return self.render(
            request,
            {
                "menus": menus,
                "menu": menu,
                "form": form,
                "days": [
                    {"day": d, "weekday": WEEKDAYS[d.weekday()], "slots": s, "holiday": d.weekday() >= 5}
                    for d, s in days
                ],
                "selected": str(selected or ""),
                "prev_week": (start - dt.timedelta(days=7)).isoformat()
                if start > _monday(timezone.localdate())
                else "",
                "next_week": (start + dt.timedelta(days=7)).isoformat(),
                "week_label": f"{start.month}月{start.day}日（{WEEKDAYS[start.weekday()]}）からの 1 週間",
            },
        )

    def _week_start(self, request: HttpRequest, bookable: Any, chosen: Slot | None) -> dt.date:
        try:
            return _monday(dt.date.fromisoformat(request.GET.get("week", "")))
        except ValueError:
            pass
        if chosen is not None:
            return _monday(timezone.localtime(chosen.starts_at).date())
        # The week of the first slot with a free place, so the clerk never starts on an empty week.
        first = bookable.filter(reserved__lt=F("capacity")).order_by("starts_at").first()
        return _monday(timezone.localtime(first.starts_at).date() if first else timezone.localdate())
