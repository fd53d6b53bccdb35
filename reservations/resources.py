"""django-import-export resources (STYLE R11): slots and rosters, with Japanese headers.

``SlotResource`` writes the same six columns the slot import reads (サービス, 会場, 日付, 開始,
終了, 定員) plus 予約数, so an exported sheet can be edited and imported again: rows that did
not change are reported as unchanged, never duplicated. The import itself is checked by
``reservations.slot_import`` (one parser for the admin, the resource and the CLI) and written
by ``slots_import`` in one transaction, because the row-by-row save of import-export takes
minutes for 100,000 rows and cannot give an all-or-nothing answer before touching the table.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from import_export import fields, resources
from import_export.results import Error, Result, RowResult

from municipalities import jp
from municipalities.resources import DepartmentResource

from .models import Reservation, Slot
from .slot_import import COLUMNS


class SlotResource(DepartmentResource):
    service = fields.Field(column_name="サービス", attribute="menu__name", readonly=True)
    venue = fields.Field(column_name="会場", attribute="venue", readonly=True)
    date = fields.Field(column_name="日付", readonly=True)
    start = fields.Field(column_name="開始", readonly=True)
    end = fields.Field(column_name="終了", readonly=True)
    capacity = fields.Field(column_name="定員", attribute="capacity", readonly=True)
    reserved = fields.Field(column_name="予約数", attribute="reserved", readonly=True)

    class Meta:
        model = Slot
        fields = ("service", "venue", "date", "start", "end", "capacity", "reserved")
        export_order = fields
        import_id_fields = ("service", "venue", "date", "start", "end")
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False

    def get_queryset(self):
        return super().get_queryset().select_related("menu")

    def import_data(
        self, dataset, dry_run: bool = False, raise_errors: bool = False, **kwargs: Any
    ) -> Result:
        """Import a tablib Dataset with the project's checks: all or nothing, natural key, department from the caller.

        Returns an import-export ``Result``: one ``RowResult`` per row (new / skip for a slot
        that already exists), and an ``InvalidRow`` with the Japanese message for each rejected
        row, in which case nothing is written. ``dry_run`` checks only (the admin preview).
        """
        from .services.slots import _require_import, _slots_import_commit
        from .slot_import import SlotFileError, check_rows

        if self.department is None:
            raise ValueError("SlotResource needs the department of the staff user")
        _require_import(self.actor, self.department)
        result = self.get_result_class()()
        result.diff_headers = list(COLUMNS)
        result.add_dataset_headers(list(dataset.headers or []))
        rows = [list(dataset.headers or [])] + [list(r) for r in dataset]
        result.total_rows = len(rows) - 1
        try:
            checked = check_rows(department=self.department, rows=rows)
        except SlotFileError as exc:
            result.append_base_error(Error(exc))
            return result
        by_row = {c.row: c for c in checked.to_create}
        errors = {e.row: e.message for e in checked.errors}
        header = rows[0]
        for number in range(2, len(rows) + 1):
            values = dict(zip(header, rows[number - 1], strict=False))
            row_result = self.get_row_result_class()()
            row_result.row_values = values
            if number in errors:
                row_result.import_type = RowResult.IMPORT_TYPE_INVALID
                row_result.validation_error = ValidationError({NON_FIELD_ERRORS: [errors[number]]})
                result.append_invalid_row(number - 1, values, row_result.validation_error)
            elif number in by_row:
                row_result.import_type = RowResult.IMPORT_TYPE_NEW
            else:
                row_result.import_type = RowResult.IMPORT_TYPE_SKIP
            result.increment_row_result_total(row_result)
            result.append_row_result(row_result)
        if not dry_run and checked.ok:
            _slots_import_commit(
                department=self.department, result=checked, actor=self.actor, file_name="dataset"
            )
        return result

    def dehydrate_date(self, slot: Slot) -> str:
        return f"{timezone.localtime(slot.starts_at):%Y/%m/%d}"

    def dehydrate_start(self, slot: Slot) -> str:
        return f"{timezone.localtime(slot.starts_at):%H:%M}"

    def dehydrate_end(self, slot: Slot) -> str:
        return f"{timezone.localtime(slot.ends_at):%H:%M}"


class RosterResource(resources.ModelResource):
    """名簿: one row per booking of a slot, for printing or Excel (CSV with BOM, XLSX)."""

    code = fields.Field(column_name="予約番号", attribute="code")
    name = fields.Field(column_name="氏名")
    kana = fields.Field(column_name="フリガナ", attribute="kana")
    phone = fields.Field(column_name="電話番号", attribute="phone")
    status = fields.Field(column_name="状態")
    answers = fields.Field(column_name="質問への回答")
    channel = fields.Field(column_name="予約方法")
    slot = fields.Field(column_name="日時")
    venue = fields.Field(column_name="会場", attribute="slot__venue")
    booked_at = fields.Field(column_name="予約日時")

    class Meta:
        model = Reservation
        fields = (
            "code",
            "name",
            "kana",
            "phone",
            "status",
            "answers",
            "channel",
            "slot",
            "venue",
            "booked_at",
        )
        export_order = fields

    def dehydrate_name(self, r: Reservation) -> str:
        return r.display_name

    def dehydrate_status(self, r: Reservation) -> str:
        return r.get_status_display()

    def dehydrate_answers(self, r: Reservation) -> str:
        return " / ".join(f"{k}: {v}" for k, v in (r.answers or {}).items())

    def dehydrate_channel(self, r: Reservation) -> str:
        if r.booked_by_id is None:
            return "LINE"
        return "代理予約（LINE 利用者）" if r.resident_id else "電話（代理予約）"

    def dehydrate_slot(self, r: Reservation) -> str:
        start = timezone.localtime(r.slot.starts_at)
        return f"{jp.format_wareki(start.date())} {start:%H:%M}–{timezone.localtime(r.slot.ends_at):%H:%M}"

    def dehydrate_booked_at(self, r: Reservation) -> str:
        return f"{timezone.localtime(r.created_at):%Y/%m/%d %H:%M}"
