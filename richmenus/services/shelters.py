"""Shelters (避難所): import from the national open data, status flips during a disaster.

The Geospatial Information Authority of Japan (国土地理院) publishes the designated emergency
evacuation sites (指定緊急避難場所) per municipality as CSV: 共通ID, 施設・場所名, 住所, one column
per disaster type (1 = designated for it), 指定避難所との住所同一, 緯度, 経度, 備考. Files come in
UTF-8 or Shift_JIS (``municipalities.files.decode_text``); full-width digits and spaces are
normalised (``municipalities.jp``); a row without coordinates is kept (it cannot be offered by
distance, and the import says so).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.files import TextDecodeError, decode_text
from municipalities.jp import InputError, normalise_text, parse_postal_code
from municipalities.models import Municipality
from richmenus.errors import RichMenuError
from richmenus.models import AddressPoint, DisasterType, Shelter, ShelterStatus
from richmenus.places import place_key

# Header (NFKC, without spaces) → disaster type. Keep in sync with DisasterType.
TYPE_COLUMNS: dict[str, str] = {
    "洪水": DisasterType.FLOOD,
    "崖崩れ、土石流及び地滑り": DisasterType.LANDSLIDE,
    "崖崩れ,土石流及び地滑り": DisasterType.LANDSLIDE,
    "高潮": DisasterType.STORM_SURGE,
    "地震": DisasterType.EARTHQUAKE,
    "津波": DisasterType.TSUNAMI,
    "大規模な火事": DisasterType.FIRE,
    "内水氾濫": DisasterType.INLAND_FLOOD,
    "火山現象": DisasterType.VOLCANO,
}
CODE_HEADERS = ("共通ID", "ID", "NO", "番号")
NAME_HEADERS = ("施設・場所名", "施設名", "名称")
ADDRESS_HEADERS = ("住所", "所在地")
LAT_HEADERS = ("緯度",)
LON_HEADERS = ("経度",)
SHELTER_HEADERS = ("指定避難所との住所同一", "指定避難所との重複")


@dataclass
class ShelterImport:
    created: int = 0
    updated: int = 0
    without_coordinates: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _key(header: str) -> str:
    return normalise_text(header).replace(" ", "").replace("　", "")


def _pick(row: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        value = row.get(_key(name))
        if value:
            return normalise_text(value)
    return ""


def _coordinate(value: str, low: int, high: int) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number.quantize(Decimal("0.000001")) if low <= number <= high else None


def parse_shelters(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows, errors) of a national-format CSV; each row a dict of Shelter fields."""
    try:
        text = decode_text(data)
    except TextDecodeError as exc:
        return [], [{"row": 0, "message": exc.message}]
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], [{"row": 0, "message": _("ファイルが空です。")}]
    keys = [_key(h) for h in header]
    if not any(k in keys for k in map(_key, NAME_HEADERS)):
        return [], [
            {
                "row": 1,
                "message": _(
                    "見出しに「施設・場所名」がありません。国土地理院の形式の CSV を選んでください。"
                ),
            }
        ]
    rows, errors = [], []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        row = dict(zip(keys, values, strict=False))
        name = _pick(row, NAME_HEADERS)
        if not name:
            errors.append({"row": number, "message": _("施設・場所名がありません。")})
            continue
        code = _pick(row, CODE_HEADERS) or name
        types = [
            t
            for column, t in TYPE_COLUMNS.items()
            if normalise_text(row.get(_key(column), "")).strip() == "1"
        ]
        rows.append(
            {
                "code": code[:64],
                "name": name[:200],
                "address": _pick(row, ADDRESS_HEADERS)[:300],
                "latitude": _coordinate(_pick(row, LAT_HEADERS), -90, 90),
                "longitude": _coordinate(_pick(row, LON_HEADERS), -180, 180),
                "disaster_types": sorted(set(types)),
                "is_designated_shelter": _pick(row, SHELTER_HEADERS) == "1",
                "row": number,
            }
        )
    return rows, errors


@transaction.atomic(durable=True)
def shelters_import(*, municipality: Municipality, data: bytes, actor: Any | None) -> ShelterImport:
    """Create or update the town's shelters from a national-format CSV (by 共通ID; status kept).
    All or nothing: a row that cannot be read changes nothing and is listed. Audited."""
    if actor is not None:
        permissions.require(actor, "import", Shelter(municipality=municipality), error=RichMenuError)
    rows, errors = parse_shelters(data)
    outcome = ShelterImport(errors=errors)
    if errors:
        return outcome
    existing = {s.code: s for s in Shelter.objects.filter(municipality=municipality)}
    for row in rows:
        number = row.pop("row")
        shelter = existing.get(row["code"])
        if row["latitude"] is None or row["longitude"] is None:
            outcome.without_coordinates.append(_("%(n)d 行目 %(name)s") % {"n": number, "name": row["name"]})
        if shelter is None:
            Shelter.objects.create(municipality=municipality, **row)
            outcome.created += 1
        else:
            for name, value in row.items():
                setattr(shelter, name, value)
            shelter.save()
            outcome.updated += 1
    audit_log(
        actor=actor,
        action="richmenus.shelter.imported",
        obj=municipality,
        data={"created": outcome.created, "updated": outcome.updated},
    )
    return outcome


