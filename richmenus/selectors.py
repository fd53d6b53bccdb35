"""Reads of rich menus beyond a one-liner: which menu a resident should see, shelters near a point."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from municipalities.models import Municipality, Resident
from richmenus.models import RichMenu, Shelter, ShelterStatus

EARTH_RADIUS_M = 6_371_000
# Offered first: open, then crowded; full and not opened last (never ahead of an open one).
STATUS_ORDER = {
    ShelterStatus.OPEN: 0,
    ShelterStatus.CROWDED: 1,
    ShelterStatus.FULL: 2,
    ShelterStatus.CLOSED: 3,
}


def segment_menus(*, municipality: Municipality) -> QuerySet[RichMenu]:
    """The town's published normal menus that target residents, in priority order, with their
    targets loaded (for ``menu_for_resident``)."""
    return (
        RichMenu.objects.filter(
            municipality=municipality, kind=RichMenu.Kind.NORMAL, status=RichMenu.Status.PUBLISHED
        )
        .exclude(line_rich_menu_id="")
        .prefetch_related("target_areas", "target_interests")
        .order_by("priority", "pk")
    )


def has_targets(menu: RichMenu) -> bool:
    return bool(menu.target_age_bands) or bool(menu.target_areas.all()) or bool(menu.target_interests.all())


def menu_for_resident(
    *, resident: Resident, menus: Iterable[RichMenu], interest_ids: set[int]
) -> RichMenu | None:
    """The first segment menu (by priority) whose every target the resident matches (an empty
    target matches everyone); None: the default menu. ``menus`` from ``segment_menus``."""
    for menu in menus:
        if not has_targets(menu):
            continue
        areas = {a.pk for a in menu.target_areas.all()}
        interests = {i.pk for i in menu.target_interests.all()}
        if areas and resident.area_id not in areas:
            continue
        if menu.target_age_bands and resident.age_band not in menu.target_age_bands:
            continue
        if interests and not interests & interest_ids:
            continue
        return menu
    return None


@dataclass(frozen=True)
class NearShelter:
    shelter: Shelter
    metres: int


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def shelters_near(
    *, municipality: Municipality, latitude: float, longitude: float, disaster_type: str = "", limit: int = 5
) -> list[NearShelter]:
    """The town's shelters with coordinates, open ones first (then crowded, full, not opened), each
    group nearest first; only those designated for ``disaster_type`` when one is given."""
    found = []
    for shelter in Shelter.objects.filter(
        municipality=municipality, latitude__isnull=False, longitude__isnull=False
    ):
        if disaster_type and disaster_type not in (shelter.disaster_types or []):
            continue
        metres = distance_m(latitude, longitude, float(shelter.latitude), float(shelter.longitude))
        found.append(NearShelter(shelter=shelter, metres=round(metres)))
    found.sort(key=lambda near: (STATUS_ORDER.get(near.shelter.status, 9), near.metres))
    return found[:limit]
