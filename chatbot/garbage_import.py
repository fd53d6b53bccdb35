"""Import of a town's garbage data in the 5374 (ゴミナシ) format.

``parse_5374(files)`` reads the CSV files tolerantly (BOM, CRLF, Shift_JIS, stray tabs and
spaces, header variants 地名/地区, センター with or without its note, blank lines, an item under
two categories) and returns the data plus every problem by file and row; it never guesses a rule
it cannot read. The service ``chatbot.services.garbage_import()`` then replaces the municipality's
garbage data in one transaction, or writes nothing when there is a problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from chatbot.collection import RuleSyntaxError, parse_rule
from chatbot.errors import ChatbotError
from municipalities import jp
from municipalities.files import TextDecodeError, decode_text

FILES = (
    "area_days.csv",
    "area.csv",
    "center.csv",
    "description.csv",
    "remarks.csv",
    "target.csv",
    "setting.js",
)
REQUIRED = ("area_days.csv", "target.csv")
AREA_HEADERS = {"地名", "地区", "地区名", "地域", "地域名", "町名"}
# A column with the area's reading (some towns publish it): used for 地区 instead of a machine
# reading (峰山町 is みねやまちょう, not みねやままち).
READING_HEADERS = {"よみ", "読み", "よみがな", "ふりがな", "フリガナ", "かな", "地名よみ", "地区よみ"}


@dataclass
class Problem:
    file: str
    row: int  # 1-based line of the CSV record (the header is row 1); 0: the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.file} {self.row}行目" if self.row else self.file
        return f"{where}: {self.message}"


@dataclass
class Parsed:
    categories: list[dict[str, str]] = field(default_factory=list)  # in display order
    areas: list[tuple[str, str, dict[str, str]]] = field(
        default_factory=list
    )  # (name, center, {label: cell})
    holidays: list[tuple[str, dt.date, dt.date]] = field(default_factory=list)
    remarks: list[tuple[int, str]] = field(default_factory=list)
    items: list[tuple[str, str, str, str]] = field(default_factory=list)  # (label, name, notice, furigana)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # tolerated oddities, for the staff report
    area_kana: dict[str, str] = field(default_factory=dict)  # area name → reading from the data
    # How center holidays move collections, from setting.js's WeekShift (None: the file says nothing)
    holiday_policy: str | None = None


# setting.js of the 5374 app: ``var WeekShift = true; // 休止期間なら週をずらすときは、true``
# (金沢の仕様); false means a collection day inside the period is skipped.
_WEEK_SHIFT = re.compile(r"^\s*(?:var|let|const)?\s*WeekShift\s*=\s*(true|false)\b", re.MULTILINE)


def _records(name: str, data: bytes, parsed: Parsed) -> list[tuple[int, list[str]]]:
    """(line, cells) of non-blank records, cells stripped of spaces and tabs. Header included."""
    try:
        text = decode_text(data)
    except TextDecodeError:
        parsed.problems.append(
            Problem(name, 0, _("文字コードが読めません（UTF-8 か Shift_JIS で保存してください）"))
        )
        return []
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    rows = []
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    for cells in reader:
        cells = [c.replace("\ufeff", "").strip(" \t\u3000") for c in cells]
        if any(cells):
            rows.append((reader.line_num, cells))
    return rows


def _date(value: str) -> dt.date | None:
    try:
        return jp.parse_date(value)
    except jp.InputError:
        return None


def parse_5374(files: dict[str, bytes]) -> Parsed:
    """Read the 5374 files given by name. Every problem is reported with its file and row.

    The files are read in a fixed order because a category's display order is the order in which
    it is first seen: description.csv, then area_days.csv, then target.csv.
    """
    parsed = Parsed()
    for name in REQUIRED:
        if name not in files:
            parsed.problems.append(Problem(name, 0, _("ファイルがありません")))
    labels: dict[str, dict[str, str]] = {}
    _parse_description(_records("description.csv", files.get("description.csv", b""), parsed), parsed, labels)
    _parse_area_days(_records("area_days.csv", files.get("area_days.csv", b""), parsed), parsed, labels)
    if "area.csv" in files:
        _parse_area_map(_records("area.csv", files["area.csv"], parsed), parsed)
    _parse_center(_records("center.csv", files.get("center.csv", b""), parsed), parsed)
    _parse_remarks(_records("remarks.csv", files.get("remarks.csv", b""), parsed), parsed)
    _parse_target(_records("target.csv", files.get("target.csv", b""), parsed), parsed, labels)
    if "setting.js" in files:
        _parse_setting(files["setting.js"], parsed)
    parsed.categories = list(labels.values())
    return parsed


def _parse_setting(data: bytes, parsed: Parsed) -> None:
    """setting.js: only ``WeekShift`` matters here (how center holidays move collections).
    Comments are skipped: forks keep the old value in a commented-out block."""
    try:
        text = decode_text(data)
    except TextDecodeError:
        parsed.problems.append(Problem("setting.js", 0, _("文字コードが読めません")))
        return
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", "", text)
    found = _WEEK_SHIFT.findall(text)
    if found:
        week = found[-1] == "true"  # the last assignment is the one the app runs with
        parsed.holiday_policy = "week" if week else "cancel"
        parsed.notes.append(
            "setting.js: WeekShift = "
            + (
                "true（休止期間の収集はその月の後の週へ 1 週ずらし）"
                if week
                else "false（休止期間の収集はなし）"
            )
        )


def _add_category(labels: dict[str, dict[str, str]], label: str) -> None:
    """Register a category the first time it is seen, keeping the order of first sight."""
    if label and label not in labels:
        labels[label] = {"label": label, "sublabel": "", "description": "", "color": ""}


def _parse_description(
    rows: list[tuple[int, list[str]]], parsed: Parsed, labels: dict[str, dict[str, str]]
) -> None:
    """description.csv: label, sublabel, description, styles, bgcolor (header case varies)."""
    if not rows:
        return
    header = [jp.normalise_text(h).lower() for h in rows[0][1]]
    col = {h: i for i, h in enumerate(header)}
    if "label" not in col:
        parsed.problems.append(Problem("description.csv", rows[0][0], _("見出しに label がありません")))
        return
    for line, cells in rows[1:]:

        def get(h: str, cells: list[str] = cells) -> str:
            return jp.normalise_text(cells[col[h]]) if h in col and col[h] < len(cells) else ""

        label = get("label")
        if not label or len(label) > 100:
            parsed.problems.append(
                Problem("description.csv", line, _("分類名（label）が空か、100 文字を超えています"))
            )
            continue
        _add_category(labels, label)
        color = get("bgcolor")
        labels[label].update(
            sublabel=get("sublabel"),
            description=get("description"),
            color=color if re.fullmatch(r"#[0-9a-fA-F]{3,8}", color) else "",
        )


def _parse_area_days(
    rows: list[tuple[int, list[str]]], parsed: Parsed, labels: dict[str, dict[str, str]]
) -> None:
    """area_days.csv: 地名|地区, [センター…], one column per category."""
    if not rows:
        return
    header = [jp.normalise_text(h) for h in rows[0][1]]
    if header[0] not in AREA_HEADERS:
        parsed.problems.append(
            Problem(
                "area_days.csv",
                rows[0][0],
                _("1 列目の見出し「%(h)s」は地名・地区ではありません") % {"h": header[0]},
            )
        )
        return
    center_col = 1 if len(header) > 1 and header[1].startswith("センター") else None
    kana_col = next((i for i, h in enumerate(header) if i and h in READING_HEADERS), None)
    columns: list[tuple[int, str]] = []
    for i, label in enumerate(header):
        if i == 0 or i == center_col or i == kana_col:
            continue
        if not label or len(label) > 100:
            parsed.problems.append(
                Problem(
                    "area_days.csv",
                    rows[0][0],
                    _("%(n)d 列目の見出しが空か、100 文字を超えています") % {"n": i + 1},
                )
            )
            continue
        columns.append((i, label))
        _add_category(labels, label)
    seen: set[str] = set()
    for line, cells in rows[1:]:
        name = jp.normalise_text(cells[0])
        if not name or len(name) > 100:
            parsed.problems.append(Problem("area_days.csv", line, _("地区名が空か、100 文字を超えています")))
            continue
        if name in seen:
            parsed.problems.append(
                Problem("area_days.csv", line, _("地区「%(a)s」が 2 回あります") % {"a": name})
            )
            continue
        seen.add(name)
        center = (
            jp.normalise_text(cells[center_col])[:100]
            if center_col is not None and center_col < len(cells)
            else ""
        )
        if kana_col is not None and kana_col < len(cells):
            kana = jp.to_hiragana(jp.normalise_text(cells[kana_col])) if cells[kana_col] else ""
            if kana:
                parsed.area_kana[name] = kana[:200]
        cells_by_label: dict[str, str] = {}
        for i, label in columns:
            cell = jp.normalise_text(cells[i]) if i < len(cells) else ""
            try:
                parse_rule(cell)
            except RuleSyntaxError as exc:
                parsed.problems.append(Problem("area_days.csv", line, f"{name}・{label}: {exc}"))
                continue
            cells_by_label[label] = cell
        parsed.areas.append((name, center, cells_by_label))


def _parse_area_map(rows: list[tuple[int, list[str]]], parsed: Parsed) -> None:
    """area.csv (forks with ``IsUseArea``): 地名, センター, 収集地区 — many town names share the
    calendar of one area_days.csv row. The towns named here become the areas, each with the
    rules of its 収集地区 and its own センター."""
    by_name = {name: cells for name, _center, cells in parsed.areas}
    areas: list[tuple[str, str, dict[str, str]]] = []
    seen: set[str] = set()
    for line, cells in rows[1:]:
        name = jp.normalise_text(cells[0])
        ref = jp.normalise_text(cells[2]) if len(cells) > 2 else ""
        if not name or len(name) > 100:
            parsed.problems.append(Problem("area.csv", line, _("地名が空か、100 文字を超えています")))
        elif name in seen:
            parsed.problems.append(Problem("area.csv", line, _("地名「%(a)s」が 2 回あります") % {"a": name}))
        elif ref not in by_name:
            parsed.problems.append(
                Problem("area.csv", line, _("収集地区「%(r)s」が area_days.csv にありません") % {"r": ref})
            )
        else:
            seen.add(name)
            center = jp.normalise_text(cells[1])[:100] if len(cells) > 1 else ""
            areas.append((name, center, dict(by_name[ref])))
    parsed.areas = areas
    parsed.notes.append(
        f"area.csv: {len(areas)} 地名を area_days.csv の {len(by_name)} 地区の収集日で取り込みました"
    )


def _parse_center(rows: list[tuple[int, list[str]]], parsed: Parsed) -> None:
    """center.csv: 名称, 休止開始日, 休止終了日."""
    for line, cells in rows[1:]:
        if len(cells) < 3:
            parsed.problems.append(
                Problem("center.csv", line, _("名称・休止開始日・休止終了日の 3 列が必要です"))
            )
            continue
        start, end = _date(cells[1]), _date(cells[2])
        if not jp.normalise_text(cells[0]) or start is None or end is None:
            parsed.problems.append(Problem("center.csv", line, _("名称か日付（例: 2024/12/29）が読めません")))
        elif end < start:
            parsed.problems.append(Problem("center.csv", line, _("休止終了日が開始日より前です")))
        elif len(jp.normalise_text(cells[0])) > 100:
            parsed.problems.append(Problem("center.csv", line, _("名称は 100 文字までです")))
        else:
            parsed.holidays.append((jp.normalise_text(cells[0]), start, end))


def _parse_remarks(rows: list[tuple[int, list[str]]], parsed: Parsed) -> None:
    """remarks.csv: ID, 注意事項."""
    for line, cells in rows[1:]:
        number = jp.normalise_text(cells[0]).lstrip("*")
        if not number.isdigit() or len(cells) < 2:
            parsed.problems.append(Problem("remarks.csv", line, _("番号と注意事項の 2 列が必要です")))
            continue
        parsed.remarks.append((int(number), cells[1].strip()))


def _parse_target(
    rows: list[tuple[int, list[str]]], parsed: Parsed, labels: dict[str, dict[str, str]]
) -> None:
    """target.csv: label|type, name, notice, furigana."""
    if not rows:
        return
    header = [jp.normalise_text(h).lower() for h in rows[0][1]]
    col = {h: i for i, h in enumerate(header)}
    label_col = col.get("label", col.get("type"))
    if label_col is None or "name" not in col:
        parsed.problems.append(
            Problem("target.csv", rows[0][0], _("見出しに label（または type）と name が必要です"))
        )
        return
    seen_items: set[tuple[str, str]] = set()
    for line, cells in rows[1:]:

        def get(i: int | None, cells: list[str] = cells) -> str:
            return cells[i].strip() if i is not None and i < len(cells) else ""

        label, name = jp.normalise_text(get(label_col)), get(col["name"]).strip()
        if not label or not name:
            parsed.problems.append(Problem("target.csv", line, _("分類か品目が空です")))
            continue
        if len(label) > 100 or len(name) > 200:
            parsed.problems.append(
                Problem("target.csv", line, _("分類名は 100 文字、品目名は 200 文字までです"))
            )
            continue
        if (label, name) in seen_items:
            parsed.notes.append(
                f"target.csv {line}行目: 「{name}」は同じ分類に 2 回あるため 1 件にまとめました"
            )
            continue
        seen_items.add((label, name))
        _add_category(labels, label)
        parsed.items.append(
            (label, name, get(col.get("notice")), jp.normalise_text(get(col.get("furigana"))))
        )


def files_from_directory(path: str | Path) -> dict[str, bytes]:
    directory = Path(path)
    if not directory.is_dir():
        raise ChatbotError(_("フォルダ %(p)s がありません。") % {"p": path})
    files = {name: (directory / name).read_bytes() for name in FILES if (directory / name).is_file()}
    # A 5374 repository keeps its settings in js/setting.js beside the data folder.
    for candidate in (directory / "js" / "setting.js", directory.parent / "js" / "setting.js"):
        if "setting.js" not in files and candidate.is_file():
            files["setting.js"] = candidate.read_bytes()
    return files
