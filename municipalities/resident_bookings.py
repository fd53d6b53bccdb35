"""A resident's upcoming bookings kept by other apps, for 「予約確認」.

「予約確認」 is answered by the reservations app (健診・予防接種・相談). An app that keeps bookings
of its own (施設予約) registers, in ``AppConfig.ready()``, a summary of a resident's upcoming
ones and the page that lists them::

    resident_bookings.register(
        "facilities", _("施設の予約"), "facilities:my_list", upcoming=upcoming_lines_for_resident
    )

The 予約確認 answer and page then show them under that heading with a link to the app's page.
The core knows no feature app, and the apps never import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.functional import Promise

if TYPE_CHECKING:
    from municipalities.models import Resident

# (resident, at most how many) → one line per upcoming booking, soonest first
Upcoming = Callable[["Resident", int], list[str]]


@dataclass(frozen=True)
class BookingSource:
    code: str
    label: str | Promise
    url_name: str
    upcoming: Upcoming


@dataclass(frozen=True)
class BookingsElsewhere:
    label: str
    lines: list[str]
    url_name: str


_sources: dict[str, BookingSource] = {}


def register(code: str, label: str | Promise, url_name: str, *, upcoming: Upcoming) -> None:
    _sources[code] = BookingSource(code, label, url_name, upcoming)


def upcoming_elsewhere(resident: Resident, *, limit: int = 5) -> list[BookingsElsewhere]:
    """Each registered app's upcoming bookings of ``resident`` (apps with none are left out)."""
    found = []
    for source in _sources.values():
        lines = source.upcoming(resident, limit)
        if lines:
            found.append(BookingsElsewhere(str(source.label), lines, source.url_name))
    return found
