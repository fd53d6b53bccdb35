"""Periods of the reports: a range of Tokyo days, the period before it, and how it splits into
whole months (read from the monthly rows) and the days at its edges (read from the daily rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

# A date no row has: the filter of an empty piece, so that every query still runs (the dashboard
# makes the same number of queries whatever the period).
NOTHING = dt.date(1, 1, 1)


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def next_month(day: dt.date) -> dt.date:
    return month_end(day) + dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before (a month compares with the month before)."""
        if self.start.day == 1 and (self.end + dt.timedelta(days=1)).day == 1:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            year, month = divmod(self.start.year * 12 + self.start.month - 1 - months, 12)
            start = dt.date(year, month + 1, 1)
            return Period(start, self.start - dt.timedelta(days=1))
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    def whole_months(self) -> tuple[dt.date, dt.date] | None:
        """(first, last) 1st of the months lying wholly inside the period, or None."""
        first = self.start if self.start.day == 1 else next_month(self.start)
        last_end = (
            self.end if month_end(self.end) == self.end else self.end.replace(day=1) - dt.timedelta(days=1)
        )
        if first > last_end:
            return None
        return first, last_end.replace(day=1)

    def edge_days(self) -> list[tuple[dt.date, dt.date]]:
        """The day ranges of the period outside its whole months (all of it when there are none)."""
        months = self.whole_months()
        if months is None:
            return [(self.start, self.end)]
        edges = []
        if self.start < months[0]:
            edges.append((self.start, months[0] - dt.timedelta(days=1)))
        after = month_end(months[1])
        if after < self.end:
            edges.append((after + dt.timedelta(days=1), self.end))
        return edges

    def sum_pieces(
        self,
    ) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]], list[tuple[dt.date, dt.date]]]:
        """How the period's sums are read: (months whose monthly rows are added, day ranges whose
        daily rows are added, day ranges whose daily rows are subtracted). A month partly inside
        the period is read as its days when fewer than half are inside, else as its monthly row
        minus the days outside: never more than half a month of daily rows per edge."""
        months: list[dt.date] = []
        add: list[tuple[dt.date, dt.date]] = []
        sub: list[tuple[dt.date, dt.date]] = []
        month = self.start.replace(day=1)
        while month <= self.end:
            last = month_end(month)
            low, high = max(month, self.start), min(last, self.end)
            inside, length = (high - low).days + 1, (last - month).days + 1
            if inside * 2 <= length:
                add.append((low, high))
            else:
                months.append(month)
                if low > month:
                    sub.append((month, low - dt.timedelta(days=1)))
                if high < last:
                    sub.append((high + dt.timedelta(days=1), last))
            month = next_month(month)
        return months, add, sub

    def month_keys(self) -> list[str]:
        """``YYYY-MM`` of every month the period touches, in order (no per-day loop)."""
        keys = []
        month = self.start.replace(day=1)
        while month <= self.end:
            keys.append(f"{month.year:04d}-{month.month:02d}")
            month = next_month(month)
        return keys

    def day_keys(self) -> list[str]:
        return [(self.start + dt.timedelta(days=n)).isoformat() for n in range(self.days)]


def month_period(day: dt.date) -> Period:
    first = day.replace(day=1)
    return Period(first, month_end(first))


def months_q(months: tuple[dt.date, dt.date] | None) -> Q:
    """The monthly rows of these whole months (none: a filter that matches nothing)."""
    return Q(month__gte=months[0], month__lte=months[1]) if months else Q(month=NOTHING)


def month_list_q(months: list[dt.date]) -> Q:
    """The monthly rows of these months (none: a filter that matches nothing)."""
    return Q(month__in=months) if months else Q(month=NOTHING)


def days_q(ranges: list[tuple[dt.date, dt.date]]) -> Q:
    """The daily rows of these day ranges (none: a filter that matches nothing)."""
    q = Q(day=NOTHING)
    for start, end in ranges:
        q |= Q(day__gte=start, day__lte=end)
    return q
