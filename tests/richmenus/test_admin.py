"""The rich-menu console: preview as a phone shows it, publish, 災害モード, shelters (phone page,
national CSV import), tenancy of each page, and changelists in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from municipalities.models import AuditEntry
from richmenus.models import DisasterMode, RichMenu, RichMenuTile, Shelter, ShelterStatus
from tests.richmenus.factories import DISASTER_TILES, make_menu, make_shelter
from tests.richmenus.test_services_shelters import national_csv

pytestmark = pytest.mark.django_db
BACKEND = "municipalities.auth.RoleBackend"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def test_preview_outlines_every_area_and_says_what_it_does(town, town_admin):
    menu = make_menu(town, is_default=True)
    response = client_for(town_admin).get(reverse("admin:richmenus_richmenu_preview", args=[menu.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="rm-area"') == 6
    assert "「明日のごみは？」と送る" in html
    assert "ページを開く: 予約メニュー" in html
    assert 'id="rm-ok"' in html and 'id="rm-publish"' in html
    image = client_for(town_admin).get(reverse("admin:richmenus_richmenu_image", args=[menu.pk]))
    assert image.status_code == 200 and image["Content-Type"] in ("image/png", "image/jpeg")


def test_preview_shows_why_it_cannot_be_published(town, town_admin):
    menu = make_menu(town, is_default=True)
    RichMenuTile.objects.filter(menu=menu, position=6).delete()
    html = (
        client_for(town_admin)
        .get(reverse("admin:richmenus_richmenu_preview", args=[menu.pk]))
        .content.decode()
    )
    assert "公開できません: 6 番目のマスにボタンがありません" in html


def test_publish_button_publishes_through_the_simulator(
    town, kenko, kenko_head, django_capture_on_commit_callbacks
):
    menu = make_menu(town, is_default=True)
    menu.tiles.filter(position=1).update(department=kenko)  # 健康福祉課 owns the 予約 tile
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(kenko_head).post(reverse("admin:richmenus_richmenu_publish", args=[menu.pk]))
    assert response.status_code == 302
    menu.refresh_from_db()
    assert menu.status == RichMenu.Status.PUBLISHED and menu.line_rich_menu_id
    assert AuditEntry.objects.filter(action="richmenus.richmenu.published").exists()


def test_editor_sees_but_cannot_publish(town, kenko_editor):
    menu = make_menu(town)
    client = client_for(kenko_editor)
    page = client.get(reverse("admin:richmenus_richmenu_preview", args=[menu.pk]))
    assert page.status_code == 200 and 'id="rm-publish"' not in page.content.decode()
    assert client.post(reverse("admin:richmenus_richmenu_publish", args=[menu.pk])).status_code == 403
    menu.refresh_from_db()
    assert menu.status == RichMenu.Status.DRAFT


def test_another_towns_menu_is_a_404(town, other_town, town_admin):
    menu = make_menu(other_town)
    client = client_for(town_admin)
    assert client.get(reverse("admin:richmenus_richmenu_preview", args=[menu.pk])).status_code == 404
    assert client.get(reverse("admin:richmenus_richmenu_image", args=[menu.pk])).status_code == 404


def test_disaster_page_switches_and_back(town, town_admin, django_capture_on_commit_callbacks):
    make_menu(town, name="通常", is_default=True)
    make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    client = client_for(town_admin)
    url = reverse("admin:richmenus_richmenu_disaster")
    assert "災害モードに切り替える" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"municipality": town.pk, "state": "on", "disaster_type": "flood"})
    mode = DisasterMode.objects.get(municipality=town)
    assert mode.is_on and mode.phase == "idle" and mode.disaster_type == "flood"
    assert "通常に戻す" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"municipality": town.pk, "state": "off"})
    mode.refresh_from_db()
    assert not mode.is_on


def test_disaster_page_refuses_a_head(town, kenko_head):
    make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    response = client_for(kenko_head).post(
        reverse("admin:richmenus_richmenu_disaster"), {"municipality": town.pk, "state": "on"}, follow=True
    )
    assert "自治体管理者と防災の担当者だけ" in response.content.decode()
    assert not DisasterMode.objects.filter(municipality=town, is_on=True).exists()


def test_shelter_status_page_flips_with_one_tap(town, kenko_editor):
    shelter = make_shelter(town)
    client = client_for(kenko_editor)
    url = reverse("admin:richmenus_shelter_status")
    assert shelter.name in client.get(url).content.decode()
    client.post(url, {"shelter": shelter.pk, "status": ShelterStatus.OPEN})
    shelter.refresh_from_db()
    assert shelter.status == ShelterStatus.OPEN


def test_shelter_import_page(town, town_admin):
    client = client_for(town_admin)
    url = reverse("admin:richmenus_shelter_import")
    upload = SimpleUploadedFile("hinanjo.csv", national_csv("cp932"), content_type="text/csv")
    response = client.post(url, {"municipality": town.pk, "file": upload})
    assert 'id="rm-import-done"' in response.content.decode()
    assert Shelter.objects.filter(municipality=town).count() == 3


@pytest.mark.parametrize("model", ["richmenu", "shelter"])
def test_changelists_use_a_fixed_number_of_queries(town, town_admin, model, django_assert_max_num_queries):
    for n in range(4):
        make_menu(town, name=f"メニュー{n}")
        make_shelter(town)
    client = client_for(town_admin)
    url = reverse(f"admin:richmenus_{model}_changelist")
    client.get(url)
    with django_assert_max_num_queries(15):
        assert client.get(url).status_code == 200
