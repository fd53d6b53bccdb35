"""Who edits a town's menu: 自治体管理者, and the 所属長 of a department that owns a tile (a tile
names its 担当課); everyone else reads it. Enforced by the policy (admin pages and inlines) and
again by the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from municipalities.permissions import policy_for
from richmenus.errors import RichMenuError
from richmenus.models import RichMenu, RichMenuTile
from richmenus.services import richmenu_publish
from tests.conftest import make_staff
from tests.richmenus.factories import make_menu

pytestmark = pytest.mark.django_db
BACKEND = "municipalities.auth.RoleBackend"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def menu(town, kenko) -> RichMenu:
    menu = make_menu(town, is_default=True)
    menu.tiles.filter(position=1).update(department=kenko)  # 予約 belongs to 健康福祉課
    return menu


def test_policy_heads_of_a_tile_owning_department_edit_the_others_read(
    menu, town, somu, town_admin, kenko_head, kenko_editor, kenko_viewer
):
    somu_head = make_staff("somu_head", town, "head", somu)
    policy = policy_for(RichMenu)
    for user in (town_admin, kenko_head):
        assert policy.user_has_permission_for_instance(user, "change", menu)
        assert policy.user_has_permission_for_instance(user, "publish", menu)
    for user in (somu_head, kenko_editor, kenko_viewer):
        assert policy.user_has_permission_for_instance(user, "view", menu)
        assert not policy.user_has_permission_for_instance(user, "change", menu)
        assert not policy.user_has_permission_for_instance(user, "publish", menu)
    # adding and deleting menus is the information team's (自治体管理者)
    assert not policy.user_has_permission(kenko_head, "add")
    assert not policy.user_has_permission_for_instance(kenko_head, "delete", menu)
    assert policy.user_has_permission_for_instance(town_admin, "delete", menu)
    # the changelist scoping agrees with the per-object answer
    changeable = policy.instances_user_has_permission_for(kenko_head, "change")
    assert list(changeable) == [menu]
    assert not policy.instances_user_has_permission_for(somu_head, "change").exists()
    assert policy.instances_user_has_permission_for(somu_head, "view").filter(pk=menu.pk).exists()


def test_tiles_are_edited_by_the_head_of_their_department(menu, kenko_head, town_admin):
    policy = policy_for(RichMenuTile)
    own = menu.tiles.get(position=1)
    other = menu.tiles.get(position=2)  # no 担当課: 自治体管理者 only
    assert policy.user_has_permission_for_instance(kenko_head, "change", own)
    assert not policy.user_has_permission_for_instance(kenko_head, "change", other)
    assert policy.user_has_permission_for_instance(kenko_head, "view", other)
    assert policy.user_has_permission_for_instance(town_admin, "change", other)


def test_publish_service_refuses_those_who_may_only_read(menu, town, somu, kenko_editor, kenko_head):
    somu_head = make_staff("somu_head", town, "head", somu)
    for user in (somu_head, kenko_editor):
        with pytest.raises(RichMenuError) as refused:
            richmenu_publish(menu=menu, actor=user, enqueue=False)
        assert refused.value.code == "permission_denied"
    assert richmenu_publish(menu=menu, actor=kenko_head, enqueue=False).pk == menu.pk


def _change_data(client: Client, menu: RichMenu) -> dict:
    from tests.municipalities.test_permission_matrix import form_data

    page = client.get(reverse("admin:richmenus_richmenu_change", args=[menu.pk]))
    assert page.status_code == 200
    data = form_data(page.context_data["adminform"].form)
    for inline in page.context_data["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_data(form))
    data["_save"] = "保存"
    return data


def test_admin_head_changes_own_tile_but_not_another(menu, kenko_head, town_admin):
    admin_client = client_for(town_admin)
    head_client = client_for(kenko_head)
    url = reverse("admin:richmenus_richmenu_change", args=[menu.pk])
    page = head_client.get(url)
    assert page.status_code == 200 and page.context_data["has_change_permission"]
    data = _change_data(admin_client, menu)
    own = menu.tiles.get(position=1)
    other = menu.tiles.get(position=2)
    prefix = "tiles"
    index = {int(data[f"{prefix}-{i}-id"]): i for i in range(6)}
    # own tile: accepted
    data[f"{prefix}-{index[own.pk]}-label"] = "健診予約"
    response = head_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    own.refresh_from_db()
    assert own.label == "健診予約"
    # another tile (the information team's): refused, nothing saved
    data = _change_data(admin_client, menu)
    data[f"{prefix}-{index[other.pk]}-label"] = "乗っ取り"
    response = head_client.post(url, data)
    other.refresh_from_db()
    assert other.label == "申請"
    assert "権限" in response.content.decode()


def test_admin_head_of_another_department_reads_only(menu, town, somu):
    somu_head = make_staff("somu_head", town, "head", somu)
    client = client_for(somu_head)
    url = reverse("admin:richmenus_richmenu_change", args=[menu.pk])
    page = client.get(url)
    assert page.status_code == 200 and not page.context_data["has_change_permission"]
    assert client.post(url, {"name": "x"}).status_code == 403
    assert client.post(reverse("admin:richmenus_richmenu_publish", args=[menu.pk])).status_code == 404
    assert client.get(reverse("admin:richmenus_richmenu_add")).status_code == 403
    menu.refresh_from_db()
    assert menu.name == "通常メニュー"


def test_a_tile_names_a_department_of_its_own_town(menu, other_department):
    tile = menu.tiles.get(position=3)
    tile.department = other_department
    with pytest.raises(ValidationError):
        tile.full_clean()
