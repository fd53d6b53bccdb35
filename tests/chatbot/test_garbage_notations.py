"""Notations of the public 5374 forks, taken from the notations themselves (not from one town's
file): 隔週 and n 週ごと (``e2w20240401``, ``隔月20240401``), a date mixed with regular days,
area.csv (many 地名 sharing one calendar row), and a town's malformed row with --skip-invalid."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from chatbot.collection import RuleSyntaxError, parse_rule
from chatbot.errors import GarbageImportError
from chatbot.models import AreaCalendar, GarbageItem
from chatbot.services import garbage_import
from municipalities.models import Area


def test_every_n_weeks_from_a_date():
    # e2w<date>: every other week on that date's weekday (2024-04-01 is a Monday)
    rule = parse_rule("e2w20240401")
    assert rule.occurs_on(dt.date(2024, 4, 1))
    assert not rule.occurs_on(dt.date(2024, 4, 8))
    assert rule.occurs_on(dt.date(2024, 4, 15))
    assert rule.occurs_on(dt.date(2024, 3, 18))  # the cycle also runs before the date
    assert not rule.occurs_on(dt.date(2024, 4, 2))
    # e4w<date>: every four weeks
    four = parse_rule("e4w20240403")
    assert [d.day for d in (dt.date(2024, 4, 3), dt.date(2024, 5, 1)) if four.occurs_on(d)] == [3, 1]
    assert not four.occurs_on(dt.date(2024, 4, 17))
    assert rule.describe() == "隔週 月曜日（2024/4/1 から）"
    assert four.describe().startswith("4週ごと 水曜日")


def test_biweekly_named_weekday_from_a_date():
    # 隔<曜日><date>: every other <曜日> from the first one on or after the date
    rule = parse_rule("隔金20240401")  # the first Friday on or after 4/1 is 4/5
    assert rule.occurs_on(dt.date(2024, 4, 5))
    assert not rule.occurs_on(dt.date(2024, 4, 12))
    assert rule.occurs_on(dt.date(2024, 4, 19))


def test_months_do_not_restrict_the_periodic_tokens_but_do_restrict_weekdays():
    rule = parse_rule("月 e2w20240402:4 5")
    assert not rule.occurs_on(dt.date(2024, 6, 3))  # a Monday in June: not in 4, 5
    assert rule.occurs_on(dt.date(2024, 6, 11))  # the 2-weekly Tuesday still collects


def test_a_date_mixed_with_regular_days_is_an_extra_collection():
    rule = parse_rule("月 20241228")
    assert rule.occurs_on(dt.date(2024, 12, 28)) and rule.occurs_on(dt.date(2024, 12, 23))


@pytest.mark.parametrize("cell", ["e0w20240401", "e2w20240231", "隔x20240401", "隔月2024041"])
def test_unreadable_periodic_tokens_name_the_token(cell):
    with pytest.raises(RuleSyntaxError, match="「"):
        parse_rule(cell)


TARGET = "label,name,notice,furigana\n可燃ごみ,紙くず,,か\n可燃ごみ,生ごみ,水を切る,な\n"


def test_area_csv_maps_town_names_to_a_calendar_row(town):
    files = {
        "area_days.csv": "地名,センター,可燃ごみ\n北部A,,月 木\n南部B,,火 金\n".encode(),
        "area.csv": "地名,センター,収集地区\n本町1丁目,北センター,北部A\n本町2丁目,北センター,北部A\n港町,南センター,南部B\n".encode(),
        "target.csv": TARGET.encode(),
    }
    result = garbage_import(municipality=town, files=files)
    assert result.areas == 3
    calendar = AreaCalendar.objects.get(municipality=town, area__name="本町2丁目")
    assert calendar.center == "北センター"
    assert calendar.rules.get().rule == "月 木"
    assert not Area.objects.filter(municipality=town, name="北部A").exists()


def test_area_csv_row_naming_a_missing_calendar_is_a_problem(town):
    files = {
        "area_days.csv": "地名,センター,可燃ごみ\n北部A,,月 木\n".encode(),
        "area.csv": "地名,センター,収集地区\n本町,,西部Z\n".encode(),
        "target.csv": TARGET.encode(),
    }
    with pytest.raises(GarbageImportError) as exc:
        garbage_import(municipality=town, files=files)
    assert "area.csv 2行目: 収集地区「西部Z」が area_days.csv にありません" in [
        str(p) for p in exc.value.problems
    ]


# A town's file as published: one category left empty and pasted into the item name, one bad cell.
MALFORMED = {
    "area_days.csv": "地名,センター,可燃ごみ,不燃ごみ\n本町,,月 木,火第2\n新町,,火 金,水2\n".encode(),
    "target.csv": (TARGET + ",可燃ごみ 落ち葉,,お\n").encode(),
}


def test_malformed_rows_refuse_the_whole_import_by_default(town):
    with pytest.raises(GarbageImportError) as exc:
        garbage_import(municipality=town, files=MALFORMED)
    problems = [str(p) for p in exc.value.problems]
    assert "target.csv 4行目: 分類か品目が空です" in problems
    assert any(p.startswith("area_days.csv 2行目: 本町・不燃ごみ:") for p in problems)
    assert not GarbageItem.objects.filter(municipality=town).exists()


def test_skip_invalid_imports_everything_readable_and_lists_what_it_skipped(town):
    result = garbage_import(municipality=town, files=MALFORMED, skip_invalid=True)
    assert result.items == 2 and result.areas == 2
    assert "target.csv 4行目: 分類か品目が空です" in result.skipped
    assert any(s.startswith("area_days.csv 2行目: 本町・不燃ごみ:") for s in result.skipped)
    # the readable cell of the same row is kept, the bad one left out
    rules = dict(AreaCalendar.objects.get(area__name="本町").rules.values_list("category__label", "rule"))
    assert rules == {"可燃ごみ": "月 木"}


def test_skip_invalid_still_refuses_a_missing_file(town):
    with pytest.raises(GarbageImportError, match="ファイルがありません"):
        garbage_import(
            municipality=town, files={"area_days.csv": MALFORMED["area_days.csv"]}, skip_invalid=True
        )


def test_import_garbage_command_skip_invalid(town, tmp_path):
    for name, data in MALFORMED.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(CommandError, match="何も変更していません"):
        call_command("import_garbage", town.slug, str(tmp_path))
    out = io.StringIO()
    call_command("import_garbage", town.slug, str(tmp_path), "--skip-invalid", stdout=out)
    text = out.getvalue()
    assert "飛ばしたもの（2 件）" in text
    assert "target.csv 4行目: 分類か品目が空です" in text


def test_area_readings_come_from_the_data_and_staff_corrections_stay(town):
    # given an area staff already gave a reading, and one without
    Area.objects.create(municipality=town, name="本町", kana="もとまち")
    Area.objects.create(municipality=town, name="新町", kana="")
    files = {
        "area_days.csv": "地名,よみ,可燃ごみ\n峰山町,ミネヤマチョウ,月 木\n本町,ほんまち,火 金\n新町,しんまち,水\n".encode(),
        "target.csv": TARGET.encode(),
    }
    garbage_import(municipality=town, files=files)
    kana = dict(Area.objects.filter(municipality=town).values_list("name", "kana"))
    # then the data's reading is used (in hiragana), not a machine one; staff's stays
    assert kana == {"峰山町": "みねやまちょう", "本町": "もとまち", "新町": "しんまち"}
    assert AreaCalendar.objects.filter(municipality=town).count() == 3  # よみ is not a category


def test_demo_town_areas_all_have_a_collection_calendar(town, areas):
    from chatbot import demo

    demo.seed(town)
    without = Area.objects.filter(municipality=town, garbage_calendar__isnull=True)
    assert list(without.values_list("name", flat=True)) == []
