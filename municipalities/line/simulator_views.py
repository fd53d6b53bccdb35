"""The LINE simulator page (``/simulator/``): staff chat as a simulated resident.

Sending builds a real LINE webhook event (follow, unfollow, text, postback), signs it with the
town's channel secret and hands it to the real webhook view, exactly as LINE would. The page
then shows what the ``simulator`` backend recorded for that resident (``SimulatedDelivery``:
replies, pushes, multicasts and broadcasts) next to what the resident sent (the talk log).

A training tool, not a back door:

- it acts only as residents it created itself (``Resident.is_simulated``, made by
  ``resident_simulated_create``); a real resident's LINE user id is a 404 on every endpoint;
- it needs the "use_simulator" permission on the town (自治体管理者 and 所属長 by default,
  superusers everywhere), decided by the policy; others get 403 (page) or 404 (a town's data);
- with ``LINE_BACKEND=api`` every URL of it is a 404;
- two-factor sign-in applies as to the admin (``two_factor.middleware``);
- the bot's page buttons open through ``simulator_open``, which emulates LIFF sign-in for the
  simulated resident on this browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.core.handlers.wsgi import WSGIRequest
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from municipalities.errors import ServiceError
from municipalities.line.liff import local_path, login_resident
from municipalities.line.richmenus_simulator import talk_rich_menus
from municipalities.line.webhook import webhook_view
from municipalities.models import Municipality, Resident, SimulatedDelivery, SimulatedRichMenu, TalkMessage
from municipalities.permissions import policy_for
from municipalities.services import resident_simulated_create

TALK_LIMIT = 200


def simulator_municipalities(user: Any) -> QuerySet[Municipality]:
    """The towns whose simulator ``user`` may use ("use_simulator", through the policy); none at
    all when the LINE backend is the real one."""
    if not settings.LINE_USES_SIMULATOR:
        return Municipality.objects.none()
    return policy_for(Municipality).instances_user_has_permission_for(user, "use_simulator").order_by("name")


def simulator_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every simulator URL: a 404 with the real LINE backend (before anything else, sign-in
    included), otherwise staff only (others are sent to the admin login)."""
    guarded = never_cache(staff_member_required(view))

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LINE_USES_SIMULATOR:
            raise Http404
        return guarded(request, *args, **kwargs)

    return wrapper


def _municipality(request: HttpRequest, value: Any) -> Municipality:
    """The town ``value`` names, when the user may simulate it; a 404 otherwise."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    municipality = simulator_municipalities(request.user).filter(pk=pk).first()
    if municipality is None:
        raise Http404
    return municipality


def _simulated_residents(municipality: Municipality) -> QuerySet[Resident]:
    """The residents the simulator created in ``municipality``: the only ones it shows or acts as."""
    return Resident.objects.filter(municipality=municipality, is_simulated=True)


def _simulated_resident(municipality: Municipality, user_id: Any) -> Resident:
    """A resident the simulator created in ``municipality``; a real resident is a 404."""
    resident = _simulated_residents(municipality).filter(line_user_id=str(user_id or "")).first()
    if resident is None:
        raise Http404
    return resident


def page_to_open(value: Any) -> str | None:
    """``value`` when it is a path on this site (``liff.local_path``) and not a signed sign-in
    link (``/r/<token>/``): the simulator signs its resident in itself and never spends a token."""
    if local_path(value) is None:
        return None
    try:
        match = resolve(urlsplit(value).path)
    except Resolver404:
        return value  # the page itself will say it does not exist
    return None if match.view_name == "line:resident_link" else value


def sign(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build_event(
    *,
    event_type: str,
    user_id: str,
    text: str = "",
    data: str = "",
    display_text: str = "",
    params: dict[str, str] | None = None,
    location: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """One webhook event in LINE's shape (Messaging API, webhook event objects); ``event_type``
    "location" is a message event with a location message (the resident's position)."""
    event: dict[str, Any] = {
        "type": "message" if event_type == "location" else event_type,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
    }
    if event_type != "unfollow":
        event["replyToken"] = uuid.uuid4().hex
    if event_type == "follow":
        event["follow"] = {"isUnblocked": False}
    elif event_type == "message":
        event["message"] = {
            "id": str(int(time.time() * 1000)),
            "type": "text",
            "text": text,
            "quoteToken": uuid.uuid4().hex,
        }
    elif event_type == "location":
        latitude, longitude = location or (0.0, 0.0)
        event["message"] = {
            "id": str(int(time.time() * 1000)),
            "type": "location",
            "latitude": latitude,
            "longitude": longitude,
            "address": "",
        }
    elif event_type == "postback":
        event["postback"] = {"data": data}
        if params:  # a datetime picker's answer: {"date": …} / {"time": …} / {"datetime": …}
            event["postback"]["params"] = params
        if display_text:
            # Not part of LINE's event: LINE shows displayText in the talk itself. The simulator
            # carries it along so that its talk view can show what the resident "said".
            event["postback"]["simulatorDisplayText"] = display_text
    return event


def post_to_webhook(municipality: Municipality, events: list[dict[str, Any]]) -> int:
    """Sign ``events`` with the channel secret and hand them to the webhook view; its status."""
    body = json.dumps({"destination": "Usimulator", "events": events}, ensure_ascii=False).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("line:webhook", kwargs={"slug": municipality.slug}),
        "SERVER_NAME": "simulator.local",
        "SERVER_PORT": "443",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_LINE_SIGNATURE": sign(municipality.channel_secret or "", body),
    }
    response = webhook_view(WSGIRequest(environ), slug=municipality.slug)
    return response.status_code


