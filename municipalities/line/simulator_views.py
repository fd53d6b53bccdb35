"""The LINE simulator page (``/simulator/``): staff chat as a simulated resident.

Sending builds a real LINE webhook event (follow, unfollow, text, postback), signs it with the
town's channel secret and hands it to the real webhook view, exactly as LINE would. The page
then shows what the ``simulator`` backend recorded for that resident (``SimulatedDelivery``:
replies, pushes, multicasts and broadcasts) next to what the resident sent (the talk log).

Staff see only their own town (superusers: every town), and only staff with a role there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import uuid
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIRequest
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from municipalities.line.inbound import SIMULATED_PROFILE_KEY
from municipalities.line.webhook import webhook_view
from municipalities.models import Municipality, Resident, SimulatedDelivery, StaffRole, TalkMessage

SIMULATED_PROFILE_SECONDS = 600
TALK_LIMIT = 200


def simulator_municipalities(user: Any) -> QuerySet[Municipality]:
    """The towns whose simulator ``user`` may use: superusers all, staff their own with a role."""
    if user.is_superuser:
        return Municipality.objects.order_by("name")
    town_ids = StaffRole.objects.filter(user=user).values("municipality_id")
    return Municipality.objects.filter(pk=user.municipality_id, pk__in=town_ids).order_by("name")


def _municipality(request: HttpRequest, value: Any) -> Municipality:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    municipality = simulator_municipalities(request.user).filter(pk=pk).first()
    if municipality is None:
        raise Http404
    return municipality


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
) -> dict[str, Any]:
    """One webhook event in LINE's shape (Messaging API, webhook event objects)."""
    event: dict[str, Any] = {
        "type": event_type,
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


@staff_member_required
@require_GET
def simulator_page(request: HttpRequest) -> HttpResponse:
    municipalities = list(simulator_municipalities(request.user).only("pk", "name", "slug"))
    return render(
        request,
        "simulator/index.html",
        {
            "municipalities": municipalities,
            "uses_simulator": settings.LINE_USES_SIMULATOR,
            "config": {
                "residentsUrl": reverse("line:simulator_residents"),
                "sendUrl": reverse("line:simulator_send"),
                "talkUrl": reverse("line:simulator_talk"),
                "municipalities": [{"id": m.pk, "name": m.name} for m in municipalities],
                "usesSimulator": settings.LINE_USES_SIMULATOR,
                "csrfToken": get_token(request),
            },
        },
    )


@staff_member_required
@require_GET
def simulator_residents(request: HttpRequest) -> JsonResponse:
    municipality = _municipality(request, request.GET.get("municipality"))
    residents = Resident.objects.filter(municipality=municipality).order_by("-is_following", "-updated_at")[
        :300
    ]
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


@staff_member_required
@require_POST
def simulator_send(request: HttpRequest) -> JsonResponse:
    """Body (JSON): municipality, userId (or displayName for a new resident), type
    (follow|unfollow|text|postback), text, data, displayText."""
    if not settings.LINE_USES_SIMULATOR:
        return JsonResponse(
            {"message": "シミュレーターは LINE_BACKEND=simulator のときだけ使えます。"}, status=409
        )
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"message": "JSON ではありません。"}, status=400)
    municipality = _municipality(request, payload.get("municipality"))
    kind = payload.get("type")
    user_id = str(payload.get("userId") or "")
    if kind == "follow" and not user_id:
        # A new simulated resident: a fresh LINE user id, and the name the profile will return.
        user_id = "U" + uuid.uuid4().hex
        name = str(payload.get("displayName") or "").strip()[:40] or f"テスト住民{user_id[-4:]}"
        cache.set(
            SIMULATED_PROFILE_KEY.format(municipality_id=municipality.pk, user_id=user_id),
            name,
            SIMULATED_PROFILE_SECONDS,
        )
    elif not Resident.objects.filter(municipality=municipality, line_user_id=user_id).exists():
        return JsonResponse({"message": "その住民はこの自治体にいません。"}, status=404)
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


@staff_member_required
@require_GET
def simulator_talk(request: HttpRequest) -> JsonResponse:
    """The talk of one simulated resident: what they sent and what the account sent them."""
    municipality = _municipality(request, request.GET.get("municipality"))
    user_id = request.GET.get("userId", "")
    resident = Resident.objects.filter(municipality=municipality, line_user_id=user_id).first()
    if resident is None:
        raise Http404
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
    return JsonResponse(
        {
            "resident": {"name": resident.display_name or user_id[-6:], "following": resident.is_following},
            "items": items[-TALK_LIMIT:],
        }
    )
