"""Reading the dates, times and names staff type or paste from Excel.

Everything goes through NFKC first, so full-width digits and colons (「２０２６／１２／０１」,
「９：００」) read like their half-width forms. Dates accept the Western calendar
(2026/12/01, 2026-12-01, 2026年12月1日, 20261201) and 和暦 (令和8年12月1日, R8.12.1, 令和元年…,
平成31年4月30日, H31.4.30). Times accept 9:00, 09:00:00, 9時, 9時30分, 午後2時, 0930.

The functions raise ``ValueError`` with a Japanese message that names what was wrong; the
import shows it next to the row.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

import jaconv

# First day of each era, and the Western year of its 元年 minus one.
ERAS: dict[str, tuple[dt.date, int]] = {
    "令和": (dt.date(2019, 5, 1), 2018),
    "R": (dt.date(2019, 5, 1), 2018),
    "平成": (dt.date(1989, 1, 8), 1988),
    "H": (dt.date(1989, 1, 8), 1988),
}

_WESTERN = re.compile(r"^(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?(?:\s*\(.\))?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_ERA = re.compile(
    r"^(令和|平成|R|H)\s*(\d{1,2}|元)\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?(?:\s*\(.\))?$",
    re.IGNORECASE,
)
_TIME_COLON = re.compile(
    r"^(午前|午後|AM|PM)?\s*(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*(AM|PM)?$", re.IGNORECASE
)
_TIME_KANJI = re.compile(r"^(午前|午後)?\s*(\d{1,2})\s*時\s*(?:(\d{1,2})\s*分|半)?$")
_TIME_COMPACT = re.compile(r"^(\d{1,2})(\d{2})$")
_WEEKDAY_SUFFIX = re.compile(r"[（(][月火水木金土日祝][)）]$")


def normalize(value: str) -> str:
    """NFKC + trimmed: full-width digits/letters/colons become half-width, spaces collapse."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


def normalize_name(value: str) -> str:
    """For matching a service or venue name typed by hand: NFKC, no spaces at all."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def to_katakana(value: str) -> str:
    """ふりがな in any width or script → full-width katakana with single spaces."""
    text = normalize(value)
    return jaconv.hira2kata(jaconv.h2z(text, kana=True, ascii=False, digit=False))


def phone_digits(value: str) -> str:
    """「０９０－１２３４－５６７８」→ "09012345678". Raises when it is no phone number."""
    digits = re.sub(r"\D", "", normalize(value))
    if not 10 <= len(digits) <= 11 or not digits.startswith("0"):
        raise ValueError("電話番号は 0 から始まる 10〜11 桁で入力してください。")
    return digits


@lru_cache(maxsize=4096)
def _parse_date_text(text: str) -> dt.date:
    s = _WEEKDAY_SUFFIX.sub("", normalize(text)).strip()
    if not s:
        raise ValueError("日付が空です。")
    m = _WESTERN.match(s) or _COMPACT.match(s)
    if m:
        year, month, day = (int(g) for g in m.groups())
        return _make_date(year, month, day, s)
    m = _ERA.match(s)
    if m:
        era, year_text, month, day = m.groups()
        start, offset = ERAS[era.upper() if len(era) == 1 else era]
        year = 1 if year_text == "元" else int(year_text)
        if year < 1:
            raise ValueError(f"日付「{text}」の年が正しくありません。")
        value = _make_date(offset + year, int(month), int(day), s)
        if value < start:
            raise ValueError(f"日付「{text}」はその元号の始まりより前です。")
        return value
    raise ValueError(f"日付「{text}」を読み取れません（例: 2026/12/01、令和8年12月1日、R8.12.1）。")


def _make_date(year: int, month: int, day: int, source: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"日付「{source}」は存在しない日付です。") from None


def parse_date(value: object) -> dt.date:
    """A date cell: a ``date``/``datetime`` from Excel, an Excel serial number, or text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000 < value < 80000:  # an Excel serial day number (1954–2119)
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        value = str(int(value))
    if value is None:
        raise ValueError("日付が空です。")
    return _parse_date_text(str(value))


@lru_cache(maxsize=4096)
def _parse_time_text(text: str) -> dt.time:
    s = normalize(text).replace("：", ":")
    if not s:
        raise ValueError("時刻が空です。")
    hour = minute = None
    meridiem = ""
    m = _TIME_COLON.match(s)
    if m:
        meridiem = (m.group(1) or m.group(5) or "").upper()
        hour, minute = int(m.group(2)), int(m.group(3))
    else:
        m = _TIME_KANJI.match(s)
        if m:
            meridiem = m.group(1) or ""
            hour = int(m.group(2))
            minute = int(m.group(3)) if m.group(3) else (30 if s.endswith("半") else 0)
        else:
            m = _TIME_COMPACT.match(s)
            if m:
                hour, minute = int(m.group(1)), int(m.group(2))
    if hour is None or minute is None:
        raise ValueError(f"時刻「{text}」を読み取れません（例: 9:00、9時30分）。")
    if meridiem in ("午後", "PM") and hour < 12:
        hour += 12
    elif meridiem in ("午前", "AM") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"時刻「{text}」は範囲外です。")
    return dt.time(hour, minute)


def parse_time(value: object) -> dt.time:
    """A time cell: a ``time``/``datetime`` from Excel, a day fraction, or text."""
    if isinstance(value, dt.datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, float) and 0 <= value < 1:  # Excel stores a time as a fraction of a day
        minutes = round(value * 24 * 60)
        return dt.time(minutes // 60, minutes % 60)
    if value is None:
        raise ValueError("時刻が空です。")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _parse_time_text(str(value))


def parse_positive_int(value: object, *, label: str, maximum: int = 100_000) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        s = normalize(str(value or "")).replace(",", "").removesuffix("人").removesuffix("名").strip()
        if not s.isdigit():
            raise ValueError(f"{label}「{value}」は数字で入力してください。")
        number = int(s)
    if not 1 <= number <= maximum:
        raise ValueError(f"{label}は 1〜{maximum:,} の範囲で入力してください。")
    return number


def to_wareki(value: dt.date) -> str:
    """2026-12-01 → 「令和8年12月1日」 (staff-facing labels)."""
    if value >= dt.date(2019, 5, 1):
        year = value.year - 2018
        return f"令和{'元' if year == 1 else year}年{value.month}月{value.day}日"
    year = value.year - 1988
    return f"平成{'元' if year == 1 else year}年{value.month}月{value.day}日"
