import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from municipalities.models import AuditEntry
from reservations.models import Slot
from reservations.parsing import parse_date, parse_time
from reservations.services import ReservationError, slots_generate, slots_import
from tests.reservations.factories import MenuFactory

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "text",
    [
        "2026/12/01",
        "2026-12-01",
        "令和8年12月1日",
        "R8.12.1",
        "r8/12/1",
        "２０２６／１２／０１",
        "2026年12月1日(火)",
        "20261201",
        "令和８年１２月１日",
    ],
)
def test_every_date_form_reads_the_same_day(text):
    assert parse_date(text) == dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00", (9, 0)),
        ("９：００", (9, 0)),
        ("9時30分", (9, 30)),
        ("９時半", (9, 30)),
        ("午後2時", (14, 0)),
        ("14:05:00", (14, 5)),
        ("0930", (9, 30)),
        ("2:30 PM", (14, 30)),
    ],
)
def test_every_time_form(text, expected):
    assert parse_time(text) == dt.time(*expected)


def test_excel_cells_and_bad_values():
    assert parse_date(dt.datetime(2026, 12, 1, 0, 0)) == dt.date(2026, 12, 1)
    assert parse_date(46357) == dt.date(2026, 12, 1)
    assert parse_time(0.375) == dt.time(9, 0)
    for bad in ("2026/02/30", "令和0年1月1日", "R1.4.1", "あした"):
        with pytest.raises(ValueError):
            parse_date(bad)
    with pytest.raises(ValueError):
        parse_time("25:00")


@pytest.fixture
def dental(kenko):
    return MenuFactory(department=kenko, name="乳幼児歯科健診", venues="保健センター\n公民館")


@pytest.mark.parametrize("name", ["slots_forms_utf8.csv", "slots_forms_bom.csv", "slots_forms_cp932.csv"])
def test_csv_in_each_encoding_imports_every_form(dental, kenko, kenko_editor, name):
    # when
    outcome = slots_import(
        department=kenko, data=(DATA / name).read_bytes(), file_name=name, actor=kenko_editor
    )
    # then
    assert outcome.errors == []
    assert outcome.created == 8
    slots = list(Slot.objects.filter(menu=dental).order_by("starts_at"))
    first = timezone.localtime(slots[0].starts_at)
    assert (first.date(), first.time()) == (dt.date(2026, 12, 1), dt.time(9, 0))
    assert [timezone.localtime(s.starts_at).strftime("%m%d %H:%M") for s in slots] == [
        "1201 09:00",
        "1201 09:30",
        "1201 10:00",
        "1201 10:30",
        "1202 09:30",
        "1202 10:30",
        "1203 13:00",
        "1203 14:00",
    ]
    assert AuditEntry.objects.filter(action="reservations.slot.imported").count() == 1


def test_xlsx_imports(dental, kenko):
    outcome = slots_import(department=kenko, data=(DATA / "slots.xlsx").read_bytes(), file_name="slots.xlsx")
    assert (outcome.created, outcome.errors) == (3, [])


def test_importing_the_same_file_twice_creates_nothing_new(dental, kenko):
    data = (DATA / "slots_forms_cp932.csv").read_bytes()
    slots_import(department=kenko, data=data)
    # the same slots in another encoding are the same slots
    second = slots_import(department=kenko, data=(DATA / "slots_forms_utf8.csv").read_bytes())
    assert (second.created, second.unchanged, second.errors) == (0, 8, [])
    assert Slot.objects.filter(menu=dental).count() == 8


def test_one_bad_row_imports_nothing(dental, kenko):
    outcome = slots_import(department=kenko, data=(DATA / "slots_one_bad_row.csv").read_bytes())
    assert outcome.created == 0
    assert [e["row"] for e in outcome.errors] == [5]
    assert "存在しない日付" in outcome.errors[0]["message"]
    assert Slot.objects.count() == 0


def test_dry_run_writes_nothing(dental, kenko):
    outcome = slots_import(department=kenko, data=(DATA / "slots_forms_utf8.csv").read_bytes(), dry_run=True)
    assert outcome.created == 8 and len(outcome.preview) == 8
    assert Slot.objects.count() == 0


def test_department_comes_from_the_caller_not_the_file(dental, somu):
    # 乳幼児歯科健診 is kenko's: importing into somu finds no such service
    outcome = slots_import(department=somu, data=(DATA / "slots_forms_utf8.csv").read_bytes())
    assert outcome.created == 0 and len(outcome.errors) == 8
    assert "この課にありません" in outcome.errors[0]["message"]


