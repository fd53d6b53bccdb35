"""Shelters from the national open-data CSV (generated here in its format): UTF-8 and Shift_JIS,
full-width digits, missing coordinates; status flips audited."""

from __future__ import annotations

import pytest

from municipalities.models import AuditEntry
from richmenus.errors import RichMenuError
from richmenus.models import Shelter, ShelterStatus
from richmenus.selectors import distance_m, shelters_near
from richmenus.services import shelter_status_set, shelters_import
from tests.conftest import make_staff
from tests.richmenus.factories import make_shelter

pytestmark = pytest.mark.django_db

HEADER = (
    "共通ID,施設・場所名,住所,洪水,崖崩れ、土石流及び地滑り,高潮,地震,津波,大規模な火事,内水氾濫,火山現象,"
    "指定避難所との住所同一,緯度,経度,備考"
)
ROWS = [
    "26212-001,みどり小学校,みどり町１－２,1,,,1,,1,,,1,35.621200,135.061000,",
    "26212-002,みどり公民館,みどり町本町4,1,1,,,,,,,,３５．６２５８,１３５．０５５４,全角の座標",
    "26212-003,高台の広場,みどり町山手,,,1,,1,,,,,,,座標なし",
]


def national_csv(encoding: str = "utf-8", rows: list[str] | None = None) -> bytes:
    return ("\r\n".join([HEADER, *(ROWS if rows is None else rows)]) + "\r\n").encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_import_national_format(town, town_admin, encoding):
    # when the town's file is imported
    outcome = shelters_import(municipality=town, data=national_csv(encoding), actor=town_admin)
    # then every row is a shelter with its disaster types; full-width coordinates are read
    assert (outcome.created, outcome.updated, outcome.errors) == (3, 0, [])
    school = Shelter.objects.get(municipality=town, code="26212-001")
    assert school.disaster_types == ["earthquake", "fire", "flood"]
    assert school.is_designated_shelter and school.status == ShelterStatus.CLOSED
    hall = Shelter.objects.get(code="26212-002")
    assert str(hall.latitude) == "35.625800" and str(hall.longitude) == "135.055400"
    # and the one without coordinates is kept, and named
    plaza = Shelter.objects.get(code="26212-003")
    assert plaza.latitude is None
    assert any("高台の広場" in line for line in outcome.without_coordinates)
    assert AuditEntry.objects.filter(action="richmenus.shelter.imported").exists()


def test_reimport_updates_and_keeps_the_status(town):
    shelters_import(municipality=town, data=national_csv(), actor=None)
    Shelter.objects.filter(code="26212-001").update(status=ShelterStatus.OPEN)
    outcome = shelters_import(municipality=town, data=national_csv(), actor=None)
    assert (outcome.created, outcome.updated) == (0, 3)
    assert Shelter.objects.get(code="26212-001").status == ShelterStatus.OPEN


def test_a_row_without_name_imports_nothing(town):
    outcome = shelters_import(
        municipality=town,
        data=national_csv(rows=[ROWS[0], "26212-009,,どこか,1,,,,,,,,,35,135,"]),
        actor=None,
    )
    assert outcome.errors == [{"row": 3, "message": "施設・場所名がありません。"}]
    assert not Shelter.objects.exists()


def test_a_file_of_another_format_is_refused(town):
    outcome = shelters_import(municipality=town, data="名前,住所\na,b\n".encode(), actor=None)
    assert "施設・場所名" in outcome.errors[0]["message"]


def test_editor_of_another_town_cannot_import(town, other_town):
    outsider = make_staff("outsider", other_town, "municipality_admin")
    with pytest.raises(RichMenuError):
        shelters_import(municipality=town, data=national_csv(), actor=outsider)


def test_status_flip_is_audited(town, kenko_editor):
    shelter = make_shelter(town)
    shelter_status_set(shelter=shelter, status=ShelterStatus.CROWDED, actor=kenko_editor)
    shelter.refresh_from_db()
    assert shelter.status == ShelterStatus.CROWDED
    entry = AuditEntry.objects.get(action="richmenus.shelter.status_changed")
    assert entry.data == {"from": "closed", "to": "crowded"}
    with pytest.raises(RichMenuError):
        shelter_status_set(shelter=shelter, status="nonsense", actor=kenko_editor)


def test_distance():
    # one minute of latitude is one nautical mile (≈ 1,852 m)
    assert abs(distance_m(35.0, 135.0, 35.0 + 1 / 60, 135.0) - 1853) < 5


def test_near_orders_open_first(town):
    make_shelter(town, name="近いが満", status=ShelterStatus.FULL, latitude="35.0001")
    make_shelter(town, name="遠いが開設", status=ShelterStatus.OPEN, latitude="35.0300")
    names = [n.shelter.name for n in shelters_near(municipality=town, latitude=35.0, longitude=135.0)]
    assert names == ["遠いが開設", "近いが満"]
