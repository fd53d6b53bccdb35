"""CSV/XLSX import and export of FAQ entries (STYLE R11).

The department comes from the import form (chosen among the departments the staff user may
import into), never from the file; the natural key is the question inside that department.
Rows are saved through ``faq_write`` (policy, validation, audit, index refresh on commit), so a
dry run (the preview) rolls back with no side effect.
"""

from __future__ import annotations

from typing import Any

from import_export import fields, widgets

from chatbot.models import Faq
from chatbot.services import faq_write
from municipalities.resources import DepartmentResource


class FaqResource(DepartmentResource):
    question = fields.Field(attribute="question", column_name="質問")
    variants = fields.Field(attribute="variants", column_name="言い換え")
    answer = fields.Field(attribute="answer", column_name="回答")
    link_label = fields.Field(attribute="link_label", column_name="ボタンの文言")
    link_url = fields.Field(attribute="link_url", column_name="ボタンのリンク先")
    is_published = fields.Field(attribute="is_published", column_name="公開", widget=widgets.BooleanWidget())
    department = fields.Field(attribute="department__name", column_name="担当課", readonly=True)

    class Meta:
        model = Faq
        fields = ("question", "variants", "answer", "link_label", "link_url", "is_published", "department")
        import_id_fields = ("question",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False
        use_transactions = True

    def get_queryset(self):  # the natural key is looked up inside the chosen department only
        return super().get_queryset().select_related("department")

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        if self.department is None:
            raise ValueError("課が選ばれていません")
        # Spreadsheets give empty cells as None: text columns are blank, 公開 defaults to yes.
        for column in ("言い換え", "回答", "ボタンの文言", "ボタンのリンク先", "質問"):
            if column in row and row[column] is None:
                row[column] = ""
            elif column in row:
                row[column] = str(row[column]).strip()
        if "公開" in row and (row["公開"] is None or str(row["公開"]).strip() == ""):
            row["公開"] = "1"

    def before_save_instance(self, instance: Faq, row: Any, **kwargs: Any) -> None:
        instance.department = self.department

    def import_instance(self, instance: Faq, row: Any, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        instance.department = self.department  # validated (clean_model_instances) inside the tenant

    def do_instance_save(self, instance: Faq, is_create: bool) -> None:
        faq_write(faq=instance, actor=self.actor, created=is_create, changed=["import"])
