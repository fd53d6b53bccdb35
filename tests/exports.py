"""Reading back what staff download, to check that no cell can run as a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

# What a LINE display name (or any text a resident or staff typed) may start with.
FORMULA_PAYLOADS = ['=HYPERLINK("http://x","a")', "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]


def export_cells(content: bytes, fmt: str) -> list[Any]:
    """Every cell of a downloaded CSV (UTF-8 with BOM) or XLSX (every sheet), as read back."""
    if fmt == "csv":
        assert content.startswith(b"\xef\xbb\xbf"), "CSV without the BOM Excel needs"
        rows = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
        return [cell for row in rows for cell in row]
    book = openpyxl.load_workbook(io.BytesIO(content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    formulas = [c.value for c in cells if c.data_type == "f"]
    assert formulas == [], f"live formulas in the XLSX: {formulas}"
    return [c.value for c in cells]


def assert_inert(cells: list[Any], payloads: list[str] = FORMULA_PAYLOADS) -> None:
    """Each payload is in the file, quoted as text, and never as it was typed.

    XLSX is XML, whose readers turn a CR into LF: both sides are compared with LF.
    """
    cells = [c.replace("\r", "\n") if isinstance(c, str) else c for c in cells]
    for payload in (p.replace("\r", "\n") for p in payloads):
        assert "'" + payload in cells, f"{payload!r} missing or not escaped"
        assert payload not in cells, f"{payload!r} written as is"
