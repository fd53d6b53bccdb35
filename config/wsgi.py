"""WSGI entry point (gunicorn ``config.wsgi``).

Each request runs through the middleware its path needs (``config.stacks``): none for LINE's
webhook, the resident stack for resident pages, the whole stack for the rest. On a rush the
time the staff middleware costs would be spent on nothing there.
"""

import os
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

from config.stacks import MiddlewareStack, stack_for_path, stack_handlers  # noqa: E402


class StackWSGIHandler(MiddlewareStack, WSGIHandler):
    """Django's WSGI handler on a middleware list of its own."""


# Built here, at start-up, before the first request: each handler's chain is fixed from then on.
handlers = stack_handlers(django_application, StackWSGIHandler)


def application(environ: dict[str, Any], start_response: Any) -> Any:
    return handlers[stack_for_path(environ.get("PATH_INFO", ""))](environ, start_response)
