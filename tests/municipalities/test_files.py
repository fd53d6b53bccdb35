"""The one formula-safe export path (municipalities.files)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import tablib

from municipalities.files import escape_formula, export_bytes, export_response
from tests.exports import FORMULA_PAYLOADS, assert_inert, export_cells


@pytest.mark.parametrize("payload", FORMULA_PAYLOADS)
def test_text_starting_a_formula_gets_a_quote(payload):
    assert escape_formula(payload) == "'" + payload


@pytest.mark.parametrize(
    "value", ["山田 花子", "a=b", " =1", "", None, 0, -1, -2.5, Decimal("-300"), dt.date(2026, 1, 2)]
)
def test_other_values_are_left_alone(value):
    # plain text, and numbers that are numbers in Python (fees, counts, refunds): never a formula
    assert escape_formula(value) == value


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_cell_of_every_sheet_is_inert_and_numbers_stay_numbers(fmt):
    # given: two sheets with the payloads as text, and a negative number
    first = tablib.Dataset(headers=["氏名", "金額"], title="一")
    second = tablib.Dataset(headers=["メモ"], title="二")
    for payload in FORMULA_PAYLOADS:
        first.append([payload, -300])
        second.append([payload])
    data = tablib.Databook([first, second]) if fmt == "xlsx" else first
    # when
    cells = export_cells(export_bytes(data, fmt=fmt), fmt)
    # then: the input is untouched, the file is inert, and the refund is still a number in XLSX
    assert first[0][0] == FORMULA_PAYLOADS[0]
    assert_inert(cells)
    assert (-300 if fmt == "xlsx" else "-300") in cells
    if fmt == "xlsx":
        assert cells.count("'" + FORMULA_PAYLOADS[0]) == 2  # both sheets


def test_the_response_is_an_attachment_with_the_right_type():
    response = export_response(tablib.Dataset(["=1"], headers=["a"]), fmt="csv", filename="名簿")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert_inert(export_cells(response.content, "csv"), ["=1"])
