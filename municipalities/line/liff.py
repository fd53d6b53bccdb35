"""Resident sign-in for resident pages (LIFF).

Two ways end in the same session, bound to one resident of one municipality:

- a LIFF ID token posted by the page and verified with LINE (``/liff/signin/``). Where the town
  has a LIFF app, every link the bot sends is ``https://liff.line.me/<LIFF ID>?next=<path>``: the
  URL grants nothing by itself, so it may be logged and works as long as the page it names;
- elsewhere a signed link (``resident_link``), opened at ``/r/<token>/``: bound to the resident and
  town, short-lived (``RESIDENT_LINK_MAX_AGE_SECONDS``) and good once (``ResidentLinkUse``).

Copies staff can read (the talk log, the simulator's record) never hold such a token:
``redact_resident_links`` replaces each by the plain page URL before they are stored.

Views for residents are wrapped in ``resident_required`` and read ``request.resident``; they
look every object up through it, so another resident's data is a 404. A page that is the same for
every resident of a town (the availability calendar) may use ``resident_town_required`` instead:
it reads the session only, not the resident.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, MutableMapping
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme

from municipalities.memo import TrustedMemo
from municipalities.models import Municipality, Resident, ResidentLinkUse

logger = logging.getLogger(__name__)

SESSION_KEY = "resident_id"
TOWN_SESSION_KEY = "resident_town_id"
LINK_SALT = "municipalities.line.liff.resident_link"
LIFF_URL = "https://liff.line.me/"

# A sign-in link anywhere in a string: optional scheme and host, then /r/<signed token>/.
# Keep the token alphabet in sync with django.core.signing (URL-safe base64, ":" and ".").
_LINK_RE = re.compile(r"(?:https?://[^\s/\"'<>]+)?/r/(?P<token>[A-Za-z0-9_\-:.]+)/")


def resident_token(resident: Resident, next_path: str) -> str:
    """Signed: resident, town, page, and a random nonce that ``resident_link_redeem`` spends."""
    return signing.dumps(
        {"r": resident.pk, "m": resident.municipality_id, "n": next_path, "x": secrets.token_urlsafe(16)},
        salt=LINK_SALT,
        compress=True,
    )


def resident_link(resident: Resident, next_path: str, *, base_url: str | None = None) -> str:
    """An absolute URL that opens ``next_path`` (a local path) signed in as ``resident``.

    With a LIFF app: the LIFF URL (LINE signs the resident in; the URL itself grants nothing).
    Without: a one-time, short-lived signed link (see ``resident_link_redeem``).
    """
    liff_id = resident.municipality.liff_id
    if liff_id:
        return f"{LIFF_URL}{liff_id}?{urlencode({'next': next_path})}"
    base = (base_url if base_url is not None else settings.SITE_URL).rstrip("/")
    return base + reverse("line:resident_link", kwargs={"token": resident_token(resident, next_path)})


def read_resident_token(token: str, *, max_age: int | None = None) -> dict[str, Any] | None:
    """The token's content if its signature holds and it is younger than ``max_age`` seconds
    (default ``RESIDENT_LINK_MAX_AGE_SECONDS``); None otherwise."""
    try:
        data = signing.loads(
            token,
            salt=LINK_SALT,
            max_age=settings.RESIDENT_LINK_MAX_AGE_SECONDS if max_age is None else max_age,
        )
    except signing.BadSignature:  # SignatureExpired included
        return None
    return data if isinstance(data, dict) else None


def resident_link_redeem(*, token: str) -> tuple[Resident, str] | None:
    """Spend a sign-in link: the resident and the page it opens, or None.

    None when the signature fails, the link is older than ``RESIDENT_LINK_MAX_AGE_SECONDS``, the
    resident no longer follows the account, or the link was opened before: the unique nonce of
    ``ResidentLinkUse`` lets exactly one opening win, whichever browser or replay comes second.
    """
    data = read_resident_token(token)
    if not data or not isinstance(data.get("x"), str) or not isinstance(data.get("n"), str):
        return None  # a link without a nonce predates single use: refuse it
    resident = Resident.objects.filter(pk=data["r"], municipality_id=data["m"], is_following=True).first()
    if resident is None:
        return None
    try:
        with transaction.atomic():
            ResidentLinkUse.objects.create(
                municipality_id=resident.municipality_id, resident=resident, nonce=data["x"]
            )
    except IntegrityError:
        return None
    return resident, data["n"]


def redact_resident_links(value: Any) -> Any:
    """A copy of ``value`` (message JSON, or a string) without usable sign-in links.

    Every ``/r/<token>/`` URL signed by ``resident_link`` (in uri actions, text, altText, flex
    contents: the whole JSON is walked) becomes the plain page URL ``SITE_URL + next_path``,
    which without a resident session shows the sign-in-required page. Called before a message is
    stored where staff can read it (talk log, simulator record); LINE itself gets the real link.
    Strings that merely look like a link but carry no valid signature are left as they are.
    """
    if isinstance(value, str):
        return _LINK_RE.sub(_plain_url, value) if "/r/" in value else value
    if isinstance(value, dict):
        return {key: redact_resident_links(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_resident_links(item) for item in value]
    return value


def _plain_url(match: re.Match[str]) -> str:
    try:  # expired or not, the page is what the link named
        data = signing.loads(match.group("token"), salt=LINK_SALT)
    except signing.BadSignature:
        return match.group(0)
    next_path = data.get("n") if isinstance(data, dict) else None
    if not isinstance(next_path, str) or not next_path.startswith("/"):
        next_path = reverse("line:receive_settings")
    return settings.SITE_URL.rstrip("/") + next_path


def local_path(value: Any) -> str | None:
    """``value`` when it is a path on this site ("/liff/…", a single leading slash), else None:
    where a resident page may send the browser next (no open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 32 for ch in value):
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=set(), require_https=False):
        return None
    return value


