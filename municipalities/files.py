"""Files staff download from the project: the one formula-safe export path.

Every CSV and XLSX the project writes (rosters, submissions, payment reconciliation, and the
django-import-export exports of FAQ, slots and the garbage dictionary) goes through
``export_bytes`` / ``export_response`` here, or, for import-export, through the formats in
``municipalities.resources`` that call ``formula_safe_dataset`` below. No other module escapes.

The policy (CSV injection, OWASP): a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is written with a single quote in front, so a spreadsheet shows it as text
and never runs it (``=HYPERLINK(...)`` from a LINE display name stays a string). Values that are
numbers in Python (``int``, ``float``, ``Decimal``; a fee, a count, a refund of -500) are written
as numbers: they cannot carry a formula, and staff sum them in Excel. A *string* that looks like a
number (``"-1"`` typed as a display name) is escaped like any other text: the cell is the
resident's words, not a figure. django-import-export's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``
(4.4) only strips a leading ``=`` and turns every cell into text, so the project does not rely on it.

Files staff upload are read here too: ``decode_text`` turns the bytes of an uploaded CSV into text
(the slot import and the 5374 garbage import both use it).
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

import tablib
from django.http import HttpResponse
from django.utils.http import content_disposition_header

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

ExportFormat = Literal["csv", "xlsx"]

CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def escape_formula(value: Any) -> Any:
    """Return ``value`` made inert for a spreadsheet cell (see the module docstring)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def formula_safe_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    """A copy of ``dataset`` with every cell (headers included) escaped; the input is unchanged."""
    safe = tablib.Dataset(title=dataset.title)
    if dataset.headers:
        safe.headers = [escape_formula(h) for h in dataset.headers]
    for row in dataset:
        safe.append([_plain(escape_formula(cell)) for cell in row])
    return safe


def _plain(value: Any) -> Any:
    # openpyxl writes these natively; anything else (lazy strings, model instances) as text.
    if value is None or isinstance(value, (str, int, float, Decimal, dt.date, dt.time, bool)):
        return value
    return escape_formula(str(value))


def export_bytes(data: tablib.Dataset | tablib.Databook, *, fmt: ExportFormat) -> bytes:
    """The file's bytes, every cell formula-safe; the input is not modified.

    CSV is UTF-8 with a BOM (Excel on Windows then opens the Japanese intact) and holds the first
    sheet of a Databook only. XLSX holds every sheet.
    """
    sheets: Iterable[tablib.Dataset] = data.sheets() if isinstance(data, tablib.Databook) else [data]
    safe = [formula_safe_dataset(s) for s in sheets]
    if fmt == "csv":
        return ("\ufeff" + safe[0].export("csv")).encode("utf-8")
    if fmt == "xlsx":
        if isinstance(data, tablib.Databook):
            return tablib.Databook(safe).export("xlsx")
        return safe[0].export("xlsx")
    raise ValueError(f"unknown export format: {fmt!r}")


def export_response(
    data: tablib.Dataset | tablib.Databook, *, fmt: ExportFormat, filename: str
) -> HttpResponse:
    """An attachment download of ``data`` as ``<filename>.<fmt>`` (formula-safe, see export_bytes)."""
    response = HttpResponse(export_bytes(data, fmt=fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = content_disposition_header(True, f"{filename}.{fmt}")
    return response


# --- uploaded text files ---------------------------------------------------------------------


class TextDecodeError(ValueError):
    """The bytes are neither UTF-8 nor Shift_JIS; ``message`` says so to staff, in Japanese."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or "文字コードを判別できません。UTF-8 か Shift_JIS で保存してください。"
        super().__init__(self.message)


def decode_text(data: bytes) -> str:
    """The text of an uploaded CSV: UTF-8 with or without BOM, else Shift_JIS (cp932). Never asked.

    The order is the decision, not a statistical guess: Japanese text that is not UTF-8 almost
    never decodes as UTF-8, so a strict UTF-8 decode that succeeds is right, and everything else
    Excel writes for 「CSV」 is cp932 (Shift_JIS with the Windows extensions: ①, 髙, ﾊﾝｶｸ).
    charset-normalizer was tried and rejected here: on short cells of half-width katakana in
    cp932 (「ｶﾀｶﾅ」, common in files from older systems) it answers EUC-JP and returns mojibake.
    The one ambiguity left: a Shift_JIS file whose first non-ASCII characters are pairs of
    half-width kana can also be valid UTF-8 (「ﾅｶ」 is the bytes of 「Ŷ」). A full-width character
    anywhere before them rules UTF-8 out, so real files are read right.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise TextDecodeError() from None
    for encoding in ("utf-8", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TextDecodeError()
