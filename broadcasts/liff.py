"""Resident pages of the broadcasts app: 受信設定 (what notices to receive)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from broadcasts.services.preferences import receive_settings_left, receive_settings_update
from municipalities.errors import ServiceError
from municipalities.line.liff import resident_required
from municipalities.models import AgeBand, Area, Interest


@resident_required
@require_http_methods(["GET", "POST"])
def receive_settings(request: HttpRequest) -> HttpResponse:
    """One page, one tap per change: every control is its own small form that saves at once and
    is confirmed on the page; LINE gets one summary when the resident leaves (``action=leave``).

    Looks interests and areas up through the resident's town, so another town's ids are a 404.
    """
    resident = request.resident  # type: ignore[attr-defined]
    town = resident.municipality
    if request.method == "POST" and request.POST.get("action") == "leave":
        # The page's beacon when the resident leaves it: one summary in LINE if they changed
        # anything (nothing to show: the page is gone).
        receive_settings_left(resident=resident)
        return HttpResponse(status=204)
    if request.method == "POST":
        try:
            notice = _apply(request, resident)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, notice)
        return redirect("broadcasts:receive_settings")
    chosen = set(resident.interests.values_list("pk", flat=True))
    interests = [
        {"interest": interest, "on": interest.pk in chosen}
        for interest in Interest.objects.filter(municipality=town).order_by("sort_order", "code")
    ]
    context = {
        "municipality": town,
        "resident": resident,
        "interests": interests,
        "areas": Area.objects.filter(municipality=town).order_by("sort_order", "name"),
        "age_bands": AgeBand.choices,
        "page_title": _("受信設定"),
    }
    return render(request, "liff/broadcasts/settings.html", context)


def _apply(request: HttpRequest, resident) -> str:  # noqa: ANN001 - Resident
    action = request.POST.get("action", "")
    town = resident.municipality
    if action == "interest":
        interest = get_object_or_404(Interest, municipality=town, pk=request.POST.get("interest") or 0)
        chosen = set(resident.interests.values_list("pk", flat=True))
        on = request.POST.get("on") == "1"
        chosen = chosen | {interest.pk} if on else chosen - {interest.pk}
        receive_settings_update(
            resident=resident, interests=Interest.objects.filter(municipality=town, pk__in=chosen)
        )
        if on:
            return _("「%(name)s」のお知らせを受け取ります。") % {"name": interest.name}
        return _("「%(name)s」のお知らせを止めました。") % {"name": interest.name}
    if action == "pause":
        paused = request.POST.get("paused") == "1"
        receive_settings_update(resident=resident, notices_paused=paused)
        if paused:
            return _("お知らせを停止しました。緊急のお知らせ（避難情報など）は届きます。")
        return _("お知らせの受け取りを再開しました。")
    if action == "area":
        value = request.POST.get("area", "")
        area = get_object_or_404(Area, municipality=town, pk=value) if value else None
        receive_settings_update(resident=resident, area=area)
        return (
            _("地区を「%(name)s」にしました。") % {"name": area.name}
            if area
            else _("地区の設定を外しました。")
        )
    if action == "age":
        band = request.POST.get("age_band", "")
        receive_settings_update(resident=resident, age_band=band)
        label = dict(AgeBand.choices).get(band)
        return (
            _("年代を「%(band)s」にしました。") % {"band": label} if label else _("年代の設定を外しました。")
        )
    raise ServiceError(_("もう一度お試しください。"))
