"""Publishing through the gateway (api backend, fake LINE): the calls LINE's spec allows, in an
order that never leaves residents without a menu, reuse instead of re-creating, audit rows."""

from __future__ import annotations

import pytest

from municipalities.models import AuditEntry
from richmenus.errors import RichMenuError
from richmenus.models import ResidentRichMenu, RichMenu, RichMenuTile
from richmenus.services import richmenu_body, richmenu_check, richmenu_line_sync, richmenu_publish
from tests.richmenus.factories import make_menu

pytestmark = pytest.mark.django_db


def _endpoints(fake) -> list[str]:
    return [r.endpoint for r in fake.requests if r.endpoint.startswith("richmenu")]


def test_publish_creates_uploads_and_sets_default(
    town, line_api, town_admin, django_capture_on_commit_callbacks
):
    # given the town's default 6-tile menu
    menu = make_menu(town, is_default=True)
    # when a 自治体管理者 publishes it (the task runs on commit)
    with django_capture_on_commit_callbacks(execute=True):
        richmenu_publish(menu=menu, actor=town_admin)
    # then LINE got validate → create → image → default, each valid by LINE's spec
    assert _endpoints(line_api) == [
        "richmenu_validate",
        "richmenu_create",
        "richmenu_image",
        "richmenu_default",
    ]
    assert line_api.schema_errors == []
    menu.refresh_from_db()
    assert menu.status == RichMenu.Status.PUBLISHED
    assert line_api.richmenus.state.default == menu.line_rich_menu_id
    assert line_api.richmenus.menu_of("Uanyone") == menu.line_rich_menu_id
    body = line_api.richmenus.state.menus[menu.line_rich_menu_id]
    assert len(body["areas"]) == 6 and body["chatBarText"] == "メニュー"
    assert AuditEntry.objects.filter(action="richmenus.richmenu.publish_requested", actor=town_admin).exists()
    assert AuditEntry.objects.filter(action="richmenus.richmenu.published").exists()


def test_republishing_unchanged_menu_reuses_it(town, line_api):
    menu = make_menu(town, is_default=True)
    first = richmenu_line_sync(menu_id=menu.pk).line_rich_menu_id
    line_api.reset()
    # when nothing changed
    second = richmenu_line_sync(menu_id=menu.pk).line_rich_menu_id
    # then no menu is created (LINE allows 100 an hour): only the default is pointed again
    assert second == first
    assert _endpoints(line_api) == ["richmenu_default"]


def test_replacing_swaps_without_a_gap_then_deletes_the_old(town, line_api, resident):
    # given a published menu with a resident linked to it
    menu = make_menu(town, is_default=True)
    old = richmenu_line_sync(menu_id=menu.pk).line_rich_menu_id
    ResidentRichMenu.objects.create(resident=resident, menu=menu, linked_at=menu.created_at)
    RichMenuTile.objects.filter(menu=menu, position=1).update(label="予約する")
    line_api.reset()
    # when it is published again
    new = richmenu_line_sync(menu_id=menu.pk).line_rich_menu_id
    # then the new one is default and linked before the old one is deleted
    assert new != old
    assert _endpoints(line_api) == [
        "richmenu_validate",
        "richmenu_create",
        "richmenu_image",
        "richmenu_default",
        "richmenu_bulk_link",
        "richmenu_delete",
    ]
    assert line_api.richmenus.menu_of(resident.line_user_id) == new
    assert old not in line_api.richmenus.state.menus
    assert AuditEntry.objects.filter(action="richmenus.richmenu.replaced").exists()


def test_alias_is_created_then_updated(town, line_api):
    menu = make_menu(town, name="タブ2", alias="tab-2")
    first = richmenu_line_sync(menu_id=menu.pk).line_rich_menu_id
    assert line_api.richmenus.state.aliases == {"tab-2": first}
    RichMenuTile.objects.filter(menu=menu, position=2).update(label="申請する")
    second = richmenu_line_sync(menu_id=menu.pk).line_rich_menu_id
    assert line_api.richmenus.state.aliases == {"tab-2": second}
    assert line_api.schema_errors == []


def test_tab_switch_and_feature_actions(town):
    # given a menu whose first tile switches to a tab and whose second opens a page
    tab = make_menu(town, name="タブ2", alias="tab-2")
    menu = make_menu(town, name="タブ1")
    RichMenuTile.objects.filter(menu=menu, position=1).update(
        action=RichMenuTile.Action.SWITCH, switch_to=tab
    )
    # when its body is built (town without LIFF app)
    body = richmenu_body(menu=menu)
    actions = [a["action"] for a in body["areas"]]
    # then the tab is a richmenuswitch to the alias, the page a postback the bot answers
    assert actions[0]["type"] == "richmenuswitch" and actions[0]["richMenuAliasId"] == "tab-2"
    assert actions[1]["type"] == "postback" and actions[1]["data"].startswith("rm:t:")
    assert actions[2] == {"type": "message", "label": "ごみ", "text": "明日のごみは？"}
    # and with a LIFF app the page opens at once, through the counting page
    town.liff_id = "1234-abcd"
    town.save(update_fields=["liff_id"])
    menu.refresh_from_db()
    action = richmenu_body(menu=menu)["areas"][1]["action"]
    assert action["type"] == "uri" and action["uri"].startswith(
        "https://liff.line.me/1234-abcd?next=/liff/richmenus/tap/"
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"chat_bar_text": "  "}, "chat_bar_empty"),
        ({"layout": RichMenu.Layout.LARGE4}, "tile_extra"),
        ({"layout": RichMenu.Layout.GRID, "grid_columns": 4, "grid_rows": 2}, "tile_missing"),
    ],
)
def test_check_refuses_before_any_call(town, line_api, change, code):
    menu = make_menu(town, is_default=True)
    RichMenu.objects.filter(pk=menu.pk).update(**change)
    menu.refresh_from_db()
    with pytest.raises(RichMenuError) as exc:
        richmenu_publish(menu=menu, actor=None)
    assert exc.value.code == code
    assert _endpoints(line_api) == []


def test_tile_rules(town):
    menu = make_menu(town)
    RichMenuTile.objects.filter(menu=menu, position=6).update(uri="http://example.jp/")
    with pytest.raises(RichMenuError) as exc:
        richmenu_check(menu=menu)
    assert "https://" in exc.value.message


def test_editor_cannot_publish(town, kenko_editor):
    menu = make_menu(town)
    with pytest.raises(RichMenuError) as exc:
        richmenu_publish(menu=menu, actor=kenko_editor)
    assert exc.value.code == "permission_denied"


def test_head_may_publish(town, kenko, kenko_head, line_api, django_capture_on_commit_callbacks):
    menu = make_menu(town)
    menu.tiles.filter(position=1).update(department=kenko)  # 健康福祉課 owns a tile
    with django_capture_on_commit_callbacks(execute=True):
        richmenu_publish(menu=menu, actor=kenko_head)
    menu.refresh_from_db()
    assert menu.status == RichMenu.Status.PUBLISHED
