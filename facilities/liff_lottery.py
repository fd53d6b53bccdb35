"""Resident pages of the lottery (抽選): apply to a 抽選 frame from the week grid, see the result,
pay a win (the booking's page) or, after a loss, book one of the room's free frames instead."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from facilities.errors import FacilityError
from facilities.liff import day_label, frame_for, last_details, parse_day, room_for_resident
from facilities.liff_forms import ERROR_FIELDS, GroupForm
from facilities.models import LotteryApplication, LotteryApplicationStatus, LotteryFrame
from facilities.selectors import week_grid
from facilities.selectors_lottery import lottery_window_state
from facilities.services.lottery import lottery_apply, lottery_withdraw
from municipalities.line.liff import resident_required

OFFERED = 8  # free frames offered after a loss


def _when(value: dt.datetime) -> str:
    local = timezone.localtime(value)
    return f"{day_label(local.date())} {local:%H:%M}"


@resident_required
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, room_id: int, day: str, frame_id: int) -> HttpResponse:
    room = room_for_resident(request, room_id)
    frame = frame_for(room, frame_id)
    use_date = parse_day(day)
    lottery_frame = (
        LotteryFrame.objects.select_related("round")
        .filter(room=room, use_date=use_date, starts_at=frame.starts_at)
        .first()
    )
    if lottery_frame is None:
        raise Http404
    round_ = lottery_frame.round
    error = ""
    if request.method == "POST":
        form = GroupForm(request.POST, room=room)
        if form.is_valid():
            try:
                application = lottery_apply(
                    lottery_frame=lottery_frame, group=form.group(), resident=request.resident
                )
            except FacilityError as exc:
                field = ERROR_FIELDS.get(exc.code or "")
                if field and field in form.fields:
                    form.add_error(field, exc.message)
                else:
                    error = exc.message
            else:
                messages.success(
                    request,
                    f"抽選に申し込みました。結果は {_when(round_.draw_at)} ごろ LINE でお知らせします。",
                )
                return redirect("facilities:lottery_detail", application_id=application.pk)
    else:
        form = GroupForm(initial=last_details(request), room=room)
        state = lottery_window_state(round_)
        if state == "not_yet":
            error = f"この抽選の申込は {_when(round_.applications_open_at)} から受け付けます。"
        elif state != "open":
            error = "この抽選の申込は締め切りました。"
    context = {
        "room": room,
        "facility": room.facility,
        "frame": frame,
        "use_date": use_date,
        "day_label": day_label(use_date),
        "round": round_,
        "close_label": _when(round_.applications_close_at),
        "draw_label": _when(round_.draw_at),
        "form": form,
        "error": error,
        "page_title": "抽選の申込",
    }
    status = 409 if request.method == "POST" and (error or form.errors) else 200
    return render(request, "liff/facilities/lottery_apply.html", context, status=status)


def _own_application(request: HttpRequest, application_id: int) -> LotteryApplication:
    application = (
        LotteryApplication.objects.select_related(
            "round", "lottery_frame__room__facility", "lottery_frame__frame", "booking"
        )
        .filter(pk=application_id, resident=request.resident)
        .first()
    )
    if application is None:
        raise Http404
    return application


def free_frames_after_loss(application: LotteryApplication) -> list[dict[str, object]]:
    """Free frames of the same room in the frame's month, the nearest to the lost frame first
    (booking links: first come, first served)."""
    lottery_frame = application.lottery_frame
    room = lottery_frame.room
    lost_day = lottery_frame.use_date
    start = max(timezone.localdate(), lost_day.replace(day=1))
    month_end = (lost_day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    if start >= month_end:
        return []
    grid = week_grid(room=room, start=start, days=(month_end - start).days)
    free = [c for c in grid.cells.values() if c.state == "free"]
    free.sort(key=lambda c: (abs((c.day - lost_day).days), c.day, c.frame.starts_at))
    return [
        {
            "label": f"{day_label(c.day)} {c.frame.name} {c.frame.starts_at:%H:%M}〜{c.frame.ends_at:%H:%M}",
            "url": reverse("facilities:book", args=[room.pk, c.day.isoformat(), c.frame.pk]),
            "day": c.day,
            "frame": c.frame.pk,
        }
        for c in free[:OFFERED]
    ]


@resident_required
def detail(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _own_application(request, application_id)
    lottery_frame = application.lottery_frame
    round_ = application.round
    lost = application.status in (LotteryApplicationStatus.LOST,)
    context = {
        "a": application,
        "lf": lottery_frame,
        "day_label": day_label(lottery_frame.use_date),
        "draw_label": _when(round_.draw_at),
        "due_label": _when(round_.payment_due_at),
        "can_withdraw": application.status == LotteryApplicationStatus.APPLIED
        and lottery_window_state(round_) == "open",
        "offered": free_frames_after_loss(application) if lost else [],
        "page_title": "抽選の申込",
    }
    return render(request, "liff/facilities/lottery_detail.html", context)


@resident_required
@require_POST
def withdraw(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _own_application(request, application_id)
    try:
        lottery_withdraw(application=application, resident=request.resident)
    except FacilityError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "抽選の申込を取り下げました。")
    return redirect("facilities:lottery_detail", application_id=application.pk)