def next_from_liff_state(liff_state: str) -> str | None:
    """The ``next`` carried inside LIFF's ``liff.state`` (LINE moves the LIFF URL's path and query
    there on the first redirect: ``liff.state=?next=%2Fliff%2F…``)."""
    if not liff_state:
        return None
    values = parse_qs(urlsplit(liff_state).query).get("next")
    return values[0] if values else None


def resident_session_start(session: MutableMapping[str, Any], resident: Resident) -> None:
    """What a signed-in resident's session holds: the resident and their town."""
    session[SESSION_KEY] = resident.pk
    session[TOWN_SESSION_KEY] = resident.municipality_id


def login_resident(request: HttpRequest, resident: Resident) -> None:
    if request.session.get(SESSION_KEY) != resident.pk:
        request.session.cycle_key()
    resident_session_start(request.session, resident)


def current_resident(request: HttpRequest) -> Resident | None:
    resident_id = request.session.get(SESSION_KEY)
    if not resident_id:
        return None
    # One row by primary key: no ORDER BY (the model's ordering costs more to compile than the read).
    found = Resident.objects.select_related("municipality").filter(pk=resident_id, is_following=True)
    return next(iter(found.order_by()[:1]), None)


def signin_required(request: HttpRequest) -> HttpResponse:
    context = {"next": request.get_full_path(), "query": urlencode({"next": request.get_full_path()})}
    return render(request, "liff/signin_required.html", context, status=403)


def resident_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only a signed-in resident gets through; ``request.resident`` is set."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        resident = current_resident(request)
        if resident is None:
            return signin_required(request)
        request.resident = resident  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


# A resident's town as their session held it, by session key, for repeat views of a page every
# resident of a town sees alike (a month calendar reloaded in a rush): trusted this long, so that
# such a view reads no session. A session ended elsewhere still opens those pages, which hold
# nothing of anyone, for at most this time; the dict is only bounded.
TOWN_TRUST_SECONDS = 30.0
_towns: TrustedMemo[str, int] = TrustedMemo(limit=4096)


def _session_town(request: HttpRequest) -> int | None:
    """The town of the resident session the request carries, or None (not signed in)."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if (trusted := _towns.trusted(key)) is not None:
        return trusted
    town_id = request.session.get(TOWN_SESSION_KEY) if request.session.get(SESSION_KEY) else None
    if town_id is None:
        resident = current_resident(request)
        if resident is None:
            return None
        resident_session_start(request.session, resident)
        town_id = resident.municipality_id
    if key and request.session.session_key == key:
        _towns.trust(key, town_id, TOWN_TRUST_SECONDS)
    return town_id


def resident_town_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a page every resident of a town sees alike: only a resident session gets through, and
    ``request.resident_town_id`` is their town as the session holds it; the resident is not read,
    and a repeat view within ``TOWN_TRUST_SECONDS`` reads no session either. A view that needs
    more (rendering a page not yet cached) calls ``current_resident``. A session begun before the
    town was kept in it is read the long way once and completed."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        town_id = _session_town(request)
        if town_id is None:
            return signin_required(request)
        request.resident_town_id = town_id  # type: ignore[attr-defined]
        response = view(request, *args, **kwargs)
        patch_vary_headers(response, ("Cookie",))  # as when the session is read
        return response

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