@simulator_view
@require_GET
def simulator_page(request: HttpRequest) -> HttpResponse:
    municipalities = list(simulator_municipalities(request.user).only("pk", "name", "slug"))
    if not municipalities:
        raise PermissionDenied
    return render(
        request,
        "simulator/index.html",
        {
            "municipalities": municipalities,
            "config": {
                "residentsUrl": reverse("line:simulator_residents"),
                "sendUrl": reverse("line:simulator_send"),
                "talkUrl": reverse("line:simulator_talk"),
                "openUrl": reverse("line:simulator_open"),
                "siteUrl": settings.SITE_URL,
                "liffUrl": "https://liff.line.me/",
                "municipalities": [{"id": m.pk, "name": m.name} for m in municipalities],
                "csrfToken": get_token(request),
            },
        },
    )


@simulator_view
@require_GET
def simulator_residents(request: HttpRequest) -> JsonResponse:
    """The town's simulated residents (never a real one)."""
    municipality = _municipality(request, request.GET.get("municipality"))
    residents = _simulated_residents(municipality).order_by("-is_following", "-updated_at")[:300]
    return JsonResponse(
        {
            "residents": [
                {
                    "userId": r.line_user_id,
                    "name": r.display_name or r.line_user_id[-6:],
                    "following": r.is_following,
                }
                for r in residents
            ]
        }
    )


@simulator_view
@require_POST
def simulator_send(request: HttpRequest) -> JsonResponse:
    """Body (JSON): municipality, userId (or displayName for a new resident), type
    (follow|unfollow|text|postback|location), text, data, displayText, latitude, longitude.

    A follow without userId first creates a simulated resident, then posts their follow event;
    everything else acts only as an existing simulated resident of the town.
    """
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"message": "JSON ではありません。"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"message": "JSON ではありません。"}, status=400)
    municipality = _municipality(request, payload.get("municipality"))
    kind = payload.get("type")
    user_id = str(payload.get("userId") or "")
    if kind == "follow" and not user_id:
        try:
            resident = resident_simulated_create(
                municipality=municipality,
                display_name=str(payload.get("displayName") or ""),
                actor=request.user,
            )
        except ServiceError as exc:
            return JsonResponse({"message": exc.message}, status=403)
        user_id = resident.line_user_id
    elif not _simulated_residents(municipality).filter(line_user_id=user_id).exists():
        return JsonResponse({"message": "その住民はこの自治体のシミュレーターにいません。"}, status=404)
    text = str(payload.get("text") or "").strip()
    data = str(payload.get("data") or "")
    if kind == "text":
        if not text:
            return JsonResponse({"message": "メッセージを入力してください。"}, status=400)
        event = build_event(event_type="message", user_id=user_id, text=text[:5000])
    elif kind == "postback":
        if not data or len(data) > 300:
            return JsonResponse({"message": "ポストバックのデータが正しくありません。"}, status=400)
        raw_params = payload.get("params") if isinstance(payload.get("params"), dict) else {}
        params = {key: str(raw_params[key])[:32] for key in ("date", "time", "datetime") if key in raw_params}
        event = build_event(
            event_type="postback",
            user_id=user_id,
            data=data,
            display_text=str(payload.get("displayText") or "")[:300],
            params=params or None,
        )
    elif kind == "location":  # the location action of a quick reply (避難所)
        try:
            latitude, longitude = float(payload.get("latitude")), float(payload.get("longitude"))
        except (TypeError, ValueError):
            return JsonResponse({"message": "緯度・経度が正しくありません。"}, status=400)
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return JsonResponse({"message": "緯度・経度が正しくありません。"}, status=400)
        event = build_event(event_type="location", user_id=user_id, location=(latitude, longitude))
    elif kind in {"follow", "unfollow"}:
        event = build_event(event_type=kind, user_id=user_id)
    else:
        return JsonResponse({"message": "種類が正しくありません。"}, status=400)
    status = post_to_webhook(municipality, [event])
    if status != 200:
        return JsonResponse({"message": f"Webhook が {status} を返しました。"}, status=502)
    return JsonResponse({"ok": True, "userId": user_id, "webhookEventId": event["webhookEventId"]})


