"""WSGI entry point (gunicorn ``config.wsgi``).

LINE's webhook posts are served without the middleware stack: they carry no cookie, no session
and no CSRF token, are authenticated by their ``X-Line-Signature`` alone, and arrive in rushes,
so the ~1 ms per request the staff/resident middleware costs is spent on nothing there.
Everything else goes through the full stack.
"""

import os
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

WEBHOOK_PREFIX = "/line/webhook/"


class BareWSGIHandler(WSGIHandler):
    """Django's handler with no middleware: URL resolution, view, request signals only."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


django_application = get_wsgi_application()
webhook_application = BareWSGIHandler()


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if environ.get("PATH_INFO", "").startswith(WEBHOOK_PREFIX):
        return webhook_application(environ, start_response)
    return django_application(environ, start_response)
