"""Per-segment menus: link each resident to the menu of their segment (地区, 年代, 関心).

``ResidentRichMenu`` records the menu LINE shows a resident (no row: the default menu). The
services compare it with the menu the resident should see (``selectors.menu_for_resident``) and
call LINE only for the difference, then record it; a run that dies between the call and the
record runs again and links the same menu again (harmless at LINE), so every resident ends on
the right menu and no change is sent twice once recorded.

- ``resident_rich_menu_sync``: one resident, after their settings changed (on commit) or at follow;
- ``richmenu_links_refresh``: every following resident of the town after a segment menu is
  published, 500 user ids a bulk-link request (LINE's limit) in resident order, one step per
  task so that a killed worker resumes at the step it was on (``richmenu_links_refresh_task``).
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from municipalities.line.client import get_line_client
from municipalities.line.richmenus_gateway import BULK_LINK_MAX
from municipalities.models import Municipality, Resident
from municipalities.tasks_queue import enqueue_on_commit
from richmenus.models import ResidentRichMenu, RichMenu
from richmenus.selectors import menu_for_resident, segment_menus
from richmenus.services.disaster import disaster_mode_is_on


def _interest_ids(residents: list[Resident]) -> dict[int, set[int]]:
    through = Resident.interests.through
    found: dict[int, set[int]] = defaultdict(set)
    for resident_id, interest_id in through.objects.filter(
        resident_id__in=[r.pk for r in residents]
    ).values_list("resident_id", "interest_id"):
        found[resident_id].add(interest_id)
    return found


def _targets(municipality: Municipality, residents: list[Resident]) -> dict[int, RichMenu | None]:
    menus = list(segment_menus(municipality=municipality))
    interests = _interest_ids(residents)
    return {
        r.pk: menu_for_resident(resident=r, menus=menus, interest_ids=interests.get(r.pk, set()))
        for r in residents
    }


def _apply(municipality: Municipality, residents: list[Resident]) -> int:
    """Link/unlink the residents whose menu differs; record it. Returns the LINE calls made."""
    targets = _targets(municipality, residents)
    current = dict(
        ResidentRichMenu.objects.filter(resident__in=residents).values_list("resident_id", "menu_id")
    )
    to_link: dict[RichMenu, list[Resident]] = defaultdict(list)
    to_unlink: list[Resident] = []
    for resident in residents:
        target = targets[resident.pk]
        if target is None and resident.pk in current:
            to_unlink.append(resident)
        elif target is not None and current.get(resident.pk) != target.pk:
            to_link[target].append(resident)
    if not to_link and not to_unlink:
        return 0
    client = get_line_client(municipality)
    # During 災害モード LINE shows the disaster copy of the segment menu (disaster.py).
    copies = {}
    if disaster_mode_is_on(municipality=municipality):
        mode = municipality.disaster_mode
        copies = {int(key): value["id"] for key, value in (mode.line_copies or {}).items()}
    calls = 0
    for menu, group in to_link.items():
        rich_menu_id = copies.get(menu.pk, menu.line_rich_menu_id)
        for start in range(0, len(group), BULK_LINK_MAX):
            client.rich_menu_link_users(
                rich_menu_id, [r.line_user_id for r in group[start : start + BULK_LINK_MAX]]
            )
            calls += 1
    for start in range(0, len(to_unlink), BULK_LINK_MAX):
        client.rich_menu_unlink_users([r.line_user_id for r in to_unlink[start : start + BULK_LINK_MAX]])
        calls += 1
    _record(
        to_link={menu.pk: [r.pk for r in group] for menu, group in to_link.items()},
        unlinked=[r.pk for r in to_unlink],
    )
    return calls


@transaction.atomic(durable=True)
def _record(*, to_link: dict[int, list[int]], unlinked: list[int]) -> None:
    now = timezone.now()
    ResidentRichMenu.objects.filter(resident_id__in=unlinked).delete()
    for menu_id, resident_ids in to_link.items():
        ResidentRichMenu.objects.filter(resident_id__in=resident_ids).delete()
        ResidentRichMenu.objects.bulk_create(
            [ResidentRichMenu(resident_id=pk, menu_id=menu_id, linked_at=now) for pk in resident_ids]
        )


def resident_rich_menu_sync(*, resident_id: int) -> int:
    """Link one resident to the menu of their segment (or back to the default). LINE calls made."""
    resident = (
        Resident.objects.select_related("municipality").filter(pk=resident_id, is_following=True).first()
    )
    if resident is None:
        return 0
    return _apply(resident.municipality, [resident])


def richmenu_links_refresh(*, municipality_id: int, after: int = 0) -> int | None:
    """One step of re-linking the whole town: the next 500 following residents after resident id
    ``after``. Returns the last resident id done (the next step's ``after``), or None when done."""
    municipality = Municipality.objects.get(pk=municipality_id)
    residents = list(
        Resident.objects.filter(municipality=municipality, is_following=True, pk__gt=after)
        .order_by("pk")
        .only("pk", "line_user_id", "area_id", "age_band")[:BULK_LINK_MAX]
    )
    if not residents:
        return None
    _apply(municipality, residents)
    return residents[-1].pk


def richmenu_links_refresh_start(*, municipality: Municipality) -> None:
    """Enqueue the re-linking of the town on commit (after a segment menu was published)."""
    enqueue_on_commit("richmenus.tasks.richmenu_links_refresh_task", municipality.pk, 0)
