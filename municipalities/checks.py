"""System checks (``manage.py check``; also run by ``migrate`` and ``runserver``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from municipalities.models import Municipality, MunicipalityOwned


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


@register()
def municipality_owned_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every ``MunicipalityOwned`` model declares its tenant key the same way (ARCHITECTURE:
    "tenant foreign keys NOT NULL"): a foreign key ``municipality`` to Municipality, NOT NULL,
    PROTECT, with its own reverse name."""
    return municipality_key_errors(m for m in apps.get_models() if issubclass(m, MunicipalityOwned))


def municipality_key_errors(owned: Iterable[type[models.Model]]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for model in owned:
        try:
            field = model._meta.get_field("municipality")
        except FieldDoesNotExist:
            field = None
        if (
            not isinstance(field, models.ForeignKey)
            or field.related_model is not Municipality
            or field.null
            or field.remote_field.on_delete is not models.PROTECT
            or not field.remote_field.related_name
        ):
            errors.append(
                Error(
                    f"{model._meta.label} must declare municipality = ForeignKey(Municipality, "
                    "on_delete=PROTECT, related_name=…), NOT NULL.",
                    hint="A town's data is never deleted with the town, and never without one.",
                    obj=model,
                    id="municipalities.E003",
                )
            )
    return errors
