"""Staff console: form builder save, preview, workflow actions, attachments, exports, reconciliation."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from applications.forms import check_upload
from applications.models import ApplicationForm, FieldKind, Submission
from applications.services import attachment_stage, payment_record_counter, submission_transition
from applications.workflow import SubmissionStatus as S
from municipalities.models import AuditEntry
from tests.applications.factories import FormFieldFactory, simple_form, submit
from tests.applications.files import PNG, upload
from tests.exports import FORMULA_PAYLOADS, assert_inert, export_cells
from tests.municipalities.factories import resident_in

pytestmark = pytest.mark.django_db
BACKEND = "municipalities.auth.RoleBackend"


def login(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def inline_management(prefix: str = "fields", total: int = 0, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_form_builder_creates_form_with_ordered_fields_and_keys(kenko, kenko_editor):
    client = login(kenko_editor)
    data = {
        "department": kenko.pk,
        "title": "粗大ごみ収集の申込",
        "description": "",
        "fee": "0",
        "completion_message": "収集日をお知らせします。",
        **inline_management(total=2),
        "fields-0-position": "2",
        "fields-0-kind": FieldKind.ADDRESS,
        "fields-0-label": "収集先の住所",
        "fields-0-required": "on",
        "fields-0-max_file_mb": "5",
        "fields-1-position": "1",
        "fields-1-kind": FieldKind.MULTIPLE_CHOICE,
        "fields-1-label": "品目",
        "fields-1-choices": "たんす\nソファ",
        "fields-1-max_choices": "2",
        "fields-1-max_file_mb": "5",
        "_save": "保存",
    }
    response = client.post(reverse("admin:applications_applicationform_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    form = ApplicationForm.objects.get(title="粗大ごみ収集の申込")
    assert [(f.label, f.key) for f in form.fields.all()] == [("品目", "q1"), ("収集先の住所", "q2")]
    assert AuditEntry.objects.filter(
        action="applications.applicationform.created", object_id=str(form.pk)
    ).exists()


def test_form_builder_refuses_choice_field_without_choices_and_fee_without_method(kenko, kenko_editor):
    data = {
        "department": kenko.pk,
        "title": "x",
        "fee": "300",
        **inline_management(total=1),
        "fields-0-position": "1",
        "fields-0-kind": FieldKind.DROPDOWN,
        "fields-0-label": "地区",
        "fields-0-max_file_mb": "5",
    }
    response = login(kenko_editor).post(reverse("admin:applications_applicationform_add"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "支払方法を 1 つ以上選んでください" in body and "選択肢を 1 行に 1 つ" in body
    assert not ApplicationForm.objects.exists()


def test_preview_shows_the_resident_form_without_submit(form, kenko_viewer, somu_editor):
    url = reverse("admin:applications_applicationform_preview", args=[form.pk])
    response = login(kenko_viewer).get(url)
    body = response.content.decode()
    assert response.status_code == 200 and "プレビュー" in body and "氏名" in body
    assert "disabled" in body
    assert login(somu_editor).get(url).status_code == 404  # another department


def test_changelist_query_count_is_flat(form, resident, other_resident, kenko_editor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(kenko_editor)
    url = reverse("admin:applications_submission_changelist")
    submit(form, resident)
    client.get(url)  # warm caches
    with CaptureQueriesContext(connection) as one_row:
        client.get(url)
    for _ in range(5):
        submit(form, other_resident)
    with CaptureQueriesContext(connection) as six_rows:
        response = client.get(url)
    assert len(response.context_data["cl"].result_list) == 6
    assert len(six_rows) == len(one_row) <= 18


def test_changelist_filters(form, fee_form, resident, somu_editor, town_admin):
    free = submit(form, resident)
    unpaid = submit(fee_form, resident, payment_method="counter")
    client = login(town_admin)
    url = reverse("admin:applications_submission_changelist")
    listed = lambda query: {s.pk for s in client.get(url + query).context_data["cl"].result_list}  # noqa: E731
    assert listed("?payment=unpaid") == {unpaid.pk}
    assert listed("?payment=free") == {free.pk}
    assert listed(f"?status__exact={S.AWAITING_PAYMENT}") == {unpaid.pk}
    payment_record_counter(submission=unpaid, actor=somu_editor)
    assert listed("?payment=paid") == {unpaid.pk}


def test_change_page_shows_answers_attachments_and_workflow_buttons(form, resident, kenko_editor):
    FormFieldFactory(form=form, kind=FieldKind.FILE, key="doc", label="書類", file_types=["png"])
    staged = attachment_stage(
        form=form,
        resident=resident,
        files={"doc": check_upload(upload("a.png", PNG), allowed=["png"], max_mb=1)},
    )
    submission = submit(form, resident, attachment_ids=staged)
    body = (
        login(kenko_editor)
        .get(reverse("admin:applications_submission_change", args=[submission.pk]))
        .content.decode()
    )
    assert "山田 花子" in body and "a.png" in body
    assert (
        reverse(
            "admin:applications_submission_attachment", args=[submission.pk, submission.attachments.get().pk]
        )
        in body
    )
    assert "審査を開始" in body and "修正を依頼" in body and "印刷用表示" in body


def test_attachment_download_is_scoped(form, resident, kenko_viewer, somu_editor):
    FormFieldFactory(form=form, kind=FieldKind.FILE, key="doc", label="書類", file_types=["png"])
    staged = attachment_stage(
        form=form,
        resident=resident,
        files={"doc": check_upload(upload("a.png", PNG), allowed=["png"], max_mb=1)},
    )
    submission = submit(form, resident, attachment_ids=staged)
    url = reverse(
        "admin:applications_submission_attachment", args=[submission.pk, submission.attachments.get().pk]
    )
    ok = login(kenko_viewer).get(url)
    assert ok.status_code == 200 and b"".join(ok.streaming_content) == PNG
    assert login(somu_editor).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_transition_button_with_reason(form, resident, kenko_editor, django_capture_on_commit_callbacks):
    submission = submit(form, resident)
    client = login(kenko_editor)
    url = reverse("admin:applications_submission_transition", args=[submission.pk, "request_correction"])
    assert "理由" in client.get(url).content.decode()
    missing = client.post(url, {"reason": ""})
    assert "理由を入力してください" in missing.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        done = client.post(url, {"reason": "住所の番地が抜けています"})
    assert done.status_code == 302 and len(callbacks) == 1
    submission.refresh_from_db()
    assert submission.status == S.NEEDS_CORRECTION and submission.status_reason == "住所の番地が抜けています"


def test_viewer_cannot_use_workflow(form, resident, kenko_viewer):
    submission = submit(form, resident)
    response = login(kenko_viewer).post(
        reverse("admin:applications_submission_transition", args=[submission.pk, "review"])
    )
    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.status == S.RECEIVED


def test_bulk_actions_report_counts_and_refusals(form, resident, other_resident, kenko_editor):
    a, b = submit(form, resident), submit(form, other_resident)
    submission_transition(submission=b, name="review", actor=kenko_editor)
    client = login(kenko_editor)
    url = reverse("admin:applications_submission_changelist")
    response = client.post(url, {"action": "action_review", "_selected_action": [a.pk, b.pk]}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("1 件を「審査中」にしました" in t for t in texts)
    assert any(b.reference in t and "できません" in t for t in texts)
    # reject needs a reason: an intermediate page first
    page = client.post(url, {"action": "action_reject", "_selected_action": [a.pk]})
    assert "理由（住民に送られます・必須）" in page.content.decode()
    client.post(
        url, {"action": "action_reject", "_selected_action": [a.pk], "apply": "1", "reason": "対象外です"}
    )
    a.refresh_from_db()
    assert a.status == S.REJECTED and a.status_reason == "対象外です"


def test_memo_and_assignee_saved_through_the_service(form, resident, kenko_editor, kenko_head):
    submission = submit(form, resident)
    response = login(kenko_editor).post(
        reverse("admin:applications_submission_change", args=[submission.pk]),
        {"memo": "窓口で本人確認済み", "assignee": kenko_head.pk, "_save": "保存"},
    )
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.memo == "窓口で本人確認済み" and submission.assignee == kenko_head
    assert AuditEntry.objects.filter(
        action="applications.submission.updated", object_id=str(submission.pk)
    ).exists()


def test_staff_only_fields_page(form, resident, kenko_editor):
    FormFieldFactory(form=form, kind=FieldKind.DATE, key="issued", label="交付日", staff_only=True)
    submission = submit(form, resident)
    url = reverse("admin:applications_submission_staff_fields", args=[submission.pk])
    client = login(kenko_editor)
    bad = client.post(url, {"issued": "令和8年2月30日"})
    assert "存在しない日付" in bad.content.decode()
    client.post(url, {"issued": "令和8年4月1日"})
    submission.refresh_from_db()
    assert submission.answers["issued"] == "2026-04-01"


def test_print_view(form, resident, kenko_viewer):
    submission = submit(form, resident)
    body = (
        login(kenko_viewer)
        .get(reverse("admin:applications_submission_print", args=[submission.pk]))
        .content.decode()
    )
    assert submission.reference in body and "山田 花子" in body and "出力日時 令和" in body


def test_export_xlsx_one_column_per_field(form, resident, other_resident, kenko_viewer):
    FormFieldFactory(form=form, kind=FieldKind.PHONE, key="tel", label="電話番号")
    submit(form, resident, answers={"name": '=HYPERLINK("x")', "note": "", "tel": "09011112222"})
    submit(form, other_resident)
    response = login(kenko_viewer).post(
        reverse("admin:applications_submission_changelist"),
        {"action": "export_xlsx", "_selected_action": list(Submission.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][-3:] == ("氏名", "備考", "電話番号")
    values = {r[-3] for r in rows[1:]}
    assert '\'=HYPERLINK("x")' in values  # formula escaped
    assert any(r[-1] == "090-1111-2222" for r in rows[1:])


def test_export_csv(form, resident, kenko_viewer):
    submit(form, resident)
    response = login(kenko_viewer).post(
        reverse("admin:applications_submission_changelist"),
        {"action": "export_csv", "_selected_action": list(Submission.objects.values_list("pk", flat=True))},
    )
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff受付番号,フォーム")
    assert "山田 花子" in text


def test_reconciliation_per_day_form_provider_and_unpaid(
    fee_form, resident, other_resident, somu_editor, kenko_editor
):
    paid = submit(fee_form, resident, payment_method="counter")
    submit(fee_form, other_resident, payment_method="counter")
    payment_record_counter(submission=paid, actor=somu_editor)
    url = reverse("admin:municipalities_payment_reconciliation")
    response = login(somu_editor).get(url)
    assert response.status_code == 200
    rows = response.context_data["rows"]
    assert [(r["description"], r["provider"], r["count"], r["amount"]) for r in rows] == [
        ("住民票の写しの請求", "counter", 1, 300)
    ]
    [unpaid] = response.context_data["unpaid"]
    assert (unpaid.status, unpaid.subject.status) == ("pending", S.AWAITING_PAYMENT)
    xlsx = login(somu_editor).get(url + "?format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["日別集計", "未払い"]
    assert list(book["日別集計"].values)[-1][-3:] == (300, 0, 300)
    # another department sees none of it
    other = login(kenko_editor).get(url)
    assert other.context_data["rows"] == [] and list(other.context_data["unpaid"]) == []


def test_reconciliation_bad_range_is_a_message(somu_editor, fee_form):
    response = login(somu_editor).get(
        reverse("admin:municipalities_payment_reconciliation") + "?start=2026-05-01&end=2026-04-01"
    )
    assert response.status_code == 200
    assert "終了日は開始日以降" in response.content.decode()


def test_form_actions_copy_and_close(form, kenko_editor):
    client = login(kenko_editor)
    url = reverse("admin:applications_applicationform_changelist")
    client.post(url, {"action": "copy_forms", "_selected_action": [form.pk]})
    client.post(url, {"action": "close_forms", "_selected_action": [form.pk]})
    form.refresh_from_db()
    assert form.closed_at is not None
    assert ApplicationForm.objects.filter(copied_from=form, is_published=False).count() == 1


def test_head_deletes_a_submission_without_payments(form, resident, kenko_head, kenko_editor):
    submission = submit(form, resident)
    assert (
        login(kenko_editor)
        .post(reverse("admin:applications_submission_delete", args=[submission.pk]), {"post": "yes"})
        .status_code
        == 403
    )
    login(kenko_head).post(
        reverse("admin:applications_submission_delete", args=[submission.pk]), {"post": "yes"}
    )
    assert not Submission.objects.filter(pk=submission.pk).exists()
    assert AuditEntry.objects.filter(action="applications.submission.deleted").exists()


def test_changelist_filters_other_department(kenko, somu, resident, somu_editor):
    simple_form(kenko)
    submission = submit(simple_form(kenko), resident)
    listed = (
        login(somu_editor)
        .get(reverse("admin:applications_submission_changelist"))
        .context_data["cl"]
        .result_list
    )
    assert submission not in list(listed)


def test_staff_only_file_field_is_refused(kenko, kenko_editor):
    data = {
        "department": kenko.pk,
        "title": "x",
        "fee": "0",
        **inline_management(total=1),
        "fields-0-position": "1",
        "fields-0-kind": FieldKind.FILE,
        "fields-0-label": "決裁書",
        "fields-0-staff_only": "on",
        "fields-0-max_file_mb": "5",
    }
    response = login(kenko_editor).post(reverse("admin:applications_applicationform_add"), data, follow=True)
    assert "ファイル添付は職員記入欄にできません" in response.content.decode()
    assert not ApplicationForm.objects.exists()


@pytest.mark.parametrize("model", ["applications_applicationform", "municipalities_payment"])
def test_other_changelists_have_flat_query_counts(model, fee_form, resident, other_resident, somu_editor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(somu_editor)
    url = reverse(f"admin:{model}_changelist")

    def add_paid_submission(who):
        payment_record_counter(submission=submit(fee_form, who, payment_method="counter"), actor=somu_editor)

    add_paid_submission(resident)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        add_paid_submission(other_resident)
        simple_form(fee_form.department)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert len(many) == len(few)


def test_counter_payment_button_on_the_submission_page(fee_form, resident, somu_editor):
    submission = submit(fee_form, resident, payment_method="counter")
    client = login(somu_editor)
    page = client.get(reverse("admin:applications_submission_change", args=[submission.pk])).content.decode()
    url = reverse("admin:applications_submission_transition", args=[submission.pk, "pay"])
    assert url in page and "窓口での支払いを記録" in page
    assert "領収番号" in client.get(url).content.decode()
    assert client.post(url, {"receipt_number": "R-7"}).status_code == 302
    submission.refresh_from_db()
    assert submission.status == S.RECEIVED
    assert submission.payments.get(status="paid").detail["receipt_number"] == "R-7"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_submission_export_writes_no_live_formula(form, town, kenko_viewer, fmt):
    # given: applicants whose LINE display names (and answers) start a formula
    for payload in FORMULA_PAYLOADS:
        submit(form, resident_in(town, display_name=payload), answers={"name": payload, "note": ""})
    # when
    response = login(kenko_viewer).post(
        reverse("admin:applications_submission_changelist"),
        {
            "action": f"export_{fmt}",
            "_selected_action": list(Submission.objects.values_list("pk", flat=True)),
        },
    )
    # then
    assert response.status_code == 200
    assert_inert(export_cells(response.content, fmt))
