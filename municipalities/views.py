"""Resident-facing views of the core app: sign-in (signed link, LIFF ID token) and the
receive-settings entry point that the follow greeting links to."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from municipalities.line.liff import (
    LiffVerifyError,
    local_path,
    login_resident,
    next_from_liff_state,
    resident_for_id_token,
    resident_link_redeem,
    resident_required,
)
from municipalities.models import Municipality

logger = logging.getLogger(__name__)


def _safe_next(next_path: str | None) -> str:
    return local_path(next_path) or reverse("line:receive_settings")


def resident_link_view(request: HttpRequest, token: str) -> HttpResponse:
    """Open a link the bot sent: sign the resident in and go to the page it names.

    Good once and for ``RESIDENT_LINK_MAX_AGE_SECONDS``: an expired, used or copied link explains
    (403) how to get a fresh one from the chat.
    """
    redeemed = resident_link_redeem(token=token)
    if redeemed is None:
        return render(request, "liff/link_expired.html", {"page_title": "リンクの有効期限切れ"}, status=403)
    resident, next_path = redeemed
    login_resident(request, resident)
    return HttpResponseRedirect(_safe_next(next_path))


@require_GET
def liff_entry_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The LIFF endpoint URL of a town: inside LINE, the page gets an ID token and signs in."""
    municipality = get_object_or_404(Municipality, slug=slug)
    # Opened as https://liff.line.me/<LIFF ID>?next=…, LINE's first redirect carries the query
    # inside ``liff.state``.
    next_path = _safe_next(request.GET.get("next") or next_from_liff_state(request.GET.get("liff.state", "")))
    return render(
        request,
        "liff/signin.html",
        {"municipality": municipality, "next": next_path, "page_title": "ログイン"},
    )


@require_POST
def liff_signin_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The LIFF page posts its ID token here; LINE verifies it; the resident is signed in."""
    municipality = get_object_or_404(Municipality, slug=slug)
    id_token = request.POST.get("id_token", "")
    try:
        resident = resident_for_id_token(municipality=municipality, id_token=id_token)
    except LiffVerifyError as exc:
        logger.info("LIFF sign-in refused for %s: %s", slug, exc)
        return JsonResponse(
            {"ok": False, "message": "LINE でのログインを確認できませんでした。もう一度開いてください。"},
            status=403,
        )
    login_resident(request, resident)
    return JsonResponse({"ok": True, "next": _safe_next(request.POST.get("next"))})


@resident_required
def receive_settings_view(request: HttpRequest) -> HttpResponse:
    """Where the follow greeting points: the broadcasts app's settings page."""
    return HttpResponseRedirect(reverse("broadcasts:receive_settings"))
