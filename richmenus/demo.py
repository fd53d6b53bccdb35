"""Demo data of rich menus: the town's published 6-tile menu (予約 / 申請 / ごみ / 受信設定 /
お知らせ / 防災), a prepared disaster menu, and a few shelters. Idempotent: menus are created when
missing and published when they are not yet (through the LINE simulator)."""

from __future__ import annotations

from municipalities.models import Department, Municipality
from richmenus.models import RichMenu, RichMenuTile, Shelter, ShelterStatus
from richmenus.services import richmenu_publish

Action = RichMenuTile.Action

DEFAULT_TILES = [
    ("予約", "reserve", "#1E88E5", Action.FEATURE, {"feature": "reservations.menus"}),
    ("申請", "apply", "#43A047", Action.FEATURE, {"feature": "applications.forms"}),
    ("ごみ", "garbage", "#6D4C41", Action.TEXT, {"text": "明日のごみは？"}),
    ("受信設定", "settings", "#8E24AA", Action.FEATURE, {"feature": "broadcasts.settings"}),
    ("お知らせ", "news", "#F4511E", Action.URI, {"uri": "https://example.jp/news/"}),
    ("防災", "disaster", "#C62828", Action.URI, {"uri": "https://www.jma.go.jp/bosai/"}),
]

DISASTER_TILES = [
    ("避難所", "disaster", "#C62828", Action.TEXT, {"text": "避難所"}),
    ("緊急のお知らせ", "news", "#EF6C00", Action.TEXT, {"text": "緊急のお知らせ"}),
    ("安否の連絡", "contact", "#2E7D32", Action.TEXT, {"text": "安否の連絡"}),
    ("防災無線", "news", "#1565C0", Action.TEXT, {"text": "防災行政無線の内容"}),
    ("問い合わせ", "contact", "#6A1B9A", Action.TEXT, {"text": "問い合わせ"}),
    ("町のホームページ", "home", "#37474F", Action.URI, {"uri": "https://example.jp/"}),
]

# The department that owns a tile: its 所属長 may change and publish the menu (健康福祉課 runs the
# checkup bookings); the other tiles are the information team's (自治体管理者).
TILE_DEPARTMENTS = {"予約": "kenko"}

SHELTERS = [
    ("D001", "みどり町立中央小学校", "みどり町中央1-2-3", "35.621200", "135.061000", ShelterStatus.OPEN),
    ("D002", "みどり町公民館", "みどり町本町4-5", "35.625800", "135.055400", ShelterStatus.CROWDED),
    ("D003", "みどり中学校体育館", "みどり町東町8-1", "35.615300", "135.070900", ShelterStatus.CLOSED),
]


def _menu(municipality: Municipality, name: str, kind: str, tiles: list, *, is_default: bool) -> RichMenu:
    menu = RichMenu.objects.filter(municipality=municipality, kind=kind, name=name).first()
    if menu is not None:
        return menu
    menu = RichMenu.objects.create(
        municipality=municipality,
        name=name,
        kind=kind,
        is_default=is_default,
        layout=RichMenu.Layout.LARGE6,
        chat_bar_text="メニュー" if kind == RichMenu.Kind.NORMAL else "災害時メニュー",
    )
    for position, (label, icon, colour, action, extra) in enumerate(tiles, 1):
        code = TILE_DEPARTMENTS.get(label) if kind == RichMenu.Kind.NORMAL else None
        RichMenuTile.objects.create(
            menu=menu,
            position=position,
            department=Department.objects.filter(municipality=municipality, code=code).first()
            if code
            else None,
            label=label,
            icon=icon,
            background_color=colour,
            action=action,
            **extra,
        )
    return menu


def seed(municipality: Municipality) -> None:
    default = _menu(municipality, "みどり町メニュー", RichMenu.Kind.NORMAL, DEFAULT_TILES, is_default=True)
    disaster = _menu(municipality, "災害時メニュー", RichMenu.Kind.DISASTER, DISASTER_TILES, is_default=False)
    # Both are sent to LINE (the simulator's): the default is shown, the disaster menu waits,
    # prepared, for 災害モード.
    for menu in (default, disaster):
        if menu.status != RichMenu.Status.PUBLISHED:
            richmenu_publish(menu=menu, actor=None)
    for code, name, address, lat, lon, status in SHELTERS:
        Shelter.objects.get_or_create(
            municipality=municipality,
            code=code,
            defaults={
                "name": name,
                "address": address,
                "latitude": lat,
                "longitude": lon,
                "disaster_types": ["flood", "earthquake", "landslide"],
                "is_designated_shelter": True,
                "status": status,
            },
        )