def _iso(value: Any) -> str:
    return value.isoformat()


@simulator_view
@require_GET
def simulator_talk(request: HttpRequest) -> JsonResponse:
    """The talk of one simulated resident: what they sent and what the account sent them."""
    municipality = _municipality(request, request.GET.get("municipality"))
    resident = _simulated_resident(municipality, request.GET.get("userId"))
    user_id = resident.line_user_id
    items: list[dict[str, Any]] = []
    inbound = TalkMessage.objects.filter(resident=resident, direction=TalkMessage.Direction.INBOUND).order_by(
        "-created_at", "-pk"
    )[:TALK_LIMIT]
    for row in inbound:
        item = {
            "id": f"in-{row.pk}",
            "at": _iso(row.created_at),
            "side": "user",
            "kind": row.kind,
            "text": row.text,
        }
        if row.kind == "postback":
            item["displayText"] = (row.payload or {}).get("simulatorDisplayText", "")
        items.append(item)
    outbound = SimulatedDelivery.objects.filter(municipality=municipality, line_user_id=user_id).order_by(
        "-created_at", "-pk"
    )[:TALK_LIMIT]
    for row in outbound:
        for index, message in enumerate(row.messages or []):
            items.append(
                {
                    "id": f"out-{row.pk}-{index}",
                    "at": _iso(row.created_at),
                    "side": "bot",
                    "endpoint": row.endpoint,
                    "message": message,
                }
            )
    items.sort(key=lambda item: (item["at"], item["id"].startswith("out"), item["id"]))

    def image_url(rich_menu_id: str) -> str:
        path = reverse("line:simulator_richmenu_image", kwargs={"rich_menu_id": rich_menu_id})
        return f"{path}?municipality={municipality.pk}"

    return JsonResponse(
        {
            "resident": {"name": resident.display_name or user_id[-6:], "following": resident.is_following},
            "items": items[-TALK_LIMIT:],
            **talk_rich_menus(municipality, user_id, image_url),
        }
    )


@simulator_view
@require_GET
def simulator_richmenu_image(request: HttpRequest, rich_menu_id: str) -> HttpResponse:
    """The image of a rich menu at the simulated LINE of a town the user may simulate."""
    municipality = _municipality(request, request.GET.get("municipality"))
    menu = SimulatedRichMenu.objects.filter(municipality=municipality, rich_menu_id=rich_menu_id).first()
    if menu is None or not menu.image:
        raise Http404
    response = HttpResponse(bytes(menu.image), content_type=menu.content_type or "image/png")
    response["Cache-Control"] = "private, max-age=3600"  # a menu's image never changes at LINE
    return response


@simulator_view
@require_POST
def simulator_open(request: HttpRequest) -> HttpResponse:
    """Open a page of the bot's as the simulated resident: LIFF sign-in, emulated.

    Form fields: municipality, userId (a simulated resident of that town), next (a path on this
    site). Signs the resident in on this browser's session, as LINE's LIFF sign-in would, and
    redirects to ``next``. A real resident or another town is a 404, a ``next`` that leaves the
    site (or is a signed sign-in link) a 400.
    """
    municipality = _municipality(request, request.POST.get("municipality"))
    resident = _simulated_resident(municipality, request.POST.get("userId"))
    next_path = page_to_open(request.POST.get("next"))
    if next_path is None:
        return HttpResponseBadRequest("開くページが正しくありません。".encode(), content_type="text/plain")
    login_resident(request, resident)
    return HttpResponseRedirect(next_path)
