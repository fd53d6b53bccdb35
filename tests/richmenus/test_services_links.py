"""Per-segment menus: who gets which menu, linked 500 at a time, only the difference, re-linked
when settings change (on commit) and at follow, surviving injected 429/5xx."""

from __future__ import annotations

import pytest

from municipalities.line.retry import LINE_MAX_ATTEMPTS, LINE_RETRYABLE
from municipalities.models import Resident
from municipalities.services import resident_update_preferences
from richmenus.models import ResidentRichMenu, RichMenu
from richmenus.selectors import menu_for_resident, segment_menus
from richmenus.services import menus, richmenu_line_sync, richmenu_links_refresh
from tests.richmenus.factories import make_menu

pytestmark = pytest.mark.django_db


def _resident(town, n: int, **fields) -> Resident:
    return Resident.objects.create(municipality=town, line_user_id=f"U{n:032x}", is_following=True, **fields)


def test_resolution_by_area_age_and_interest(town, areas, interests):
    # given three published segment menus (priority decides between overlaps)
    north = next(iter(areas.values()))
    kosodate = next(iter(interests.values()))
    by_area = make_menu(town, name="地区", priority=30, status="published", line_rich_menu_id="a")
    by_area.target_areas.set([north])
    by_age = make_menu(
        town, name="高齢", priority=10, status="published", line_rich_menu_id="b", target_age_bands=["70p"]
    )
    by_interest = make_menu(town, name="子育て", priority=20, status="published", line_rich_menu_id="c")
    by_interest.target_interests.set([kosodate])
    make_menu(town, name="既定", is_default=True, status="published", line_rich_menu_id="d")
    menus = list(segment_menus(municipality=town))
    # then each resident gets the first menu (by priority) whose targets they all match
    assert (
        menu_for_resident(
            resident=_resident(town, 1, age_band="70p", area=north), menus=menus, interest_ids=set()
        )
        == by_age
    )
    assert (
        menu_for_resident(resident=_resident(town, 2, area=north), menus=menus, interest_ids={kosodate.pk})
        == by_interest
    )
    assert (
        menu_for_resident(resident=_resident(town, 3, area=north), menus=menus, interest_ids=set()) == by_area
    )
    assert (
        menu_for_resident(resident=_resident(town, 4, age_band="30s"), menus=menus, interest_ids=set())
        is None
    )


def test_refresh_links_in_bulk_of_500_and_only_the_difference(
    town, line_api, django_capture_on_commit_callbacks
):
    # given an elderly menu and 1,201 residents of whom 1,001 are 70+
    make_menu(town, name="既定", is_default=True)
    elderly = make_menu(town, name="高齢", target_age_bands=["70p"])
    residents = [_resident(town, n, age_band="70p" if n <= 1001 else "40s") for n in range(1, 1202)]
    richmenu_line_sync(menu_id=RichMenu.objects.get(name="既定").pk)
    line_api.reset()
    # when the segment menu is published (the refresh runs in 500-resident steps)
    with django_capture_on_commit_callbacks(execute=True):
        richmenu_line_sync(menu_id=elderly.pk)
    # then the 70+ residents were linked with 3 bulk requests of ≤ 500 (steps of 500 residents)
    bulk = line_api.requests_to("richmenu_bulk_link")
    assert [len(r.body["userIds"]) for r in bulk] == [500, 500, 1]
    elderly.refresh_from_db()
    assert {line_api.richmenus.menu_of(r.line_user_id) for r in residents[:1001]} == {
        elderly.line_rich_menu_id
    }
    assert ResidentRichMenu.objects.filter(menu=elderly).count() == 1001
    assert max(line_api.richmenus.state.link_calls.values()) == 1  # nobody twice
    # when it runs again: nothing to do
    line_api.reset()
    after = 0
    while (after := richmenu_links_refresh(municipality_id=town.pk, after=after)) is not None:
        pass
    assert line_api.requests_to("richmenu_bulk_link") == []


