"""Resident-facing views of the core app: sign-in by signed link."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from municipalities.line.liff import login_resident, read_resident_token
from municipalities.models import Resident


def resident_link_view(request: HttpRequest, token: str) -> HttpResponse:
    """Open a link the bot sent: sign the resident in and go to the page it names."""
    data = read_resident_token(token)
    resident = (
        Resident.objects.filter(pk=data["r"], municipality_id=data["m"], is_following=True).first()
        if data
        else None
    )
    if resident is None:
        return render(request, "liff/link_expired.html", status=403)
    login_resident(request, resident)
    next_path = data["n"]
    if not url_has_allowed_host_and_scheme(next_path, allowed_hosts=None) or not next_path.startswith("/"):
        next_path = "/"
    return HttpResponseRedirect(next_path)
