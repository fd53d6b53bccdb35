"""System checks (``manage.py check``; also run by ``migrate`` and ``runserver``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def site_url_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With the real LINE API, links to resident pages and broadcast images are sent as
    ``SITE_URL`` + path: LINE refuses a message whose link or image URL is not absolute
    (images: https only), so every such reply and broadcast would fail."""
    if settings.LINE_USES_SIMULATOR or settings.SITE_URL.startswith("https://"):
        return []
    level = Warning if settings.DEBUG else Error
    return [
        level(
            f"SITE_URL must be the site's public https:// address when LINE_BACKEND=api (it is {settings.SITE_URL!r}).",
            hint="LINE opens links and loads images only from absolute URLs, images only over https. "
            "Set SITE_URL=https://<the site's host> (no path).",
            id="municipalities.E001" if level is Error else "municipalities.W001",
        )
    ]


@register()
def webhook_lanes_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every webhook post computes its events' lane modulo ``LINE_WEBHOOK_LANES``."""
    lanes = settings.LINE_WEBHOOK_LANES
    if isinstance(lanes, int) and 1 <= lanes <= 1000:
        return []
    return [
        Error(
            f"LINE_WEBHOOK_LANES must be a whole number from 1 to 1000 (it is {lanes!r}).",
            hint="It is how many worker processes may process one town's incoming messages at once; 4 is the default.",
            id="municipalities.E002",
        )
    ]