@transaction.atomic(durable=True)
def shelter_status_set(*, shelter: Shelter, status: str, actor: Any | None) -> Shelter:
    """Flip a shelter's status (未開設 / 開設 / 混雑 / 満). Raises RichMenuError. Audited."""
    if status not in ShelterStatus.values:
        raise RichMenuError(_("開設状況が正しくありません。"), code="invalid")
    if actor is not None:
        permissions.require(actor, "change", shelter, error=RichMenuError)
    shelter = Shelter.objects.select_for_update().get(pk=shelter.pk)
    before = shelter.status
    shelter.status = status
    shelter.save(update_fields=["status", "updated_at"])
    audit_log(
        actor=actor,
        action="richmenus.shelter.status_changed",
        obj=shelter,
        data={"from": before, "to": status},
    )
    return shelter


# 国土交通省「位置参照情報」 大字・町丁目レベル (one file per prefecture; the town's rows are taken)
POINT_NAME_HEADERS = ("大字町丁目名", "町丁目名", "大字・町丁目名", "町名")
POINT_CITY_HEADERS = ("市区町村名",)
POINT_POSTAL_HEADERS = ("郵便番号",)


@dataclass
class AddressPointImport:
    created: int = 0
    updated: int = 0
    other_towns: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@transaction.atomic(durable=True)
def address_points_import(
    *, municipality: Municipality, data: bytes, actor: Any | None
) -> AddressPointImport:
    """Create or update the town's 町丁目 points from a 位置参照情報 CSV (大字・町丁目レベル; UTF-8
    or Shift_JIS): rows of other towns in the prefecture's file are skipped; a row without a name
    or coordinates is an error and nothing is imported. Audited."""
    if actor is not None:
        permissions.require(actor, "import", AddressPoint(municipality=municipality), error=RichMenuError)
    outcome = AddressPointImport()
    try:
        text = decode_text(data)
    except TextDecodeError as exc:
        outcome.errors.append({"row": 0, "message": exc.message})
        return outcome
    reader = csv.reader(io.StringIO(text))
    keys = [_key(h) for h in next(reader, [])]
    if not any(k in keys for k in map(_key, POINT_NAME_HEADERS)) or not {"緯度", "経度"} <= set(keys):
        outcome.errors.append(
            {
                "row": 1,
                "message": _(
                    "見出しに「大字町丁目名」「緯度」「経度」がありません。位置参照情報の CSV を選んでください。"
                ),
            }
        )
        return outcome
    rows: dict[str, dict[str, Any]] = {}
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        row = dict(zip(keys, values, strict=False))
        city = _pick(row, POINT_CITY_HEADERS)
        if city and not city.endswith(municipality.name):
            outcome.other_towns += 1
            continue
        name = _pick(row, POINT_NAME_HEADERS)
        latitude = _coordinate(_pick(row, LAT_HEADERS), -90, 90)
        longitude = _coordinate(_pick(row, LON_HEADERS), -180, 180)
        if not name or latitude is None or longitude is None:
            outcome.errors.append(
                {"row": number, "message": _("大字町丁目名・緯度・経度のいずれかがありません。")}
            )
            continue
        postal = _pick(row, POINT_POSTAL_HEADERS)
        try:
            postal = parse_postal_code(postal) if postal else ""
        except InputError as exc:
            outcome.errors.append({"row": number, "message": exc.message})
            continue
        key = place_key(name, municipality=municipality)
        rows[key] = {"name": name[:100], "latitude": latitude, "longitude": longitude, "postal_code": postal}
    if outcome.errors:
        return outcome
    existing = {p.key: p for p in AddressPoint.objects.filter(municipality=municipality)}
    for key, values in rows.items():
        point = existing.get(key)
        if point is None:
            AddressPoint.objects.create(municipality=municipality, key=key, **values)
            outcome.created += 1
        else:
            for name, value in values.items():
                setattr(point, name, value)
            point.save(update_fields=[*values, "updated_at"])
            outcome.updated += 1
    audit_log(
        actor=actor,
        action="richmenus.address_point.imported",
        obj=municipality,
        data={"created": outcome.created, "updated": outcome.updated, "other_towns": outcome.other_towns},
    )
    return outcome
