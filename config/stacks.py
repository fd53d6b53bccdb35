"""Which middleware a request runs through, chosen by its path before Django's handler runs.

- LINE's webhook posts (``/line/webhook/…``) run none: they carry no cookie, no session and no
  CSRF token, are authenticated by their ``X-Line-Signature`` alone, and arrive in rushes.
- Resident pages (``/liff/…`` and the sign-in links ``/r/…``) run ``settings.RESIDENT_MIDDLEWARE``:
  the whole stack less what only staff use (authentication, two-factor, django-axes' lockout,
  and WhiteNoise, which serves ``/static/`` only). Their session, CSRF check, messages and
  security headers stay.
- Everything else (the admin, the simulator, payments, ``/healthz``) runs the whole
  ``settings.MIDDLEWARE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

WEBHOOK_PREFIX = "/line/webhook/"
RESIDENT_PREFIXES = ("/liff/", "/r/")
WHOLE, RESIDENT, WEBHOOK = "whole", "resident", "webhook"


def stack_for_path(path: str) -> str:
    if path.startswith(WEBHOOK_PREFIX):
        return WEBHOOK
    if path.startswith(RESIDENT_PREFIXES):
        return RESIDENT
    return WHOLE


def stack_handlers(whole: Any, handler_on: Callable[[list[str]], Any]) -> dict[str, Any]:
    """A handler per stack: ``whole`` (Django's own, on ``settings.MIDDLEWARE``) and, for the
    others, ``handler_on(middleware)``. Built at start-up, before the first request."""
    return {
        WHOLE: whole,
        RESIDENT: handler_on(settings.RESIDENT_MIDDLEWARE),
        WEBHOOK: handler_on([]),
    }


class MiddlewareStack:
    """Mixin for a Django handler: build the chain from ``self.middleware`` instead of
    ``settings.MIDDLEWARE`` (Django's ``load_middleware`` reads the setting, and runs once, at
    start-up, before any request)."""

    def __init__(self, middleware: list[str], *args: Any, **kwargs: Any) -> None:
        self.middleware = middleware
        super().__init__(*args, **kwargs)

    def load_middleware(self, is_async: bool = False) -> None:
        whole = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)  # type: ignore[misc]
        finally:
            settings.MIDDLEWARE = whole
