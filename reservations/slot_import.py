"""Reading and checking a slot file (CSV in UTF-8 / UTF-8 BOM / Shift_JIS, or XLSX).

Shared by the admin import, the import-export resource and ``manage.py import_slots``. The file
says サービス, 会場, 日付, 開始, 終了, 定員; the department always comes from the caller. Checking
is pure (no writes): ``check_rows`` returns the slots to create, the rows that already exist
(same service, venue, start and end: a re-import creates nothing) and one Japanese error per
bad row. Writing is ``slots_import`` in services, all or nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from municipalities import files, jp
from municipalities.models import Department

from .models import Menu, Slot
from .parsing import parse_date, parse_positive_int, parse_time

COLUMNS = ("サービス", "会場", "日付", "開始", "終了", "定員")
HEADER_ALIASES = {
    "サービス": "サービス",
    "メニュー": "サービス",
    "予約メニュー": "サービス",
    "サービス名": "サービス",
    "会場": "会場",
    "場所": "会場",
    "会場名": "会場",
    "日付": "日付",
    "日": "日付",
    "実施日": "日付",
    "年月日": "日付",
    "開始": "開始",
    "開始時刻": "開始",
    "開始時間": "開始",
    "終了": "終了",
    "終了時刻": "終了",
    "終了時間": "終了",
    "定員": "定員",
    "人数": "定員",
    "枠数": "定員",
}
MAX_CAPACITY = 10_000


class SlotFileError(ValueError):
    """The file as a whole cannot be read (encoding, format, headers)."""


@dataclass
class RowError:
    row: int  # 1-based line number in the file, header = 1
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "message": self.message}


@dataclass
class CheckedSlot:
    row: int
    menu: Menu
    venue: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int


@dataclass
class CheckResult:
    total: int = 0
    to_create: list[CheckedSlot] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_rows(data: bytes, file_name: str = "") -> list[list[object]]:
    """All rows of the file (header first) as lists of cells."""
    if data[:2] == b"PK" or file_name.lower().endswith(".xlsx"):
        try:
            # openpyxl is loaded only when someone uploads a workbook (a rare staff action)
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same message to staff
            raise SlotFileError("Excel ファイルを読み込めません。.xlsx 形式で保存してください。") from None
        sheet = book.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    try:
        text = files.decode_text(data)
    except files.TextDecodeError:
        raise SlotFileError(
            "文字コードを判別できません。UTF-8 か Shift_JIS の CSV、または Excel ファイルで保存してください。"
        ) from None
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] else "excel"
    return [list(r) for r in csv.reader(io.StringIO(text), dialect=dialect)]


def _header_map(header: Iterable[object]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = HEADER_ALIASES.get(jp.squash(str(cell or "")))
        if name and name not in found:
            found[name] = i
    missing = [c for c in COLUMNS if c not in found]
    if missing:
        raise SlotFileError(
            "見出し行に「"
            + "」「".join(missing)
            + "」がありません。1 行目は「"
            + "、".join(COLUMNS)
            + "」にしてください。"
        )
    return found


def check_rows(
    *,
    department: Department,
    rows: list[list[object]],
    progress: Callable[[int], None] | None = None,
) -> CheckResult:
    """Check every row against the department's menus and existing slots (no writes)."""
    if not rows:
        raise SlotFileError("ファイルが空です。")
    columns = _header_map(rows[0])
    tz = ZoneInfo(settings.TIME_ZONE)
    menus = {jp.squash(m.name): m for m in Menu.objects.filter(department=department)}
    result = CheckResult()
    parsed: list[tuple[int, Menu, str, dt.datetime, dt.datetime, int]] = []
    seen: dict[tuple[int, str, dt.datetime, dt.datetime], int] = {}
    combine = dt.datetime.combine
    width = max(columns.values()) + 1
    for index, row in enumerate(rows[1:], start=2):
        if progress is not None and index % 5000 == 0:
            progress(index - 1)
        if len(row) < width:
            row = list(row) + [None] * (width - len(row))
        cells = {name: row[i] for name, i in columns.items()}
        if not any(v is not None and str(v).strip() != "" for v in cells.values()):
            continue  # blank line
        result.total += 1
        problems: list[str] = []
        menu = menus.get(jp.squash(str(cells["サービス"] or "")))
        if menu is None:
            problems.append(f"サービス「{cells['サービス'] or ''}」はこの課にありません。")
        venue = jp.normalise_text(str(cells["会場"] or ""))
        if not venue:
            problems.append("会場が空です。")
        elif len(venue) > 100:
            problems.append("会場は 100 文字以内にしてください。")
        elif menu is not None and menu.venue_list and venue not in menu.venue_list:
            problems.append(f"会場「{venue}」は「{menu.name}」の会場にありません。")
        day = start = end = None
        try:
            day = parse_date(cells["日付"])
        except ValueError as exc:
            problems.append(str(exc))
        try:
            start = parse_time(cells["開始"])
        except ValueError as exc:
            problems.append("開始: " + str(exc))
        try:
            end = parse_time(cells["終了"])
        except ValueError as exc:
            problems.append("終了: " + str(exc))
        capacity = 0
        try:
            capacity = parse_positive_int(cells["定員"], label="定員", maximum=MAX_CAPACITY)
        except ValueError as exc:
            problems.append(str(exc))
        if start is not None and end is not None and end <= start:
            problems.append("終了は開始より後の時刻にしてください。")
        if problems:
            result.errors.append(RowError(index, " ".join(problems)))
            continue
        starts_at = combine(day, start, tzinfo=tz)
        ends_at = combine(day, end, tzinfo=tz)
        key = (menu.pk, venue, starts_at, ends_at)
        if key in seen:
            result.errors.append(
                RowError(index, f"{seen[key]} 行目と同じ枠です（サービス・会場・日時が重複）。")
            )
            continue
        seen[key] = index
        parsed.append((index, menu, venue, starts_at, ends_at, capacity))
    if progress is not None:
        progress(len(rows) - 1)
    if not parsed:
        return result
    # Existing slots of these menus in the file's date range: one query, keys as epoch seconds
    # (decoding 100,000 timestamps into datetimes costs more than the rest of the check).
    first = min(p[3] for p in parsed)
    last = max(p[3] for p in parsed)
    existing = _existing_keys({p[1].pk for p in parsed}, first, last)
    for index, menu, venue, starts_at, ends_at, capacity in parsed:
        found = existing.get((menu.pk, venue, int(starts_at.timestamp()), int(ends_at.timestamp())))
        if found is None:
            result.to_create.append(CheckedSlot(index, menu, venue, starts_at, ends_at, capacity))
        elif found == capacity:
            result.unchanged += 1
        else:
            result.errors.append(
                RowError(
                    index,
                    f"同じ枠が登録済みで定員が異なります（登録済み {found}、ファイル {capacity}）。定員の変更は枠の画面で行ってください。",
                )
            )
    return result


EXISTING_KEYS_SQL = (
    "SELECT menu_id, venue, extract(epoch FROM starts_at)::bigint, extract(epoch FROM ends_at)::bigint, capacity "
    "FROM reservations_slot WHERE menu_id = ANY(%s) AND starts_at >= %s AND starts_at <= %s"
)


def _existing_keys(menu_ids: set[int], first: dt.datetime, last: dt.datetime) -> dict[tuple, int]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(EXISTING_KEYS_SQL, [list(menu_ids), first, last])
            return {(m, v, s, e): c for m, v, s, e, c in cursor.fetchall()}
    return {
        (m, v, int(s.timestamp()), int(e.timestamp())): c
        for m, v, s, e, c in Slot.objects.filter(
            menu__in=menu_ids, starts_at__gte=first, starts_at__lte=last
        ).values_list("menu_id", "venue", "starts_at", "ends_at", "capacity")
    }


def check_file(
    *, department: Department, data: bytes, file_name: str = "", progress: Callable[[int], None] | None = None
) -> CheckResult:
    return check_rows(department=department, rows=read_rows(data, file_name), progress=progress)


def count_rows(data: bytes, file_name: str = "") -> int:
    return max(len(read_rows(data, file_name)) - 1, 0)
