"""Reading the cells of a slot file: dates, times and counts, as staff type or paste from Excel.

Text is read by the core kernel (``municipalities.jp``): full-width digits and colons
(「２０２６／１２／０１」, 「９：００」) read like their half-width forms, and dates are every form
``jp.parse_date`` reads (2026/12/01, 2026年12月1日(火), 20261201, 令和8年12月1日, R8.12.1 …). This
module adds what only a spreadsheet cell has: ``date``/``time`` values and Excel serial numbers.
Times accept 9:00, 09:00:00, 9時, 9時30分, 午後2時, 0930.

The functions raise ``ValueError`` (``jp.InputError``) with a Japanese message that names the
cell's text; the import shows it next to the row.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from municipalities import jp

_TIME_COLON = re.compile(
    r"^(午前|午後|AM|PM)?\s*(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*(AM|PM)?$", re.IGNORECASE
)
_TIME_KANJI = re.compile(r"^(午前|午後)?\s*(\d{1,2})\s*時\s*(?:(\d{1,2})\s*分|半)?$")
_TIME_COMPACT = re.compile(r"^(\d{1,2})(\d{2})$")


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
        raise jp.InputError("日付が空です。")
    text = str(value)
    try:
        return jp.parse_date(text)
    except jp.InputError as exc:
        raise jp.InputError(f"日付「{text}」: {exc.message}") from None


@lru_cache(maxsize=4096)
def _parse_time_text(text: str) -> dt.time:
    s = jp.normalise_text(text).replace("：", ":")
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
        s = jp.normalise_text(str(value or "")).replace(",", "").removesuffix("人").removesuffix("名").strip()
        if not s.isdigit():
            raise ValueError(f"{label}「{value}」は数字で入力してください。")
        number = int(s)
    if not 1 <= number <= maximum:
        raise ValueError(f"{label}は 1〜{maximum:,} の範囲で入力してください。")
    return number
