"""Resident pages (LIFF): menus → calendar → slot → confirm → done, and 「予約の確認・変更」.

Every object is looked up through ``request.resident`` (its municipality, its bookings), so
another town's menu or another resident's booking is a 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.core.cache import cache
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from municipalities import resident_bookings
from municipalities.line.liff import (
    current_resident,
    resident_required,
    resident_town_required,
    signin_required,
)
from municipalities.memo import ProcessMemo, TrustedMemo
from municipalities.models import HouseholdMember
from municipalities.services import household_members_for_resident

from .eligibility import Candidate, age_rule_text, candidates_for, has_age_rule, rule_text
from .models import Menu, Reservation, Slot
from .rules import cancel_deadline, closes_at, format_dt, opens_at, waitlist_when, window_state
from .selectors import (
    menu_list,
    menu_month_calendar,
    nearest_alternatives,
    reservation_get_for_resident,
    reservation_on_slot_for_resident,
    reservations_for_resident,
    slots_for_menu,
    waitlist_for_resident,
)
from .services import ReservationError, reservation_book, reservation_cancel, reservation_change
from .services.places import availability_version


def _menu(request: HttpRequest, menu_id: int) -> Menu:
    try:
        return menu_list(municipality=request.resident.municipality).get(pk=menu_id)
    except Menu.DoesNotExist:
        raise Http404 from None


def slot_for_resident(request: HttpRequest, slot_id: int) -> Slot:
    try:
        return Slot.objects.select_related("menu__department").get(
            pk=slot_id, menu__department__municipality=request.resident.municipality
        )
    except Slot.DoesNotExist:
        raise Http404 from None


def _reservation(request: HttpRequest, reservation_id: int) -> Reservation:
    try:
        return reservation_get_for_resident(resident=request.resident, reservation_id=reservation_id)
    except Reservation.DoesNotExist:
        raise Http404 from None


@resident_required
def menus(request: HttpRequest) -> HttpResponse:
    items = list(menu_list(municipality=request.resident.municipality))
    upcoming = reservations_for_resident(resident=request.resident).count()
    return render(
        request, "liff/reservations/menus.html", {"menus": items, "upcoming": upcoming, "page_title": "予約"}
    )


CALENDAR_HTML_SECONDS = 30


def _calendar_table(menu: Menu, year: int, month: int) -> tuple[str, bool]:
    """The month grid as HTML, cached per menu version (bumped by every booking) for 30 s.

    The 30 s bound only delays a day turning × because its booking window closed; a booking or
    cancellation changes the version and shows at once in the process that made it, within
    ``VERSION_FRESH_SECONDS`` in the others.
    """
    version = availability_version(menu.pk)
    bucket = int(timezone.now().timestamp()) // CALENDAR_HTML_SECONDS
    key = f"rsv:calhtml:{menu.pk}:{version}:{year}-{month}:{bucket}"
    cached = cache.get(key)
    if cached is None:
        weeks = menu_month_calendar(menu=menu, year=year, month=month)
        html = render_to_string(
            "liff/reservations/_calendar_table.html",
            {"menu": menu, "weeks": weeks, "month": dt.date(year, month, 1)},
        )
        cached = (html, any(c.bookable for w in weeks for c in w if c.in_month))
        cache.set(key, cached, CALENDAR_HTML_SECONDS * 2)
    html, any_bookable = cached
    return mark_safe(html), any_bookable  # noqa: S308 - rendered from our own template above


def _calendar_key(menu_id: int, year: int, month: int, today: dt.date) -> tuple[str, str]:
    """The cache key of a month's page and its ETag: per availability version (bumped by every
    change of places and every edit of the menu), month, day and 30 s."""
    version = availability_version(menu_id)
    bucket = int(timezone.now().timestamp()) // CALENDAR_HTML_SECONDS
    stamp = f"{menu_id}:{version}:{year}-{month}:{today}:{bucket}"
    etag = f'"cal-{hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest()}"'
    return f"rsv:calpage:{stamp}", etag


# Pages this process served lately, by cache key: a key names one version of one page, so a page
# kept here is never out of date; the dict is only bounded.
_pages: ProcessMemo[str, tuple[int, str]] = ProcessMemo(limit=64)


def _calendar_cached(key: str) -> tuple[int, str] | None:
    page = _pages.get(key)
    if page is None:
        page = cache.get(key)
        if page is not None:
            _pages.keep(key, page)
    return page


@resident_town_required
def menu_calendar(request: HttpRequest, menu_id: int) -> HttpResponse:
    # The whole page is the same for every resident of the town (nothing per resident on it),
    # so it is rendered once and kept with the menu's town; a repeat view with the same ETag is
    # a 304. A cached page is served from the session alone, without reading the resident or
    # the menu: the town kept with it is the tenancy check (another town's menu stays a 404).
    today = timezone.localdate()
    try:
        year, month = (int(x) for x in request.GET.get("ym", "").split("-"))
        dt.date(year, month, 1)
    except ValueError:
        year = month = 0
    if year:
        key, etag = _calendar_key(menu_id, year, month, today)
        cached = _calendar_cached(key)
        if cached is not None:
            if cached[0] != request.resident_town_id:
                raise Http404
            return _calendar_response(request, cached[1], etag)
    resident = current_resident(request)
    if resident is None:
        return signin_required(request)
    request.resident = resident
    menu = _menu(request, menu_id)
    if not year:
        # Open on the month of the first slot still bookable, so a resident never starts on an empty month.
        first_open = (
            Slot.objects.filter(
                menu=menu,
                is_open=True,
                starts_at__gt=timezone.now() + dt.timedelta(hours=menu.closes_hours_before),
            )
            .order_by("starts_at")
            .values_list("starts_at", flat=True)
            .first()
        )
        start_day = timezone.localtime(first_open).date() if first_open else today
        year, month = start_day.year, start_day.month
    key, etag = _calendar_key(menu.pk, year, month, today)
    page = (menu.department.municipality_id, _calendar_page(request, menu, year, month, today))
    cache.set(key, page, CALENDAR_HTML_SECONDS * 2)
    _pages.keep(key, page)
    return _calendar_response(request, page[1], etag)


def _calendar_response(request: HttpRequest, page: str, etag: str) -> HttpResponse:
    if etag in request.headers.get("If-None-Match", ""):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(page)
    response["ETag"] = etag
    # Behind the resident's session: the browser may keep it but asks again each time.
    response["Cache-Control"] = "private, no-cache"
    return response


def _calendar_page(request: HttpRequest, menu: Menu, year: int, month: int, today: dt.date) -> str:
    table_html, any_bookable = _calendar_table(menu, year, month)
    first = dt.date(year, month, 1)
    prev_month = (first - dt.timedelta(days=1)).replace(day=1)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    context = {
        "menu": menu,
        "calendar_table": table_html,
        "month": first,
        "page_title": menu.name,
        "prev_ym": f"{prev_month:%Y-%m}" if prev_month >= today.replace(day=1) else "",
        "next_ym": f"{next_month:%Y-%m}" if next_month <= today + dt.timedelta(days=400) else "",
        "any_bookable": any_bookable,
    }
    if not context["any_bookable"] and not menu.is_suspended:
        context["alternatives"] = nearest_alternatives(menu=menu, around=timezone.now())
    # Rendered without the request (no context processors): the cached page holds nothing of the
    # visitor (messages, user); the town is the menu's, the same for every resident who sees it.
    context["municipality"] = request.resident.municipality
    return render_to_string("liff/reservations/calendar.html", context)


@resident_required
def menu_day(request: HttpRequest, menu_id: int, day: str) -> HttpResponse:
    menu = _menu(request, menu_id)
    try:
        on = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    views = slots_for_menu(menu=menu, on=on)
    context = {"menu": menu, "day": on, "slots": views, "page_title": menu.name}
    if not any(v.state == "open" for v in views):
        around = timezone.make_aware(dt.datetime.combine(on, dt.time(12, 0)))
        context["alternatives"] = nearest_alternatives(menu=menu, around=around)
    return render(request, "liff/reservations/day.html", context)


def _slot_problem(slot: Slot) -> str:
    now = timezone.now()
    menu = slot.menu
    if menu.is_suspended:
        return f"「{menu.name}」は現在、予約の受付を停止しています。"
    state = window_state(menu, slot.starts_at, now)
    if state == "not_yet":
        return f"この枠の予約受付は {format_dt(opens_at(menu, slot.starts_at))} からです。"
    if state == "closed":
        return f"この枠の予約受付は {format_dt(closes_at(menu, slot.starts_at))} で締め切りました。"
    if not slot.is_open or slot.reserved >= slot.capacity:
        return "申し訳ありません。この枠は満席です。"
    return ""


# The slots offered beside a refused one, by slot, for ALTERNATIVES_FRESH_SECONDS: in a rush
# every refusal of a full slot offers the same ones, while the bookings between them move the
# availability version many times a second (a memo by version would hardly ever be used). A
# slot offered may have filled within that second, as in another process's view of the
# version: the resident who taps it is told so there, with the slots near it then.
ALTERNATIVES_FRESH_SECONDS = 1.0
_alternatives: TrustedMemo[int, list[Slot]] = TrustedMemo(limit=256)


def _alternatives_near(menu: Menu, slot: Slot) -> list[Slot]:
    if (trusted := _alternatives.trusted(slot.pk)) is not None:
        return trusted
    found = nearest_alternatives(menu=menu, around=slot.starts_at, exclude_slot_id=slot.pk)
    return _alternatives.trust(slot.pk, found, ALTERNATIVES_FRESH_SECONDS)


def people_for_slot(
    request: HttpRequest, menu: Menu, slot: Slot, members: list[HouseholdMember] | None = None
) -> tuple[list[Candidate], bool]:
    """Who the resident may book this slot for, and whether to ask (members registered or an age rule)."""
    if members is None:
        members = list(household_members_for_resident(resident=request.resident))
    on = timezone.localtime(slot.starts_at).date()
    people = candidates_for(menu=menu, on=on, resident=request.resident, members=members)
    return people, bool(members) or has_age_rule(menu)


def chosen_member(request: HttpRequest, people: list[Candidate]) -> tuple[HouseholdMember | None, str]:
    """The member picked in the form (``person``), or None for the resident; ``value`` echoes the choice.

    With one eligible person and no choice posted, that person is taken (one tap fewer)."""
    value = request.POST.get("person", "")
    if not value:
        eligible = [p for p in people if not p.problem]
        value = eligible[0].value if len(eligible) == 1 else "self"
    for p in people:
        if p.value == value:
            return p.member, value
    return None, "self"


@resident_required
@require_http_methods(["GET", "POST"])
def slot_confirm(request: HttpRequest, slot_id: int) -> HttpResponse:
    slot = slot_for_resident(request, slot_id)
    menu = slot.menu
    questions = menu.question_list
    members = list(household_members_for_resident(resident=request.resident))
    error = ""
    error_code = ""
    answers = {}
    person = ""
    if request.method == "POST":
        answers = {q["key"]: request.POST.get(q["key"], "") for q in questions}
        if members:
            member, person = chosen_member(request, people_for_slot(request, menu, slot, members)[0])
        else:
            # Nobody registered: the booking is for the resident, whatever was posted (the
            # service checks the menu's rule); the page's candidates are not worked out.
            member, person = None, "self"
        try:
            reservation = reservation_book(
                slot=slot, resident=request.resident, member=member, answers=answers, slot_as_read=True
            )
        except ReservationError as exc:
            if exc.code in ("duplicate", "full"):
                # A double tap or a resubmitted form (their own first booking may have taken the
                # last place): show the booking they already have.
                existing = reservation_on_slot_for_resident(
                    resident=request.resident, slot=slot, member=member
                )
                if existing is not None:
                    return redirect("reservations:done", reservation_id=existing)
            error, error_code = exc.message, exc.code
            if error_code != "full" or slot.reserved < slot.capacity:
                slot.refresh_from_db()  # what changed since the page read it (full as read: nothing)
        else:
            return redirect("reservations:done", reservation_id=reservation.pk)
    prefetch_related_objects([menu], "eligible_areas")  # for the people and the rule alike
    people, ask_person = people_for_slot(request, menu, slot, members)
    if request.method != "POST":
        error = _slot_problem(slot)
        if error and slot.reserved >= slot.capacity:
            error_code = "full"
        eligible = [p for p in people if not p.problem]
        person = eligible[0].value if eligible else ""
        if not error and not eligible:
            error = (
                people[0].problem
                if len(people) == 1
                else (
                    f"この予約の対象（{age_rule_text(menu) or rule_text(menu)}）になる方が登録されていません。"
                    "「家族の登録」から登録してください。"
                )
            )
            error_code = "eligibility"
    can_waitlist = (
        error_code == "full"
        and menu.waitlist_enabled
        and window_state(menu, slot.starts_at, timezone.now()) == "open"
    )
    context = {
        "slot": slot,
        "menu": menu,
        "questions": [{**q, "value": answers.get(q["key"], "")} for q in questions],
        "error": error,
        "error_code": error_code,
        "people": people,
        "ask_person": ask_person,
        "person": person,
        "any_eligible": any(not p.problem for p in people),
        "rule": rule_text(menu),
        "can_waitlist": can_waitlist,
        "page_title": "予約内容の確認",
        "deadline": format_dt(cancel_deadline(menu, slot.starts_at)),
        "when": format_dt(slot.starts_at),
        "ends": timezone.localtime(slot.ends_at),
    }
    # Other slots help unless the answers, the person or their bookings are the problem. At the
    # menu's limit every slot is refused alike, and the page leads to their bookings instead; at
    # the limit per day, every slot of that day is: slots of other days are offered.
    if error_code == "limit_day":
        context["alternatives"] = nearest_alternatives(
            menu=menu,
            around=slot.starts_at,
            exclude_day=timezone.localtime(slot.starts_at).date(),
        )
    elif error and error_code not in ("answers", "duplicate", "eligibility", "limit_menu"):
        context["alternatives"] = _alternatives_near(menu, slot)
    status = 409 if error and request.method == "POST" else 200
    return render(request, "liff/reservations/confirm.html", context, status=status)


DONE_HEADINGS = {
    "booked": ("予約が確定しました", "ご予約ありがとうございます。LINE にも予約内容をお送りしました。"),
    "changed": (
        "予約を変更しました",
        "予約の日時を変更しました。新しい予約は次のとおりです（予約番号は変わりません）。LINE にもお送りしました。",
    ),
}


@resident_required
def done(request: HttpRequest, reservation_id: int) -> HttpResponse:
    reservation = _reservation(request, reservation_id)
    kind = "changed" if request.GET.get("after") == "changed" else "booked"
    heading, lead = DONE_HEADINGS[kind]
    return render(
        request,
        "liff/reservations/done.html",
        {
            "r": reservation,
            "when": format_dt(reservation.slot.starts_at),
            "page_title": heading,
            "lead": lead,
            "kind": kind,
            "deadline": format_dt(cancel_deadline(reservation.slot.menu, reservation.slot.starts_at)),
        },
    )


@resident_required
def my_list(request: HttpRequest) -> HttpResponse:
    items = [
        {"r": r, "when": format_dt(r.slot.starts_at)}
        for r in reservations_for_resident(resident=request.resident)
    ]
    waiting = [
        {"e": e, "position": position, "when": waitlist_when(e)}
        for e, position in waitlist_for_resident(resident=request.resident)
    ]
    return render(
        request,
        "liff/reservations/my_list.html",
        {
            "items": items,
            "waiting": waiting,
            "elsewhere": resident_bookings.upcoming_elsewhere(request.resident),
            "page_title": "予約の確認・変更",
        },
    )


@resident_required
def my_detail(request: HttpRequest, reservation_id: int) -> HttpResponse:
    reservation = _reservation(request, reservation_id)
    deadline = cancel_deadline(reservation.slot.menu, reservation.slot.starts_at)
    can_change = reservation.is_active and timezone.now() < deadline
    return render(
        request,
        "liff/reservations/my_detail.html",
        {
            "r": reservation,
            "when": format_dt(reservation.slot.starts_at),
            "deadline": format_dt(deadline),
            "can_change": can_change,
            "page_title": "予約の内容",
        },
    )


@resident_required
@require_POST
def my_cancel(request: HttpRequest, reservation_id: int) -> HttpResponse:
    reservation = _reservation(request, reservation_id)
    try:
        reservation_cancel(reservation=reservation)
    except ReservationError as exc:
        return render(
            request,
            "liff/reservations/my_detail.html",
            {
                "r": reservation,
                "when": format_dt(reservation.slot.starts_at),
                "error": exc.message,
                "page_title": "予約の内容",
            },
            status=409,
        )
    reservation.refresh_from_db()
    return render(
        request,
        "liff/reservations/cancelled.html",
        {
            "r": reservation,
            "when": format_dt(reservation.slot.starts_at),
            "page_title": "予約をキャンセルしました",
        },
    )


@resident_required
@require_http_methods(["GET", "POST"])
def my_change(request: HttpRequest, reservation_id: int) -> HttpResponse:
    """The same month calendar as booking (``?ym=``); a day (``?day=``) lists its free slots to move to."""
    reservation = _reservation(request, reservation_id)
    menu = reservation.slot.menu
    error = ""
    if request.method == "POST":
        try:
            new_slot = Slot.objects.get(pk=int(request.POST.get("slot", "0")), menu=menu)
            reservation_change(reservation=reservation, new_slot=new_slot)
        except (ValueError, Slot.DoesNotExist):
            error = "変更先の枠を選んでください。"
        except ReservationError as exc:
            error = exc.message
        else:
            return redirect(reverse("reservations:done", args=[reservation.pk]) + "?after=changed")
    today = timezone.localdate()
    current_day = timezone.localtime(reservation.slot.starts_at).date()
    day = None
    try:
        day = dt.date.fromisoformat(request.GET.get("day") or request.POST.get("day") or "")
    except ValueError:
        day = None
    try:
        year, month = (int(x) for x in request.GET.get("ym", "").split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        first = (day or current_day).replace(day=1)
    weeks = menu_month_calendar(menu=menu, year=first.year, month=first.month)
    change_url = reverse("reservations:my_change", args=[reservation.pk])
    table = render_to_string(
        "liff/reservations/_calendar_table.html",
        {"menu": menu, "weeks": weeks, "month": first, "change_url": change_url},
    )
    prev_month = (first - dt.timedelta(days=1)).replace(day=1)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    options = []
    if day is not None:
        options = [
            (v.slot, format_dt(v.slot.starts_at))
            for v in slots_for_menu(menu=menu, on=day)
            if v.state == "open" and v.slot.pk != reservation.slot_id
        ]
    return render(
        request,
        "liff/reservations/change.html",
        {
            "r": reservation,
            "menu": menu,
            "when": format_dt(reservation.slot.starts_at),
            "calendar_table": mark_safe(table),  # noqa: S308 - rendered from our own template above
            "month": first,
            "prev_ym": f"{prev_month:%Y-%m}" if prev_month >= today.replace(day=1) else "",
            "next_ym": f"{next_month:%Y-%m}" if next_month <= today + dt.timedelta(days=400) else "",
            "day": day,
            "options": options,
            "error": error,
            "page_title": "予約の変更",
        },
        status=409 if error else 200,
    )
