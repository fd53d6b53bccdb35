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
from municipalities.models import Area, Resident
from municipalities.services import household_members_for_resident

from .admin_views import StaffPage
from .eligibility import age_rule_text, area_ids, has_age_rule, rule_text
from .forms import PhoneBookingForm
from .models import Menu, Slot
from .rules import format_day, format_dt
from .selectors import (
    callers_for_department,
    phone_booking_week,
    resident_for_phone_booking,
    residents_for_phone_booking,
    upcoming_booking_of,
    waitlist_position,
)
from .services import ReservationError, reservation_book, waitlist_join

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
                    # 予約する人: the household members the resident registered (a child's checkup).
                    "members": [
                        {"id": m.pk, "label": f"{m}・{m.birth_date_wareki}生"}
                        for m in household_members_for_resident(resident=r)
                    ],
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
        resident = None
        if str(request.POST.get("resident") or "").isdigit():
            resident = resident_for_phone_booking(
                department=menu.department, resident_id=request.POST["resident"]
            )
        form = PhoneBookingForm(
            request.POST or None,
            slots=bookable,
            questions=menu.question_list,
            initial=initial,
            members=household_members_for_resident(resident=resident) if resident is not None else (),
            areas=Area.objects.filter(municipality_id=menu.department.municipality_id),
        )
        if request.method == "POST" and form.is_valid():
            try:
                if "_waitlist" in request.POST:
                    return self._join_waitlist(request, menu, form, resident)
                return self._book(request, menu, form, resident)
            except ReservationError as exc:
                message = exc.message
                if exc.code == "full" and menu.waitlist_enabled:
                    message += " 「キャンセル待ちに登録」を押すと、この方をキャンセル待ちにできます。"
                form.add_error(None, message)
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
                "age_rule": age_rule_text(menu) if has_age_rule(menu) else "",
                "area_rule": bool(area_ids(menu)),
                "rule": rule_text(menu),
            },
        )

    def _person(self, form: PhoneBookingForm, resident: Resident | None) -> dict[str, Any]:
        """Who the booking or the waitlist entry is for, as the services take it."""
        member = None
        if resident is not None and form.cleaned_data.get("member"):
            member = (
                household_members_for_resident(resident=resident)
                .filter(pk=form.cleaned_data["member"])
                .first()
            )
        return {
            "resident": resident,
            "member": member,
            "name": "" if resident else form.cleaned_data["name"],
            "kana": form.cleaned_data["kana"],
            "phone": form.cleaned_data["phone"],
            "birth_date": form.cleaned_data.get("birth_date"),
            "area": form.cleaned_data.get("area"),
        }

    def _book(
        self, request: HttpRequest, menu: Menu, form: PhoneBookingForm, resident: Resident | None
    ) -> HttpResponse:
        slot = form.cleaned_data["slot"]
        reservation = reservation_book(
            slot=slot, actor=request.user, answers=form.answers(), **self._person(form, resident)
        )
        messages.success(
            request,
            f"予約しました。予約番号 {reservation.code}（{reservation.display_name} さん・"
            f"{format_dt(slot.starts_at)} {slot.venue}）。予約番号を電話でお伝えください。",
        )
        nxt = reverse("admin:reservations_slot_phone_booking") + f"?menu={menu.pk}"
        if request.POST.get("_then") == "roster":
            nxt = reverse("admin:reservations_slot_roster", args=[slot.pk])
        return HttpResponseRedirect(nxt)

    def _join_waitlist(
        self, request: HttpRequest, menu: Menu, form: PhoneBookingForm, resident: Resident | None
    ) -> HttpResponse:
        """The chosen slot (or, with 「この日のどの時間でもよい」, its whole day) is full: the caller waits."""
        slot = form.cleaned_data["slot"]
        day = timezone.localtime(slot.starts_at).date()
        whole_day = form.cleaned_data.get("whole_day")
        entry = waitlist_join(
            slot=None if whole_day else slot,
            menu=menu,
            day=day,
            actor=request.user,
            answers=form.answers(),
            **self._person(form, resident),
        )
        when = (
            f"{format_day(day)} のどの時間でも" if whole_day else f"{format_dt(slot.starts_at)} {slot.venue}"
        )
        then = (
            "空きが出たら LINE でご案内します"
            if resident is not None
            else "空きが出たら名簿とキャンセル待ちの一覧に「案内中」と出ますので、お電話でご案内ください"
        )
        messages.success(
            request,
            f"キャンセル待ちに登録しました（{entry.display_name} さん・{when}・{waitlist_position(entry=entry)} 番目）。"
            f"{then}（席の確保は {menu.waitlist_hold_minutes} 分）。",
        )
        return HttpResponseRedirect(reverse("admin:reservations_slot_phone_booking") + f"?menu={menu.pk}")

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
