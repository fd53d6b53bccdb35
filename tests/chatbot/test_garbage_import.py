"""Import of the 5374 format: the two shared datasets, tolerance, problems per row, atomic replace."""

from __future__ import annotations

import pytest

from chatbot.errors import ChatbotError, GarbageImportError
from chatbot.garbage_import import files_from_directory, parse_5374
from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    CollectionRule,
    GarbageCategory,
    GarbageItem,
    GarbageRemark,
)
from chatbot.services import garbage_import
from municipalities.models import Area, AuditEntry

from .conftest import KANAZAWA, KYOTANGO


def test_kyotango_imports_776_items_and_169_areas(town):
    # The issue says "777 items": target.csv has 777 lines, the header and 776 items.
    # when
    result = garbage_import(municipality=town, files=files_from_directory(KYOTANGO))
    # then
    assert result.items == 776
    assert GarbageItem.objects.filter(municipality=town).count() == 776
    assert result.areas == 169
    assert AreaCalendar.objects.filter(municipality=town).count() == 169
    assert Area.objects.filter(municipality=town, garbage_calendar__isnull=False).count() == 169
    assert result.holidays == 25
    assert CenterHoliday.objects.filter(municipality=town).count() == 25
    labels = set(GarbageCategory.objects.filter(municipality=town).values_list("label", flat=True))
    assert {"可燃ごみ", "不燃ごみ", "容器包装プラスチック", "有害ごみ", "不燃性粗大ごみ"} <= labels
    assert CollectionRule.objects.filter(municipality=town).count() == 169 * 7
    item = GarbageItem.objects.get(municipality=town, name="運動靴")
    assert item.category.label == "可燃ごみ" and item.kana == "うんどうぐつ"
    assert AuditEntry.objects.filter(action="chatbot.garbage.imported", municipality=town).count() == 1


def test_kanazawa_sample_imports_with_center_and_remarks(town):
    result = garbage_import(municipality=town, files=files_from_directory(KANAZAWA))
    assert (result.items, result.areas, result.holidays, result.remarks, result.categories) == (4, 1, 2, 2, 4)
    calendar = AreaCalendar.objects.get(municipality=town, area__name="片町")
    assert calendar.center == "東部管理センター"
    assert GarbageRemark.objects.filter(municipality=town).count() == 2


def test_areas_become_the_towns_areas_and_existing_ones_are_reused(town, areas):
    # given 本町 exists with a resident-facing kana
    files = {
        "area_days.csv": "地名,センター,燃やすごみ\n本町,,月 木\n新町,,火 金\n".encode(),
        "target.csv": "label,name,notice,furigana\n燃やすごみ,紙くず,,か\n".encode(),
    }
    # when
    result = garbage_import(municipality=town, files=files)
    # then
    assert result.areas_created == 1
    assert Area.objects.filter(municipality=town, name="本町").count() == 1
    assert Area.objects.get(municipality=town, name="新町").garbage_calendar.rules.get().rule == "火 金"


def test_tolerates_bom_crlf_tabs_header_variants_blank_lines_and_two_categories(town):
    area_days = "\ufeff地区,センター（center.csvを使わない場合は空白化）,可燃ごみ,資源\r\n\r\n 東町 ,\t清掃センター ,月\t木 , ２土:4 5\r\n".encode()
    target = (
        "\ufefftype,name,notice,furigana\r\n"
        "可燃ごみ,カップ（紙製）,,か\r\n"
        "資源,カップ（紙製）,,か\r\n"
        "可燃ごみ,カップ（紙製）,,か\r\n"
        "\r\n"
    ).encode()
    center = "名称,休止開始日,休止終了日\r\n清掃センター,2024/12/29,2025/1/3\r\n".encode()
    result = garbage_import(
        municipality=town, files={"area_days.csv": area_days, "target.csv": target, "center.csv": center}
    )
    assert result.items == 2  # once per category; the exact duplicate is merged and noted
    assert len(result.notes) == 1
    calendar = AreaCalendar.objects.get(area__name="東町")
    assert calendar.center == "清掃センター"
    assert sorted(calendar.rules.values_list("rule", flat=True)) == ["2土:4 5", "月 木"]


def test_shift_jis_files_are_read(town):
    files = {
        "area_days.csv": "地名,燃やすごみ\n北町,水\n".encode("cp932"),
        "target.csv": "label,name,notice,furigana\n燃やすごみ,新聞紙,,し\n".encode("cp932"),
    }
    assert garbage_import(municipality=town, files=files).items == 1


def test_unreadable_rules_are_reported_per_row_and_nothing_is_written(town):
    # given data already imported
    garbage_import(municipality=town, files=files_from_directory(KANAZAWA))
    bad = {
        "area_days.csv": "地名,センター,燃やすごみ,資源\n東町,,月 木,第2火曜\n西町,,毎日,火2\n".encode(),
        "target.csv": "label,name,notice,furigana\n燃やすごみ,紙くず,,か\n".encode(),
        "center.csv": "名称,休止開始日,休止終了日\nA,2024/13/01,2025/1/3\n".encode(),
    }
    # when
    with pytest.raises(GarbageImportError) as excinfo:
        garbage_import(municipality=town, files=bad)
    # then every problem is named with its file and row
    rows = {(p.file, p.row) for p in excinfo.value.problems}
    assert rows == {("area_days.csv", 2), ("area_days.csv", 3), ("center.csv", 2)}
    assert "第2火曜" in excinfo.value.message and "何も変更していません" in excinfo.value.message
    # and the previous data is untouched
    assert GarbageItem.objects.filter(municipality=town).count() == 4


def test_missing_files_and_bad_headers_are_reported():
    parsed = parse_5374({"area_days.csv": "町,燃やすごみ\nA,月\n".encode()})
    messages = [str(p) for p in parsed.problems]
    assert any("target.csv" in m and "ファイルがありません" in m for m in messages)
    assert any("地名・地区ではありません" in m for m in messages)


def test_reimport_replaces_the_towns_data_atomically(town, other_town):
    garbage_import(municipality=other_town, files=files_from_directory(KANAZAWA))
    garbage_import(municipality=town, files=files_from_directory(KYOTANGO))
    # when
    garbage_import(municipality=town, files=files_from_directory(KANAZAWA))
    # then
    assert GarbageItem.objects.filter(municipality=town).count() == 4
    assert GarbageItem.objects.filter(municipality=other_town).count() == 4
    assert AreaCalendar.objects.filter(municipality=town).count() == 1
    # the kyotango areas stay (residents may have chosen them), without a calendar
    assert Area.objects.filter(municipality=town).count() == 170


def test_import_requires_the_import_permission(town, kenko_viewer, kenko_editor):
    with pytest.raises(ChatbotError, match="権限がありません"):
        garbage_import(municipality=town, files=files_from_directory(KANAZAWA), actor=kenko_viewer)
    assert (
        garbage_import(municipality=town, files=files_from_directory(KANAZAWA), actor=kenko_editor).items == 4
    )


def test_overlong_names_are_problems_not_database_errors(town):
    files = {
        "area_days.csv": ("地名,燃やすごみ\n" + "長" * 101 + ",月\n").encode(),
        "target.csv": ("label,name\n燃やすごみ," + "品" * 201 + "\n").encode(),
    }
    with pytest.raises(GarbageImportError) as excinfo:
        garbage_import(municipality=town, files=files)
    assert {(p.file, p.row) for p in excinfo.value.problems} == {("area_days.csv", 2), ("target.csv", 2)}
