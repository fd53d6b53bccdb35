"""Resident pages a rich-menu tile (or any menu of the bot) can open, offered by the apps that own them.

The core knows no feature app; each app names its pages in ``AppConfig.ready()``::

    destinations.register(
        "reservations.menus", _("予約メニュー"), "reservations:menus",
        one=("reservations:calendar", "menu_id"),
    )

``one`` (optional) is the page of a single object (one 予約メニュー, one 申請フォーム) and the
name of its URL argument. ``path_for(code, object_id)`` gives the page's path on this site, or
``None`` when no app offers ``code`` (the app is not installed).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise


@dataclass(frozen=True)
class Destination:
    code: str
    label: str | Promise
    url_name: str
    one: tuple[str, str] | None = None


_destinations: dict[str, Destination] = {}


def register(code: str, label: str | Promise, url_name: str, *, one: tuple[str, str] | None = None) -> None:
    existing = _destinations.get(code)
    destination = Destination(code, label, url_name, one)
    if existing is not None and existing != destination:
        raise ValueError(f"destination {code!r} is already registered")
    _destinations[code] = destination


def choices() -> list[tuple[str, str]]:
    """(code, label) of every page offered, in registration order."""
    return [(d.code, str(d.label)) for d in _destinations.values()]


def get(code: str) -> Destination | None:
    return _destinations.get(code)


def path_for(code: str, object_id: int | None = None) -> str | None:
    destination = _destinations.get(code)
    if destination is None:
        return None
    try:
        if object_id is not None and destination.one is not None:
            url_name, kwarg = destination.one
            return reverse(url_name, kwargs={kwarg: object_id})
        return reverse(destination.url_name)
    except NoReverseMatch:
        return None
