"""FAQ import/export resource (STYLE R11): department from the caller, natural key inside it,
row errors reported, dry run without side effects, XLSX as well as CSV."""

from __future__ import annotations

import tablib

from chatbot.models import Faq
from chatbot.resources import FaqResource
from municipalities.models import AuditEntry

from .factories import FaqFactory

HEADERS = ["質問", "言い換え", "回答", "ボタンの文言", "ボタンのリンク先", "公開"]


def _dataset(rows: list[list[str]]) -> tablib.Dataset:
    return tablib.Dataset(*rows, headers=HEADERS)


def test_import_updates_by_question_inside_the_department(town, kenko, somu, kenko_editor):
    # given the same question exists in another department
    FaqFactory(department=somu, question="窓口の時間", answer="総務の回答")
    FaqFactory(department=kenko, question="窓口の時間", answer="古い回答")
    data = _dataset(
        [
            ["窓口の時間", "受付時間", "新しい回答", "", "", "1"],
            ["予防接種", "", "母子手帳を持参", "", "", ""],
        ]
    )
    # when
    result = FaqResource(actor=kenko_editor, department=kenko).import_data(data, dry_run=False)
    # then
    assert not result.has_errors() and not result.has_validation_errors()
    assert Faq.objects.get(department=kenko, question="窓口の時間").answer == "新しい回答"
    assert Faq.objects.get(department=somu, question="窓口の時間").answer == "総務の回答"
    assert Faq.objects.get(department=kenko, question="予防接種").is_published is True
    assert AuditEntry.objects.filter(action__startswith="chatbot.faq.").count() == 2


def test_dry_run_writes_nothing_and_rows_with_problems_are_reported(
    town, kenko, kenko_editor, django_capture_on_commit_callbacks
):
    data = _dataset(
        [
            ["良い行", "", "回答", "", "", "1"],
            ["回答なし", "", "", "", "", "1"],
            ["リンクだけ", "", "a", "", "https://example.jp", "1"],
        ]
    )
    with django_capture_on_commit_callbacks() as callbacks:
        result = FaqResource(actor=kenko_editor, department=kenko).import_data(data, dry_run=True)
    assert result.has_validation_errors()
    assert {row.number for row in result.invalid_rows} == {2, 3}
    assert not Faq.objects.exists()
    assert callbacks == []  # nothing enqueued by a preview


def test_xlsx_round_trip(town, kenko, kenko_editor):
    FaqFactory(department=kenko, question="健診の日程", variants="健診はいつ", answer="6月です")
    exported = FaqResource(actor=kenko_editor).export(Faq.objects.filter(department=kenko))
    xlsx = exported.export("xlsx")
    Faq.objects.all().delete()
    dataset = tablib.Dataset().load(xlsx, format="xlsx")
    result = FaqResource(actor=kenko_editor, department=kenko).import_data(dataset, dry_run=False)
    assert not result.has_errors(), [e.error for row in result.rows for e in row.errors] + [
        e.error for e in result.base_errors
    ]
    assert not result.has_validation_errors()
    faq = Faq.objects.get()
    assert (faq.question, faq.variant_list(), faq.answer) == ("健診の日程", ["健診はいつ"], "6月です")
