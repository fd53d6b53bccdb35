"""Resident pages (LIFF) of the waitlist (キャンセル待ち): join a full slot, and the offer page the
LINE push opens (予約する / 辞退する). Entries are looked up through ``request.resident``."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from municipalities.line.liff import resident_required
from municipalities.services import household_members_for_resident

from .eligibility import candidates_for, has_age_rule, rule_text
from .liff import chosen_member, people_for_slot, slot_for_resident
from .models import Menu, WaitlistEntry, WaitlistStatus
from .rules import format_day, format_dt, waitlist_when
from .selectors import menu_list, waitlist_position
from .services import ReservationError, waitlist_accept, waitlist_join, waitlist_leave


def _entry(request: HttpRequest, entry_id: int) -> WaitlistEntry:
    entry = (
        WaitlistEntry.objects.select_related("menu__department", "slot", "member")
        .filter(pk=entry_id, resident=request.resident)
        .first()
    )
    if entry is None:
        raise Http404
    return entry


@resident_required
@require_POST
def join(request: HttpRequest, slot_id: int) -> HttpResponse:
    """One tap from the day page or the confirm page. When the resident must say for whom (family
    registered, or an age rule) and did not, the confirm page asks first."""
    slot = slot_for_resident(request, slot_id)
    menu = slot.menu
    people, ask_person = people_for_slot(request, menu, slot)
    if ask_person and "person" not in request.POST and len([p for p in people if not p.problem]) != 1:
        return redirect("reservations:confirm", slot_id=slot.pk)
    member, _value = chosen_member(request, people)
    answers = {q["key"]: request.POST.get(q["key"], "") for q in menu.question_list}
    try:
        entry = waitlist_join(slot=slot, resident=request.resident, member=member, answers=answers)
    except ReservationError as exc:
        if exc.code in ("answers", "not_full") or (exc.code == "eligibility" and ask_person):
            return redirect("reservations:confirm", slot_id=slot.pk)
        return render(
            request,
            "liff/reservations/waitlist.html",
            {"error": exc.message, "slot": slot, "menu": menu, "page_title": "キャンセル待ち"},
            status=409,
        )
    return redirect("reservations:waitlist", entry_id=entry.pk)


@resident_required
@require_http_methods(["GET", "POST"])
def join_day(request: HttpRequest, menu_id: int, day: str) -> HttpResponse:
    """キャンセル待ち for any slot of a full day, one tap from the day page. When the resident
    must say for whom or answer the menu's questions, this page asks first (GET shows it)."""
    try:
        menu = menu_list(municipality=request.resident.municipality).get(pk=menu_id)
        on = dt.date.fromisoformat(day)
    except (Menu.DoesNotExist, ValueError):
        raise Http404 from None
    members = list(household_members_for_resident(resident=request.resident))
    people = candidates_for(menu=menu, on=on, resident=request.resident, members=members)
    ask_person = bool(members) or has_age_rule(menu)
    questions = menu.question_list
    answers = {q["key"]: request.POST.get(q["key"], "") for q in questions}
    member, person = chosen_member(request, people)
    error = error_code = ""
    eligible = [p for p in people if not p.problem]
    must_ask = request.method == "GET" or (
        "person" not in request.POST
        and "answered" not in request.POST
        and ((ask_person and len(eligible) != 1) or any(q["required"] for q in questions))
    )
    if not must_ask:
        try:
            entry = waitlist_join(
                menu=menu, day=on, resident=request.resident, member=member, answers=answers
            )
        except ReservationError as exc:
            error, error_code = exc.message, exc.code
        else:
            return redirect("reservations:waitlist", entry_id=entry.pk)
    if error and error_code not in ("answers", "eligibility"):
        return render(
            request,
            "liff/reservations/waitlist.html",
            {"error": error, "menu": menu, "page_title": "キャンセル待ち"},
            status=409,
        )
    return render(
        request,
        "liff/reservations/waitlist_day.html",
        {
            "menu": menu,
            "day": on,
            "when": format_day(on),
            "rule": rule_text(menu),
            "people": people,
            "ask_person": ask_person,
            "person": person if any(p.value == person for p in eligible) else "",
            "questions": [{**q, "value": answers.get(q["key"], "")} for q in questions],
            "error": error,
            "error_code": error_code,
            "page_title": "キャンセル待ち",
        },
        status=409 if error else 200,
    )


@resident_required
@require_http_methods(["GET", "POST"])
def entry_page(request: HttpRequest, entry_id: int) -> HttpResponse:
    """The entry: its place in line, or the offer with 予約する (POST ``accept``) / 辞退する (``leave``)."""
    entry = _entry(request, entry_id)
    error = ""
    if request.method == "POST":
        try:
            if "accept" in request.POST:
                reservation = waitlist_accept(entry=entry, resident=request.resident)
                return redirect("reservations:done", reservation_id=reservation.pk)
            waitlist_leave(entry=entry, resident=request.resident)
            return redirect("reservations:waitlist", entry_id=entry.pk)
        except ReservationError as exc:
            error = exc.message
        entry.refresh_from_db()
    offered = entry.status == WaitlistStatus.OFFERED and entry.hold_until > timezone.now()
    return render(
        request,
        "liff/reservations/waitlist.html",
        {
            "entry": entry,
            "slot": entry.slot,
            "menu": entry.menu,
            "when": waitlist_when(entry),
            "offered": offered,
            "hold_until": format_dt(entry.hold_until) if entry.hold_until else "",
            "position": waitlist_position(entry=entry) if entry.status == WaitlistStatus.WAITING else None,
            "error": error,
            "page_title": "キャンセル待ち",
        },
        status=409 if error else 200,
    )
