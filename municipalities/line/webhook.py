"""Inbound: ``POST /line/webhook/<slug>/``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def webhook_view(request: HttpRequest, slug: str) -> HttpResponse:
    return HttpResponse(status=503)
