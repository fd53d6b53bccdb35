"""Collection-day rules of the 5374 format and the dates they give.

A calendar cell of ``area_days.csv`` is a space-separated list of tokens, optionally followed by
``:`` and the months it applies to::

    月 木                weekly, every Monday and Thursday
    火2 火4  /  2土       the 2nd and 4th Tuesday  /  the 2nd Saturday
    金4:4 6 8 10 12 2    the 4th Friday, only in April, June, … February
    20240301 20240325    irregular dates (always apply)
    *1                   a remark (remarks.csv), shown with the answer
    e2w20240401          every 2 (or n) weeks on the weekday of that date, counted from it
                         (forks that added 隔週 and 4 週ごと; months do not restrict it)
    隔月20240401          every other week on the named weekday, from that date on (and before it)

The last two are extensions found in public forks of the 5374 app (``regularFlg = 2``).

Center holidays (``center.csv``) cancel the collection days inside the period, as the 5374 app
does (``isBlankDay``); a holiday with the 「振替」 policy moves them to the first day after it, and
one with 「1 週ずらし」 is the 5374 app's ``WeekShift`` (``setting.js``, 金沢の仕様): in a month, the
first day of a weekday inside the period and every later one of that weekday in the month move
one week on (a day moved into the next month is dropped), so 「金1」 in a January whose first
Friday is a holiday is collected on the second Friday, and 「金2」 on the third.
This module is pure: no database access, so the rules are easy to test and cheap to evaluate.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from municipalities import jp

WEEKDAYS = "月火水木金土日"  # date.weekday(): Monday is 0
WEEKDAY_NAMES = ["月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日", "日曜日"]
SEARCH_HORIZON_DAYS = 400

_NTH_AFTER = re.compile(rf"^([{WEEKDAYS}])([1-5])$")
_NTH_BEFORE = re.compile(rf"^([1-5])([{WEEKDAYS}])$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_REMARK = re.compile(r"^\*(\d+)$")
_EVERY_N_WEEKS = re.compile(r"^e(\d{1,2})w(\d{4})(\d{2})(\d{2})$")
_BIWEEKLY = re.compile(rf"^隔([{WEEKDAYS}])(\d{{4}})(\d{{2}})(\d{{2}})$")


class RuleSyntaxError(ValueError):
    """A calendar cell that is not in the 5374 format; the message is Japanese, for staff."""


@dataclass(frozen=True)
class Rule:
    weekly: frozenset[int] = frozenset()
    nth: frozenset[tuple[int, int]] = frozenset()  # (weekday, n)
    dates: frozenset[dt.date] = frozenset()
    months: frozenset[int] | None = None  # None: every month
    remarks: tuple[int, ...] = ()
    # (first day, every n weeks): the first day is a collection day, and so is every n-th week
    # after (and before) it on the same weekday.
    periodic: frozenset[tuple[dt.date, int]] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.weekly or self.nth or self.dates or self.periodic)

    def occurs_on(self, day: dt.date) -> bool:
        """Whether the rule collects on ``day`` (before center holidays)."""
        if day in self.dates:
            return True
        for start, weeks in self.periodic:
            delta = (day - start).days
            if delta % 7 == 0 and (delta // 7) % weeks == 0:
                return True
        if self.months is not None and day.month not in self.months:
            return False
        weekday = day.weekday()
        if weekday in self.weekly:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth

    def describe(self) -> str:
        """A reading for residents: 「毎週 月曜日・木曜日」「第2・第4 火曜日」."""
        parts: list[str] = []
        if self.weekly:
            parts.append("毎週 " + "・".join(WEEKDAY_NAMES[w] for w in sorted(self.weekly)))
        by_weekday: dict[int, list[int]] = {}
        for weekday, n in sorted(self.nth):
            by_weekday.setdefault(weekday, []).append(n)
        for weekday, ns in by_weekday.items():
            parts.append("・".join(f"第{n}" for n in ns) + " " + WEEKDAY_NAMES[weekday])
        for start, weeks in sorted(self.periodic):
            every = "隔週" if weeks == 2 else f"{weeks}週ごと"
            parts.append(
                f"{every} {WEEKDAY_NAMES[start.weekday()]}（{start.year}/{start.month}/{start.day} から）"
            )
        text = "、".join(parts)
        if text and self.months is not None:
            text += "（" + "・".join(f"{m}月" for m in _fiscal_order(self.months)) + "）"
        if self.dates:
            text = (text + "、" if text else "") + "・".join(
                f"{d.month}/{d.day}" for d in sorted(self.dates)[:6]
            )
            if len(self.dates) > 6:
                text += " ほか"
        return text


def _fiscal_order(months: Iterable[int]) -> list[int]:
    return sorted(months, key=lambda m: (m - 4) % 12)


def parse_rule(cell: str) -> Rule:
    """Parse one calendar cell. Raises RuleSyntaxError naming the token it cannot read."""
    text = jp.normalise_text(cell)  # full-width digits, colons and spaces, tabs → one space
    if not text:
        return Rule()
    months: frozenset[int] | None = None
    if ":" in text:
        days_part, _, months_part = text.partition(":")
        month_values: set[int] = set()
        for token in months_part.split():
            if not token.isdigit() or not 1 <= int(token) <= 12:
                raise RuleSyntaxError(f"月の指定「{token}」が読めません（1〜12 の数字をスペース区切りで）")
            month_values.add(int(token))
        if not month_values:
            raise RuleSyntaxError("「:」の後に月がありません")
        months = frozenset(month_values)
    else:
        days_part = text
    weekly: set[int] = set()
    nth: set[tuple[int, int]] = set()
    dates: set[dt.date] = set()
    periodic: set[tuple[dt.date, int]] = set()
    remarks: list[int] = []
    for token in days_part.split():
        if len(token) == 1 and token in WEEKDAYS:
            weekly.add(WEEKDAYS.index(token))
        elif match := _NTH_AFTER.match(token):
            nth.add((WEEKDAYS.index(match[1]), int(match[2])))
        elif match := _NTH_BEFORE.match(token):
            nth.add((WEEKDAYS.index(match[2]), int(match[1])))
        elif match := _DATE.match(token):
            try:
                dates.add(dt.date(int(match[1]), int(match[2]), int(match[3])))
            except ValueError:
                raise RuleSyntaxError(f"日付「{token}」は存在しません") from None
        elif match := _REMARK.match(token):
            remarks.append(int(match[1]))
        elif match := _EVERY_N_WEEKS.match(token):
            weeks = int(match[1])
            if weeks < 1:
                raise RuleSyntaxError(f"「{token}」の週の間隔は 1 以上にしてください")
            periodic.add((_token_date(token, match[2], match[3], match[4]), weeks))
        elif match := _BIWEEKLY.match(token):
            base = _token_date(token, match[2], match[3], match[4])
            weekday = WEEKDAYS.index(match[1])
            # The first named weekday on or after the base date (the base date itself when it is one).
            periodic.add((base + dt.timedelta(days=(weekday - base.weekday()) % 7), 2))
        else:
            raise RuleSyntaxError(
                f"「{token}」が読めません（例: 月 木 / 火2 / 2土 / 20240301 / *1 / e2w20240401 / 隔月20240401）"
            )
    return Rule(
        weekly=frozenset(weekly),
        nth=frozenset(nth),
        dates=frozenset(dates),
        months=months,
        remarks=tuple(remarks),
        periodic=frozenset(periodic),
    )


def _token_date(token: str, year: str, month: str, day: str) -> dt.date:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise RuleSyntaxError(f"「{token}」の日付は存在しません") from None


@dataclass(frozen=True)
class Holiday:
    starts_on: dt.date
    ends_on: dt.date
    shift: bool = False  # 振替: collected on the first day after the period
    week: bool = False  # 1 週ずらし (5374 WeekShift): the month's later days of the weekday move a week

    def covers(self, day: dt.date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass
class Calendar:
    """The rules of one area: {category id: Rule} plus its center's holidays."""

    rules: dict[int, Rule]
    holidays: list[Holiday] = field(default_factory=list)
    # (category id, year, month) → the weekday collections of that month after a WeekShift
    _shifted: dict[tuple[int, int, int], frozenset[dt.date]] = field(default_factory=dict, repr=False)

    def collects_on(self, category_id: int, day: dt.date) -> bool:
        rule = self.rules.get(category_id)
        if rule is None or rule.is_empty:
            return False
        if any(h.week for h in self.holidays) and (rule.weekly or rule.nth):
            if day in self._week_shifted(category_id, rule, day.year, day.month):
                return True
            # The weekday tokens are answered; the dates and periodic tokens follow below.
            rule = Rule(dates=rule.dates, periodic=rule.periodic, remarks=rule.remarks)
            if rule.is_empty:
                return False
        for holiday in self.holidays:
            if holiday.covers(day):
                return False  # cancelled, or moved to the day after the period
        if rule.occurs_on(day):
            return True
        # A shifted holiday: the first day after the period collects what fell inside it.
        for holiday in self.holidays:
            if holiday.shift and day == holiday.ends_on + dt.timedelta(days=1):
                span = (holiday.ends_on - holiday.starts_on).days + 1
                if any(rule.occurs_on(holiday.starts_on + dt.timedelta(days=i)) for i in range(span)):
                    return True
        return False

    def _week_shifted(self, category_id: int, rule: Rule, year: int, month: int) -> frozenset[dt.date]:
        """The weekday collections of one month with the WeekShift holidays applied, as the 5374
        app computes them: per weekday, the n-th occurrence counts from the month's first one;
        from the first occurrence inside a WeekShift period on, each is collected a week later;
        one moved out of the month is dropped. Holidays of the other policies still apply."""
        cache_key = (category_id, year, month)
        cached = self._shifted.get(cache_key)
        if cached is not None:
            return cached
        days: set[dt.date] = set()
        if rule.months is None or month in rule.months:
            first = dt.date(year, month, 1)
            week_holidays = [h for h in self.holidays if h.week]
            for weekday in rule.weekly | {w for w, _n in rule.nth}:
                start = first + dt.timedelta(days=(weekday - first.weekday()) % 7)
                shifted = False
                for week in range(5):
                    day = start + dt.timedelta(weeks=week)
                    shifted = shifted or any(h.covers(day) for h in week_holidays)
                    collected = day + dt.timedelta(weeks=1) if shifted else day
                    if collected.month != month:
                        continue
                    if weekday in rule.weekly or (weekday, week + 1) in rule.nth:
                        days.add(collected)
            days = {d for d in days if not any(h.covers(d) for h in self.holidays if not h.week)}
        self._shifted[cache_key] = result = frozenset(days)
        return result

    def categories_on(self, day: dt.date) -> list[int]:
        return [category_id for category_id in self.rules if self.collects_on(category_id, day)]

    def days(
        self, category_id: int, start: dt.date, *, horizon: int = SEARCH_HORIZON_DAYS
    ) -> Iterator[dt.date]:
        for offset in range(horizon):
            day = start + dt.timedelta(days=offset)
            if self.collects_on(category_id, day):
                yield day

    def next_day(
        self, category_id: int, start: dt.date, *, horizon: int = SEARCH_HORIZON_DAYS
    ) -> dt.date | None:
        """The first collection day of the category on or after ``start`` (None: none within ~a year)."""
        return next(self.days(category_id, start, horizon=horizon), None)


def format_day(day: dt.date, *, today: dt.date | None = None) -> str:
    """「11月24日（火）」, prefixed with 今日/明日 when it is."""
    label = f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"
    if today is not None:
        if day == today:
            return "今日 " + label
        if day == today + dt.timedelta(days=1):
            return "明日 " + label
    return label