def test_settings_change_relinks_on_commit(town, line_api, django_capture_on_commit_callbacks):
    make_menu(town, name="既定", is_default=True)
    elderly = make_menu(town, name="高齢", target_age_bands=["70p"])
    richmenu_line_sync(menu_id=elderly.pk)
    resident = _resident(town, 7, age_band="60s")
    line_api.reset()
    # when the resident changes their age band
    with django_capture_on_commit_callbacks(execute=True):
        resident_update_preferences(resident=resident, age_band="70p")
    # then they are linked to the elderly menu, once
    elderly.refresh_from_db()
    assert line_api.richmenus.menu_of(resident.line_user_id) == elderly.line_rich_menu_id
    assert len(line_api.requests_to("richmenu_bulk_link")) == 1
    # and back: unlinked (the default applies)
    with django_capture_on_commit_callbacks(execute=True):
        resident_update_preferences(resident=resident, age_band="50s")
    assert len(line_api.requests_to("richmenu_bulk_unlink")) == 1
    assert not ResidentRichMenu.objects.filter(resident=resident).exists()


def _run_like_the_worker(step, *args):
    """Call ``step`` as Celery does with a LineSendTask: again after a 429/5xx, bounded."""
    for _attempt in range(LINE_MAX_ATTEMPTS):
        try:
            return step(*args)
        except LINE_RETRYABLE:
            continue
    raise AssertionError("still failing after the last attempt")


def test_refresh_survives_429_and_500(town, line_api):
    # given 1,000 elderly residents and LINE answering the first bulk links 429, then 500
    richmenu_line_sync(menu_id=make_menu(town, name="既定", is_default=True).pk)
    elderly = make_menu(town, name="高齢", target_age_bands=["70p"])
    residents = [_resident(town, n, age_band="70p") for n in range(1, 1001)]
    richmenu_line_sync(menu_id=elderly.pk)  # (its refresh waits for a commit that never comes)
    line_api.fail("richmenu_bulk_link", 429, 500)
    # when the refresh steps run as the worker runs them (retrying the failed step)
    after = 0
    while after := _run_like_the_worker(
        lambda a: richmenu_links_refresh(municipality_id=town.pk, after=a), after
    ):
        pass
    # then every resident is on the menu, linked once
    elderly.refresh_from_db()
    assert {line_api.richmenus.menu_of(r.line_user_id) for r in residents} == {elderly.line_rich_menu_id}
    assert set(line_api.richmenus.state.link_calls.values()) == {1}
    assert [r.status for r in line_api.requests_to("richmenu_bulk_link")] == [429, 500, 202, 202]


def test_refresh_resumes_after_a_killed_worker_without_linking_twice(town, line_api, settings):
    # given the refresh is not run by the publish (as if its worker died after the first step)
    richmenu_line_sync(menu_id=make_menu(town, name="既定", is_default=True).pk)
    elderly = make_menu(town, name="高齢", target_age_bands=["70p"])
    residents = [_resident(town, n, age_band="70p") for n in range(1, 1201)]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    RichMenu.objects.filter(pk=elderly.pk).update(line_rich_menu_id="", status="draft")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(menus, "enqueue_on_commit", lambda *args, **kwargs: None)
        richmenu_line_sync(menu_id=elderly.pk)
    first = richmenu_links_refresh(municipality_id=town.pk, after=0)  # step 1, then the worker dies
    assert first is not None
    # when the job runs again from the start (the step's task redelivered)
    after = 0
    while (after := richmenu_links_refresh(municipality_id=town.pk, after=after)) is not None:
        pass
    # then everyone is linked, nobody twice
    elderly.refresh_from_db()
    assert {line_api.richmenus.menu_of(r.line_user_id) for r in residents} == {elderly.line_rich_menu_id}
    assert set(line_api.richmenus.state.link_calls.values()) == {1}
