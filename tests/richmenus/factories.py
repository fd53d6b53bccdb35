"""Factories of the rich-menu tests and the permission-matrix builders of its admin models."""

from __future__ import annotations

import itertools

from municipalities.models import Municipality
from richmenus.models import AddressPoint, RichMenu, RichMenuLinkJob, RichMenuTile, Shelter
from tests.matrix import matrix_builder

_codes = itertools.count(1)

SIX_TILES = [
    ("予約", "reserve", RichMenuTile.Action.FEATURE, {"feature": "reservations.menus"}),
    ("申請", "apply", RichMenuTile.Action.FEATURE, {"feature": "applications.forms"}),
    ("ごみ", "garbage", RichMenuTile.Action.TEXT, {"text": "明日のごみは？"}),
    ("受信設定", "settings", RichMenuTile.Action.FEATURE, {"feature": "broadcasts.settings"}),
    ("お知らせ", "news", RichMenuTile.Action.POSTBACK, {"data": "bc:settings"}),
    ("防災", "disaster", RichMenuTile.Action.URI, {"uri": "https://www.jma.go.jp/bosai/"}),
]

DISASTER_TILES = [
    ("避難所", "disaster", RichMenuTile.Action.TEXT, {"text": "避難所"}),
    ("緊急のお知らせ", "news", RichMenuTile.Action.TEXT, {"text": "緊急のお知らせ"}),
    ("安否の連絡", "contact", RichMenuTile.Action.TEXT, {"text": "安否の連絡"}),
    ("防災無線", "news", RichMenuTile.Action.TEXT, {"text": "防災行政無線"}),
    ("問い合わせ", "contact", RichMenuTile.Action.TEXT, {"text": "問い合わせ"}),
    ("ホームページ", "home", RichMenuTile.Action.URI, {"uri": "https://example.jp/"}),
]


def make_menu(
    municipality: Municipality,
    *,
    name: str = "通常メニュー",
    kind: str = RichMenu.Kind.NORMAL,
    is_default: bool = False,
    tiles: list | None = None,
    layout: str = RichMenu.Layout.LARGE6,
    **fields,
) -> RichMenu:
    menu = RichMenu.objects.create(
        municipality=municipality, name=name, kind=kind, is_default=is_default, layout=layout, **fields
    )
    for position, (label, icon, action, extra) in enumerate(tiles if tiles is not None else SIX_TILES, 1):
        RichMenuTile.objects.create(
            menu=menu, position=position, label=label, icon=icon, action=action, **extra
        )
    return menu


def make_shelter(municipality: Municipality, **fields) -> Shelter:
    number = next(_codes)
    values = {
        "code": f"S{number:05d}",
        "name": f"避難所{number}",
        "address": "みどり町1-1",
        "latitude": "35.000000",
        "longitude": "135.000000",
        "disaster_types": ["earthquake"],
        **fields,
    }
    return Shelter.objects.create(municipality=municipality, **values)


@matrix_builder(RichMenu)
def _richmenu(department):
    # A menu with one tile of ``department``: its 所属長 may change it, other heads only read it.
    menu = make_menu(department.municipality, name=f"メニュー{next(_codes)}")
    menu.tiles.filter(position=1).update(department=department)
    return menu


@matrix_builder(Shelter)
def _shelter(department):
    return make_shelter(department.municipality)


@matrix_builder(RichMenuLinkJob)
def _link_job(department):
    return RichMenuLinkJob.objects.create(
        municipality=department.municipality, reason="テスト", status=RichMenuLinkJob.Status.FAILED, total=10
    )


@matrix_builder(AddressPoint)
def _address_point(department):
    number = next(_codes)
    return AddressPoint.objects.create(
        municipality=department.municipality,
        name=f"中央{number}丁目",
        key=f"中央{number}丁目",
        latitude="35.620000",
        longitude="135.060000",
    )
