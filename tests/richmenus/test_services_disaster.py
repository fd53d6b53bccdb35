"""災害モード against the fake LINE: the default swap plus one batch control each way, every
resident on the disaster menu while on and back on their own menu after, retries on 429/5xx."""

from __future__ import annotations

import pytest
from django.utils import timezone

from municipalities.line.errors import LineRateLimited, LineRetryableError
from municipalities.models import AuditEntry, Resident
from richmenus.errors import RichMenuError
from richmenus.models import DisasterMode, ResidentRichMenu, RichMenu
from richmenus.services import disaster_mode_apply, disaster_mode_switch, richmenu_line_sync
from tests.richmenus.factories import DISASTER_TILES, make_menu

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(town, line_api):
    """A default menu, a segment menu for 3 residents, 2 residents on the default, a disaster menu."""
    default = make_menu(town, name="通常", is_default=True)
    elderly = make_menu(town, name="高齢者向け", target_age_bands=["70p"])
    make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    residents = [
        Resident.objects.create(municipality=town, line_user_id=f"U{n:032d}", is_following=True)
        for n in range(5)
    ]
    for resident in residents[:3]:
        ResidentRichMenu.objects.create(resident=resident, menu=elderly, linked_at=timezone.now())
    richmenu_line_sync(menu_id=default.pk)
    richmenu_line_sync(menu_id=elderly.pk)
    for resident in residents[:3]:  # linked at LINE as the link job would have done
        line_api.richmenus.state.links[resident.line_user_id] = RichMenu.objects.get(
            pk=elderly.pk
        ).line_rich_menu_id
    line_api.reset()
    return {"default": default, "elderly": elderly, "residents": residents}


def _menus_seen(fake, residents) -> set[str]:
    return {fake.richmenus.menu_of(r.line_user_id) for r in residents}


def test_switch_on_and_back(town, line_api, published, town_admin, django_capture_on_commit_callbacks):
    residents = published["residents"]
    # when 自治体管理者 switches on
    with django_capture_on_commit_callbacks(execute=True):
        disaster_mode_switch(municipality=town, on=True, disaster_type="earthquake", actor=town_admin)
    # then every resident sees a disaster menu (the default, or the copy of their segment menu)
    disaster = RichMenu.objects.get(municipality=town, kind=RichMenu.Kind.DISASTER)
    mode = DisasterMode.objects.get(municipality=town)
    copy = mode.line_copies[str(published["elderly"].pk)]["id"]
    assert mode.is_on and mode.phase == "idle"
    assert line_api.richmenus.state.default == disaster.line_rich_menu_id
    assert _menus_seen(line_api, residents[:3]) == {copy}
    assert _menus_seen(line_api, residents[3:]) == {disaster.line_rich_menu_id}
    assert line_api.request_count("richmenu_batch") == 1
    assert line_api.schema_errors == []
    # when switched back
    line_api.reset()
    with django_capture_on_commit_callbacks(execute=True):
        disaster_mode_switch(municipality=town, on=False, actor=town_admin)
    # then each resident is on their own menu again, with one batch and one default call
    elderly_id = RichMenu.objects.get(pk=published["elderly"].pk).line_rich_menu_id
    default_id = RichMenu.objects.get(pk=published["default"].pk).line_rich_menu_id
    assert _menus_seen(line_api, residents[:3]) == {elderly_id}
    assert _menus_seen(line_api, residents[3:]) == {default_id}
    assert line_api.request_count("richmenu_batch") == 1
    assert line_api.request_count("richmenu_default") == 1
    assert line_api.request_count("richmenu_create") == 0
    actions = set(
        AuditEntry.objects.filter(action__startswith="richmenus.disaster_mode").values_list(
            "action", flat=True
        )
    )
    assert actions == {
        "richmenus.disaster_mode.on",
        "richmenus.disaster_mode.off",
        "richmenus.disaster_mode.applied",
    }


def test_second_switch_reuses_the_copies(town, line_api, published):
    for on in (True, False):
        disaster_mode_apply(
            mode_id=disaster_mode_switch(municipality=town, on=on, actor=None, enqueue=False).pk
        )
    line_api.reset()
    disaster_mode_apply(
        mode_id=disaster_mode_switch(municipality=town, on=True, actor=None, enqueue=False).pk
    )
    assert line_api.request_count("richmenu_create") == 0  # LINE allows 100 an hour: nothing new


def test_injected_faults_are_retried_and_nobody_is_left_behind(town, line_api, published):
    # given LINE answers the batch with 500 and the default with 429 first
    mode = disaster_mode_switch(municipality=town, on=True, actor=None, enqueue=False)
    line_api.fail("richmenu_default", 429)
    with pytest.raises(LineRateLimited):
        disaster_mode_apply(mode_id=mode.pk)
    line_api.fail("richmenu_batch", 500)
    with pytest.raises(LineRetryableError):
        disaster_mode_apply(mode_id=mode.pk)
    # when the task runs again (as Celery retries it)
    disaster_mode_apply(mode_id=mode.pk)
    # then everyone is on a disaster menu, and the copies were created once
    seen = _menus_seen(line_api, published["residents"])
    mode.refresh_from_db()
    assert seen == {RichMenu.objects.get(municipality=town, kind="disaster").line_rich_menu_id} | {
        c["id"] for c in mode.line_copies.values()
    }
    assert line_api.request_count("richmenu_create") == 2  # the disaster menu and one copy


def test_only_town_admin_switches(town, kenko_head, published):
    with pytest.raises(RichMenuError) as exc:
        disaster_mode_switch(municipality=town, on=True, actor=kenko_head)
    assert exc.value.code == "permission_denied"


def test_without_disaster_menu(town, town_admin):
    with pytest.raises(RichMenuError) as exc:
        disaster_mode_switch(municipality=town, on=True, actor=town_admin)
    assert exc.value.code == "no_disaster_menu"
    assert "災害時のメニュー" in exc.value.message


def test_switching_twice_is_refused(town, line_api, published):
    disaster_mode_apply(
        mode_id=disaster_mode_switch(municipality=town, on=True, actor=None, enqueue=False).pk
    )
    with pytest.raises(RichMenuError) as exc:
        disaster_mode_switch(municipality=town, on=True, actor=None)
    assert exc.value.code == "already"
