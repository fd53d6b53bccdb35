"""Tables for staff downloads: submissions (one column per field).

Built with tablib; written by the project's one export path (``municipalities.files``: CSV with
a BOM for Excel, XLSX; text that a spreadsheet would run as a formula is quoted, numbers stay
numbers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tablib
from django.http import HttpResponse
from django.utils import timezone

from applications.forms import display_value
from applications.models import FieldKind, FormField, PaymentStatus, Submission
from municipalities.files import export_response


def _dt(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def submissions_dataset(submissions: Iterable[Submission]) -> tablib.Dataset:
    """One row per submission; the fields of every form involved, one column each."""
    rows = list(submissions)
    columns: list[tuple[int, FormField]] = []
    seen_forms: set[int] = set()
    many_forms = len({s.form_id for s in rows}) > 1
    for s in rows:
        if s.form_id in seen_forms:
            continue
        seen_forms.add(s.form_id)
        columns += [(s.form_id, f) for f in s.form.fields.all() if f.kind != FieldKind.EXPLANATION]
    headers = [
        "受付番号",
        "フォーム",
        "課",
        "状態",
        "申請日時",
        "申請者（LINE 表示名）",
        "手数料",
        "支払",
        "担当者",
        "理由",
        "職員メモ",
    ]
    headers += [f"{f.form.title}: {f.label}" if many_forms else f.label for _form_id, f in columns]
    data = tablib.Dataset(headers=headers)
    for s in rows:
        files: dict[str, list[str]] = {}
        for a in s.attachments.all():
            files.setdefault(a.field_key, []).append(a.original_name)
        paid = any(p.status == PaymentStatus.PAID for p in s.payments.all())
        answers = []
        for form_id, f in columns:
            if form_id != s.form_id:
                answers.append("")
            elif f.kind == FieldKind.FILE:
                answers.append("、".join(files.get(f.key, [])))
            else:
                answers.append(display_value(f, s.answers.get(f.key)))
        data.append(
            [
                s.reference,
                s.form.title,
                s.form.department.name,
                s.get_status_display(),
                _dt(s.submitted_at),
                s.resident.display_name,
                s.fee,
                ("支払済み" if paid else "未払い") if s.fee else "無料",
                str(s.assignee or ""),
                s.status_reason,
                s.memo,
                *answers,
            ]
        )
    return data


def download(data: tablib.Dataset | tablib.Databook, *, fmt: str, filename: str) -> HttpResponse:
    """The download of a table (CSV: the first sheet), through the one formula-safe path."""
    return export_response(data, fmt="xlsx" if fmt == "xlsx" else "csv", filename=filename)
