"""The 防災 role: a department role that 自治体管理者 grants; it switches the town's 災害モード
on and off (as 自治体管理者 does) and flips shelter statuses, without any other rich-menu right
(menus: read only); in its own department it does what 編集者 does."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from municipalities.errors import MunicipalityError
from municipalities.models import AuditEntry, Role
from municipalities.permissions import policy_for, role_allows
from municipalities.services import staff_role_grant
from reservations.models import Menu as ReservationMenu
from richmenus.errors import RichMenuError
from richmenus.models import DisasterMode, RichMenu, RichMenuTile, Shelter, ShelterStatus
from richmenus.services import disaster_mode_switch, richmenu_publish, shelter_status_set
from tests.conftest import make_staff
from tests.richmenus.factories import DISASTER_TILES, make_menu, make_shelter

pytestmark = pytest.mark.django_db


@pytest.fixture
def bosai(town, somu):
    return make_staff("bosai", town, Role.DISASTER, somu)


@pytest.fixture
def menus(town, somu):
    normal = make_menu(town, name="通常", is_default=True)
    normal.tiles.filter(position=6).update(department=somu)  # 防災 tile of 総務課
    disaster = make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    return normal, disaster


def test_bosai_switches_disaster_mode_on_and_off(town, bosai, menus, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        disaster_mode_switch(municipality=town, on=True, disaster_type="flood", actor=bosai)
    mode = DisasterMode.objects.get(municipality=town)
    assert mode.is_on and mode.phase == "idle"
    with django_capture_on_commit_callbacks(execute=True):
        disaster_mode_switch(municipality=town, on=False, actor=bosai)
    mode.refresh_from_db()
    assert not mode.is_on
    actors = set(
        AuditEntry.objects.filter(action__startswith="richmenus.disaster_mode.o").values_list(
            "actor_label", flat=True
        )
    )
    assert len(actors) == 1 and "bosai" in next(iter(actors))


def test_bosai_has_no_other_rich_menu_right(town, bosai, menus):
    normal, _disaster = menus
    policy = policy_for(RichMenu)
    assert policy.user_has_permission_for_instance(bosai, "view", normal)
    for action in ("change", "publish", "delete"):
        assert not policy.user_has_permission_for_instance(bosai, action, normal)
    assert not policy.user_has_permission(bosai, "add")
    tile = normal.tiles.get(position=6)  # even a tile of the 防災 holder's own department
    assert not policy_for(RichMenuTile).user_has_permission_for_instance(bosai, "change", tile)
    with pytest.raises(RichMenuError):
        richmenu_publish(menu=normal, actor=bosai, enqueue=False)


def test_bosai_flips_shelter_statuses(town, bosai):
    shelter = make_shelter(town)
    assert shelter_status_set(shelter=shelter, status=ShelterStatus.OPEN, actor=bosai).status == "open"
    assert policy_for(Shelter).user_has_permission(bosai, "import")


def test_bosai_is_an_editor_in_its_department():
    for action in ("view", "add", "change", "delete", "export", "import"):
        assert role_allows(ReservationMenu, Role.DISASTER, action) == role_allows(
            ReservationMenu, Role.EDITOR, action
        )
    assert not role_allows(ReservationMenu, Role.DISASTER, "approve")
    assert role_allows(DisasterMode, Role.DISASTER, "switch")
    for role in (Role.HEAD, Role.EDITOR, Role.VIEWER):
        assert not role_allows(DisasterMode, role, "switch")
    assert role_allows(DisasterMode, Role.MUNICIPALITY_ADMIN, "switch")
    group = Group.objects.get(name="防災")
    assert group.permissions.filter(codename="switch_disastermode").exists()
    assert not group.permissions.filter(codename__in=["change_richmenu", "publish_richmenu"]).exists()


def test_others_may_not_switch(town, menus, kenko_head, kenko_editor):
    for user in (kenko_head, kenko_editor):
        with pytest.raises(RichMenuError) as refused:
            disaster_mode_switch(municipality=town, on=True, actor=user)
        assert refused.value.code == "permission_denied"


def test_only_the_town_admin_grants_the_role(town, somu, kenko, town_admin, kenko_head):
    target = make_staff("someone", town)
    with pytest.raises(MunicipalityError):
        staff_role_grant(user=target, role=Role.DISASTER, department=kenko, actor=kenko_head)
    granted = staff_role_grant(user=target, role=Role.DISASTER, department=somu, actor=town_admin)
    assert granted.role == Role.DISASTER and granted.department == somu


def test_disaster_page_offers_the_switch_to_bosai_only(town, bosai, kenko_head, menus):
    url = reverse("admin:richmenus_richmenu_disaster")
    for user, may in ((bosai, True), (kenko_head, False)):
        client = Client()
        client.force_login(user, backend="municipalities.auth.RoleBackend")
        html = client.get(url).content.decode()
        assert ('id="rm-disaster-on"' in html) is may
        assert ('id="rm-disaster-readonly"' in html) is not may
