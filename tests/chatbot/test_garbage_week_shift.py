"""The 5374 app's WeekShift (``setting.js``, 金沢の仕様): inside a center's holiday a weekday's
collection, and every later one of that weekday in the month, moves one week on. Taken from the
notation (the app's rule), not from one town's file; read from setting.js or chosen at import."""

from __future__ import annotations

import datetime as dt
import io

from django.core.management import call_command

from chatbot.collection import Calendar, Holiday, parse_rule
from chatbot.garbage_import import files_from_directory, parse_5374
from chatbot.matching import get_index
from chatbot.models import CenterHoliday
from chatbot.services import garbage_import

# 2027-01-01 is a Friday; the center rests 2026-12-29 … 2027-01-03.
NEW_YEAR = Holiday(dt.date(2026, 12, 29), dt.date(2027, 1, 3), week=True)
JANUARY_FRIDAYS = [dt.date(2027, 1, d) for d in (1, 8, 15, 22, 29)]


def _days(cell: str, holiday: Holiday, month_days: list[dt.date]) -> list[int]:
    calendar = Calendar(rules={1: parse_rule(cell)}, holidays=[holiday])
    return [d.day for d in month_days if calendar.collects_on(1, d)]


def test_nth_weekday_in_the_holiday_moves_a_week_and_so_do_the_later_ones():
    # 金1 falls on the holiday (1/1): collected on 1/8; 金2 becomes 1/15, 金4 becomes 1/29
    assert _days("金1", NEW_YEAR, JANUARY_FRIDAYS) == [8]
    assert _days("金2", NEW_YEAR, JANUARY_FRIDAYS) == [15]
    assert _days("金2 金4", NEW_YEAR, JANUARY_FRIDAYS) == [15, 29]
    # without WeekShift (休止) the first Friday is simply not collected
    cancel = Holiday(NEW_YEAR.starts_on, NEW_YEAR.ends_on)
    assert _days("金1", cancel, JANUARY_FRIDAYS) == []
    assert _days("金2", cancel, JANUARY_FRIDAYS) == [8]


def test_weekly_collection_moves_and_the_one_pushed_out_of_the_month_is_dropped():
    # 毎週金曜: 1/1 → 1/8, 1/8 → 1/15, … 1/29 → 2/5 (next month: dropped)
    assert _days("金", NEW_YEAR, JANUARY_FRIDAYS) == [8, 15, 22, 29]
    # December's Fridays before the holiday stay; none is inside it
    december = [dt.date(2026, 12, d) for d in (4, 11, 18, 25)]
    assert _days("金", NEW_YEAR, december) == [4, 11, 18, 25]
    # a 5th Tuesday in the holiday (12/29) moves to 1/5 of the next month: dropped
    assert _days("火", NEW_YEAR, [dt.date(2026, 12, 29), dt.date(2027, 1, 5)]) == [5]


def test_weekdays_of_another_month_and_months_outside_the_cell_are_untouched():
    # a 2nd Wednesday in January is after the holiday: as written
    wednesdays = [dt.date(2027, 1, d) for d in (6, 13, 20, 27)]
    assert _days("水2", NEW_YEAR, wednesdays) == [13]
    # 金1 only in even months: nothing in January
    assert _days("金1:2 4 6 8 10 12", NEW_YEAR, JANUARY_FRIDAYS) == []
    # a dated collection inside the holiday is cancelled, as with 休止
    assert _days("20270101 金3", NEW_YEAR, JANUARY_FRIDAYS) == [22]


def test_setting_js_week_shift_is_read_and_comments_are_ignored():
    files = {
        "area_days.csv": "地名,センター,燃やすごみ\n片町,東部,金1\n".encode(),
        "target.csv": "label,name,notice,furigana\n燃やすごみ,紙くず,,か\n".encode(),
        "setting.js": (
            b"/*\nconst WeekShift = false;\n*/\nvar SVGLabel = false;\n"
            b"var WeekShift = true; // \xe9\x87\x91\xe6\xb2\xa2\xe3\x81\xae\xe4\xbb\x95\xe6\xa7\x98\n"
        ),
    }
    assert parse_5374(files).holiday_policy == "week"
    files["setting.js"] = b"var WeekShift = false;\n"
    assert parse_5374(files).holiday_policy == "cancel"
    files["setting.js"] = b"var MaxMonth = 3;\n"
    assert parse_5374(files).holiday_policy is None


def test_import_applies_week_shift_from_setting_js_and_the_command_can_choose(
    town, tmp_path, django_capture_on_commit_callbacks
):
    # given a town's 5374 repository: data/ and js/setting.js with WeekShift = true
    data = tmp_path / "data"
    data.mkdir()
    (data / "area_days.csv").write_text(
        "地名,センター,燃やすごみ\n片町,東部管理センター,金1\n", encoding="utf-8"
    )
    (data / "target.csv").write_text("label,name,notice,furigana\n燃やすごみ,紙くず,,か\n", encoding="utf-8")
    (data / "center.csv").write_text("名称,休止開始日,休止終了日\n東部管理センター,2026/12/29,2027/01/03\n")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "setting.js").write_text("var WeekShift = true;\n")
    # when it is imported
    result = garbage_import(municipality=town, files=files_from_directory(data))
    # then the holiday moves collections a week, and the bot answers so
    assert result.holiday_policy == "week"
    assert CenterHoliday.objects.get().policy == CenterHoliday.Policy.WEEK
    [calendar] = get_index(town.pk).calendars.values()
    [category_id] = calendar.rules
    assert calendar.next_day(category_id, dt.date(2026, 12, 30)) == dt.date(2027, 1, 8)
    # when staff choose 休止 on the command line instead
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the answer index is rebuilt on commit
        call_command("import_garbage", town.slug, str(data), "--holiday-policy", "cancel", stdout=out)
    assert CenterHoliday.objects.get().policy == CenterHoliday.Policy.CANCEL
    [calendar] = get_index(town.pk).calendars.values()
    assert calendar.next_day(next(iter(calendar.rules)), dt.date(2026, 12, 30)) == dt.date(2027, 2, 5)
