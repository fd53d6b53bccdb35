"""Staff notices on the admin home: what needs a person now (承認待ち N 件, residents waiting for
staff, unanswered questions), each filtered to what the signed-in user may act on; and the badges
in the header of every admin page (residents waiting for staff), which must stay cheap: a badge
provider answers from a cache and reads the database at most once when the cache is cold.

The core imports no feature app: apps register a provider in ``AppConfig.ready()``
(``notices.register(fn)``); a provider takes the staff user and returns ``Notice`` rows, only
those with something to do (count > 0).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    text: str  # a Japanese sentence with the count: 「承認待ちのお知らせ 3 件」
    url: str  # the admin page where the user acts on it
    count: int


Provider = Callable[[Any], list[Notice]]
_providers: list[Provider] = []


def register(provider: Provider) -> None:
    """Add a provider (once; registering the same function again is a no-op)."""
    if provider not in _providers:
        _providers.append(provider)


def notices_for(user: Any) -> list[Notice]:
    """Every provider's notices for ``user``. A provider that fails is logged and left out: the
    admin home must open even when one feature is broken."""
    if not (user.is_authenticated and user.is_active):
        return []
    found: list[Notice] = []
    for provider in _providers:
        try:
            found += [n for n in provider(user) if n.count > 0]
        except Exception:  # one feature's failure must not keep staff out of the admin
            logger.exception("staff notice provider %r failed", provider)
    return found


@dataclass(frozen=True)
class Badge:
    text: str  # a short label: 「職員対応待ち」
    count: int
    url: str
    title: str = ""  # the longer sentence, shown on hover and read by screen readers


BadgeProvider = Callable[[Any], Badge | None]
_badge_providers: list[BadgeProvider] = []


def register_badge(provider: BadgeProvider) -> None:
    """Add a header badge provider (once). It runs on every admin page: answer from a cache."""
    if provider not in _badge_providers:
        _badge_providers.append(provider)


def badges_for(user: Any) -> list[Badge]:
    """The header badges with something waiting (count > 0) for ``user``; a failing provider is
    logged and left out (the page must open)."""
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_staff):
        return []
    found: list[Badge] = []
    for provider in _badge_providers:
        try:
            badge = provider(user)
        except Exception:  # one feature's failure must not keep staff out of the admin
            logger.exception("staff badge provider %r failed", provider)
            continue
        if badge is not None and badge.count > 0:
            found.append(badge)
    return found
