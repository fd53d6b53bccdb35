"""Resident sign-in for resident pages (LIFF).

Two ways end in the same session, bound to one resident of one municipality:

- a signed, short-lived link the bot sends (``resident_link``), opened at ``/r/<token>/``;
- a LIFF ID token posted by the page and verified with LINE (``/liff/signin/``).

Views for residents are wrapped in ``resident_required`` and read ``request.resident``; they
look every object up through it, so another resident's data is a 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from municipalities.models import Municipality, Resident

logger = logging.getLogger(__name__)

SESSION_KEY = "resident_id"
LINK_SALT = "municipalities.line.liff.resident_link"
LINK_MAX_AGE_SECONDS = 60 * 60 * 24  # a link in the talk stays usable for a day


def resident_token(resident: Resident, next_path: str) -> str:
    return signing.dumps(
        {"r": resident.pk, "m": resident.municipality_id, "n": next_path}, salt=LINK_SALT, compress=True
    )


def resident_link(resident: Resident, next_path: str, *, base_url: str | None = None) -> str:
    """An absolute URL that signs ``resident`` in and opens ``next_path`` (a local path)."""
    base = (base_url if base_url is not None else settings.SITE_URL).rstrip("/")
    return base + reverse("line:resident_link", kwargs={"token": resident_token(resident, next_path)})


def read_resident_token(token: str) -> dict[str, Any] | None:
    try:
        return signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None


def login_resident(request: HttpRequest, resident: Resident) -> None:
    if request.session.get(SESSION_KEY) != resident.pk:
        request.session.cycle_key()
    request.session[SESSION_KEY] = resident.pk


def current_resident(request: HttpRequest) -> Resident | None:
    resident_id = request.session.get(SESSION_KEY)
    if not resident_id:
        return None
    return Resident.objects.select_related("municipality").filter(pk=resident_id, is_following=True).first()


def resident_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only a signed-in resident gets through; ``request.resident`` is set."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        resident = current_resident(request)
        if resident is None:
            context = {"next": request.get_full_path(), "query": urlencode({"next": request.get_full_path()})}
            return render(request, "liff/signin_required.html", context, status=403)
        request.resident = resident  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


class LiffVerifyError(Exception):
    """The ID token was not accepted (expired, for another channel, forged, or LINE unreachable)."""


def liff_client_id(municipality: Municipality) -> str:
    """The channel id an ID token must be issued for.

    A LIFF app belongs to a LINE Login channel, and its LIFF ID starts with that channel's id
    (``1234567890-AbcdEfgh``); without a LIFF ID the municipality's channel id is used.
    """
    if municipality.liff_id and "-" in municipality.liff_id:
        return municipality.liff_id.split("-", 1)[0]
    return municipality.line_channel_id


def id_token_verify(*, municipality: Municipality, id_token: str) -> dict[str, Any]:
    """Ask LINE (``POST {LINE_API_BASE_URL}/oauth2/v2.1/verify``) whether ``id_token`` is valid for
    this town's channel; return its claims (``sub`` is the LINE user id). Raises LiffVerifyError."""
    client_id = liff_client_id(municipality)
    if not id_token or not client_id:
        raise LiffVerifyError("no ID token or no channel id")
    try:
        response = requests.post(
            f"{settings.LINE_API_BASE_URL}/oauth2/v2.1/verify",
            data={"id_token": id_token, "client_id": client_id},
            timeout=settings.LINE_API_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise LiffVerifyError(f"verify endpoint unreachable: {exc}") from exc
    try:
        claims = response.json()
    except ValueError:
        claims = {}
    if response.status_code != 200:
        raise LiffVerifyError(f"{response.status_code}: {claims.get('error_description') or claims}")
    if claims.get("aud") != client_id or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LiffVerifyError("the token was issued for another channel")
    return claims


def resident_for_id_token(*, municipality: Municipality, id_token: str) -> Resident:
    """The following resident of ``municipality`` that ``id_token`` belongs to."""
    claims = id_token_verify(municipality=municipality, id_token=id_token)
    resident = Resident.objects.filter(
        municipality=municipality, line_user_id=claims["sub"], is_following=True
    ).first()
    if resident is None:
        raise LiffVerifyError("not a friend of this account")
    return resident