def test_staff_of_another_department_cannot_import(dental, kenko, somu_editor):
    with pytest.raises(ReservationError):
        slots_import(department=kenko, data=(DATA / "slots_forms_utf8.csv").read_bytes(), actor=somu_editor)


def test_row_errors_are_specific(dental, kenko):
    text = (
        "サービス,会場,日付,開始,終了,定員\n"
        "乳幼児歯科健診,体育館,2026/12/1,9:00,9:30,5\n"
        "乳幼児歯科健診,公民館,2026/12/1,10:00,9:30,5\n"
        "乳幼児歯科健診,公民館,2026/12/1,9:00,9:30,ゼロ\n"
        "存在しない健診,公民館,2026/12/1,9:00,9:30,5\n"
        "乳幼児歯科健診,公民館,2026/12/5,9:00,9:30,5\n"
        "乳幼児歯科健診,公民館,2026/12/5,9:00,9:30,5\n"
    )
    outcome = slots_import(department=kenko, data=text.encode())
    messages = {e["row"]: e["message"] for e in outcome.errors}
    assert "会場「体育館」" in messages[2]
    assert "終了は開始より後" in messages[3]
    assert "定員" in messages[4]
    assert "この課にありません" in messages[5]
    assert "7" not in messages and "6 行目と同じ枠" in messages[7]


def test_missing_headers_is_one_clear_error(dental, kenko):
    outcome = slots_import(department=kenko, data="日付,開始\n2026/12/1,9:00\n".encode())
    assert outcome.errors[0]["row"] == 0
    assert "サービス" in outcome.errors[0]["message"]


def test_cli_json_and_exit_codes(dental, kenko, town, capsys):
    out = io.StringIO()
    call_command(
        "import_slots",
        town.slug,
        kenko.code,
        str(DATA / "slots_forms_bom.csv"),
        "--json",
        "--dry-run",
        stdout=out,
    )
    assert json.loads(out.getvalue()) == {"created": 8, "unchanged": 0, "errors": []}
    assert Slot.objects.count() == 0
    call_command(
        "import_slots",
        town.slug,
        kenko.code,
        str(DATA / "slots_forms_bom.csv"),
        "--json",
        stdout=io.StringIO(),
    )
    out = io.StringIO()
    call_command(
        "import_slots", town.slug, kenko.code, str(DATA / "slots_forms_bom.csv"), "--json", stdout=out
    )
    assert json.loads(out.getvalue()) == {"created": 0, "unchanged": 8, "errors": []}
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command(
            "import_slots", town.slug, kenko.code, str(DATA / "slots_one_bad_row.csv"), "--json", stdout=out
        )
    assert exc.value.code == 1
    result = json.loads(out.getvalue())
    assert result["created"] == 0 and result["errors"][0]["row"] == 5


def test_generate_slots_from_a_pattern_skips_holidays_and_existing(dental, kenko_editor):
    # given: Mon/Wed between 2026-11-16 and 2026-11-30; 11/23 (Mon) is 勤労感謝の日
    kwargs = dict(
        menu=dental,
        venue="保健センター",
        date_from=dt.date(2026, 11, 16),
        date_to=dt.date(2026, 11, 30),
        weekdays=[0, 2],
        times=[(dt.time(9, 0), dt.time(9, 30)), (dt.time(10, 0), dt.time(10, 30))],
        capacity=4,
        actor=kenko_editor,
    )
    # when
    created, unchanged = slots_generate(**kwargs)
    again = slots_generate(**kwargs)
    # then: 11/16, 11/18, 11/25, 11/30 (not 11/23) × 2 times
    assert (created, unchanged) == (8, 0)
    assert again == (0, 8)
    assert not Slot.objects.filter(starts_at__date=dt.date(2026, 11, 23)).exists()


def test_slot_export_has_the_import_headers(dental, kenko):
    from reservations.resources import SlotResource

    slots_import(department=kenko, data=(DATA / "slots_forms_utf8.csv").read_bytes())
    dataset = SlotResource(department=kenko).export()
    assert dataset.headers == ["サービス", "会場", "日付", "開始", "終了", "定員", "予約数"]
    # an exported sheet imports back as unchanged
    csv_text = dataset.export("csv")
    again = slots_import(department=kenko, data=csv_text.encode("utf-8"))
    assert (again.created, again.unchanged, again.errors) == (0, 8, [])
