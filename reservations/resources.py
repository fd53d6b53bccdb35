"""django-import-export resources (STYLE R11): slots and rosters, with Japanese headers.

``SlotResource`` writes the same six columns the slot import reads (サービス, 会場, 日付, 開始,
終了, 定員) plus 予約数, so an exported sheet can be edited and imported again: rows that did
not change are reported as unchanged, never duplicated. The import itself does not go through
import-export: it is checked by ``reservations.slot_import`` (one parser for the admin page and
the CLI) and written by ``slots_import`` in one transaction, because the row-by-row save of
import-export takes minutes for 100,000 rows and cannot give an all-or-nothing answer before
touching the table.
"""

from __future__ import annotations

from django.utils import timezone
from import_export import fields, resources

from municipalities import jp
from municipalities.resources import DepartmentResource

from .eligibility import member_age_text
from .models import Reservation, Slot


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
    kana = fields.Field(column_name="フリガナ")
    phone = fields.Field(column_name="電話番号", attribute="phone")
    member = fields.Field(column_name="予約した住民との続柄")
    birth_date = fields.Field(column_name="生年月日")
    age = fields.Field(column_name="当日の年齢")
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
            "member",
            "birth_date",
            "age",
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

    # The household member booked for (a child's checkup): who comes, and their age on the day.
    def dehydrate_kana(self, r: Reservation) -> str:
        return r.member.kana if r.member_id else r.kana

    def dehydrate_member(self, r: Reservation) -> str:
        return r.member.get_relationship_display() if r.member_id else ""

    def dehydrate_birth_date(self, r: Reservation) -> str:
        if r.member_id:
            return jp.format_wareki(r.member.birth_date)
        return jp.format_wareki(r.birth_date) if r.birth_date else ""

    def dehydrate_age(self, r: Reservation) -> str:
        return member_age_text(r)

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
