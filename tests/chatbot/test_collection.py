"""Collection-day rules: every 5374 form, month restrictions, irregular dates, center holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from chatbot.collection import Calendar, Holiday, RuleSyntaxError, format_day, parse_rule

D = dt.date


def days_in(
    rule_text: str, start: dt.date, end: dt.date, holidays: list[Holiday] | None = None
) -> list[dt.date]:
    calendar = Calendar(rules={1: parse_rule(rule_text)}, holidays=holidays or [])
    return [d for d in calendar.days(1, start, horizon=(end - start).days + 1)]


def test_weekly_days():
    # 2024-03: Mondays 4, 11, 18, 25; Thursdays 7, 14, 21, 28
    assert days_in("月 木", D(2024, 3, 1), D(2024, 3, 31)) == [
        D(2024, 3, d) for d in (4, 7, 11, 14, 18, 21, 25, 28)
    ]


def test_nth_weekday_both_spellings():
    # the 2nd and 4th Tuesday of March 2024 are the 12th and 26th; the 2nd Saturday the 9th
    assert days_in("火2 火4", D(2024, 3, 1), D(2024, 3, 31)) == [D(2024, 3, 12), D(2024, 3, 26)]
    assert days_in("2土", D(2024, 3, 1), D(2024, 3, 31)) == [D(2024, 3, 9)]
    assert days_in("火5", D(2024, 4, 1), D(2024, 4, 30)) == [D(2024, 4, 30)]


def test_month_restriction():
    # 金4 only in even months (4 6 8 10 12 2): the 4th Friday of April 2024 is the 26th, none in May
    rule = "金4:4 6 8 10 12 2"
    assert days_in(rule, D(2024, 4, 1), D(2024, 5, 31)) == [D(2024, 4, 26)]
    assert days_in(rule, D(2025, 1, 1), D(2025, 2, 28)) == [D(2025, 2, 28)]


def test_irregular_dates_and_remarks():
    rule = parse_rule("20240301 20240325 *1")
    assert rule.remarks == (1,)
    assert days_in("20240301 20240325 *1", D(2024, 3, 1), D(2024, 3, 31)) == [D(2024, 3, 1), D(2024, 3, 25)]


def test_full_width_and_stray_spaces_are_normalised():
    assert parse_rule("　火２\t 金４：４ ６ ") == parse_rule("火2 金4:4 6")


@pytest.mark.parametrize("cell", ["第2火曜", "毎日", "火6", "20240230", "金4:13", "火2:"])
def test_unreadable_cells_raise(cell):
    with pytest.raises(RuleSyntaxError):
        parse_rule(cell)


def test_center_holiday_cancels_collection_as_the_5374_app_does():
    # given a center closed 2024-12-29 … 2025-01-03 and collection on Mon/Thu
    holiday = Holiday(D(2024, 12, 29), D(2025, 1, 3))
    # then 12/30 (Mon) and 1/2 (Thu) are cancelled; 12/26 and 1/6 remain
    assert days_in("月 木", D(2024, 12, 26), D(2025, 1, 6), [holiday]) == [D(2024, 12, 26), D(2025, 1, 6)]


def test_center_holiday_with_shift_policy_moves_to_the_day_after():
    holiday = Holiday(D(2024, 12, 29), D(2025, 1, 3), shift=True)
    assert days_in("月 木", D(2024, 12, 26), D(2025, 1, 6), [holiday]) == [
        D(2024, 12, 26),
        D(2025, 1, 4),
        D(2025, 1, 6),
    ]


def test_next_day_and_categories_on():
    calendar = Calendar(rules={1: parse_rule("月 木"), 2: parse_rule("水2"), 3: parse_rule("")})
    assert calendar.next_day(2, D(2024, 3, 14)) == D(2024, 4, 10)
    assert calendar.next_day(3, D(2024, 3, 14)) is None
    assert calendar.categories_on(D(2024, 3, 13)) == [2]


def test_describe_and_format():
    assert parse_rule("月 木").describe() == "毎週 月曜日・木曜日"
    assert parse_rule("火2 火4").describe() == "第2・第4 火曜日"
    assert parse_rule("金4:4 6").describe() == "第4 金曜日（4月・6月）"
    assert format_day(D(2024, 3, 12), today=D(2024, 3, 11)) == "明日 3月12日（火）"
