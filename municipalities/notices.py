"""Staff notices on the admin home: what needs a person now (承認待ち N 件, residents waiting for
staff, unanswered questions), each filtered to what the signed-in user may act on.

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
