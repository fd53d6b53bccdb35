"""The chatbot console: FAQ import (department from the form), 5374 upload, unanswered → FAQ,
the talk hand-off page, and changelist query counts."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatbot.models import ChatState, Faq, GarbageItem, StaffReply, UnansweredQuestion
from municipalities.line.talklog import talk_log_inbound
from municipalities.models import AuditEntry
from tests.exports import FORMULA_PAYLOADS, assert_inert, export_cells

from .conftest import KANAZAWA
from .factories import FaqFactory


@pytest.fixture
def as_user(db):
    def login(user) -> Client:
        client = Client()
        client.force_login(user, backend="municipalities.auth.RoleBackend")
        return client

    return login


def test_faq_csv_import_puts_rows_in_the_chosen_department(as_user, kenko_editor, kenko, somu):
    client = as_user(kenko_editor)
    csv_text = "質問,言い換え,回答,ボタンの文言,ボタンのリンク先,公開\n健診の日程,健診はいつ,6月です,,,1\n"
    upload = SimpleUploadedFile("faq.csv", csv_text.encode("utf-8"), content_type="text/csv")
    url = reverse("admin:chatbot_faq_import")
    # the department choice offers only where the editor may import
    response = client.get(url)
    assert list(response.context["form"].fields["department"].queryset) == [kenko]
    response = client.post(
        url, {"import_file": upload, "format": "0", "department": kenko.pk, "resource": "0"}
    )
    assert response.status_code == 200, response.content[:500]
    assert response.context is not None and "result" in response.context, response.content.decode()[-3000:]
    assert response.context["confirm_form"] is not None, (
        [str(e) for r in response.context["result"].rows for e in r.errors]
        + [str(r.validation_error) for r in response.context["result"].invalid_rows]
        + [str(e.error) for e in response.context["result"].base_errors]
    )
    confirm = response.context["confirm_form"]
    data = {name: confirm.initial.get(name, "") for name in confirm.fields}
    response = client.post(reverse("admin:chatbot_faq_process_import"), data)
    assert response.status_code == 302
    faq = Faq.objects.get()
    assert (faq.department, faq.question, faq.variant_list(), faq.is_published) == (
        kenko,
        "健診の日程",
        ["健診はいつ"],
        True,
    )
    assert AuditEntry.objects.filter(action="chatbot.faq.created").count() == 1
    # another department cannot be forced in
    upload = SimpleUploadedFile("faq.csv", csv_text.encode("utf-8"), content_type="text/csv")
    response = client.post(
        url, {"import_file": upload, "format": "0", "department": somu.pk, "resource": "0"}
    )
    assert "department" in response.context["form"].errors


def test_faq_export_lists_only_visible_entries(as_user, kenko_editor, kenko, somu):
    FaqFactory(department=kenko, question="健康の質問")
    FaqFactory(department=somu, question="総務の質問")
    response = as_user(kenko_editor).post(
        reverse("admin:chatbot_faq_export"),
        {
            "format": "0",
            "resource": "0",
            "faqresource_question": "on",
            "faqresource_answer": "on",
            "faqresource_department": "on",
        },
    )
    body = response.content.decode("utf-8-sig")
    assert "健康の質問" in body and "総務の質問" not in body


def test_5374_upload_from_the_admin(as_user, town_admin, town):
    client = as_user(town_admin)
    files = {
        name.removesuffix(".csv"): SimpleUploadedFile(name, (KANAZAWA / name).read_bytes())
        for name in ["area_days.csv", "target.csv", "center.csv", "description.csv", "remarks.csv"]
    }
    response = client.post(reverse("admin:chatbot_garbage_upload"), {"municipality": town.pk, **files})
    assert response.status_code == 302
    assert GarbageItem.objects.filter(municipality=town).count() == 4
    # a bad file: problems listed per row, nothing changed
    bad = {
        "area_days": SimpleUploadedFile("area_days.csv", "地名,燃やすごみ\n東町,毎日\n".encode()),
        "target": SimpleUploadedFile("target.csv", b"label,name\nx,y\n"),
    }
    response = client.post(reverse("admin:chatbot_garbage_upload"), {"municipality": town.pk, **bad})
    assert response.status_code == 200
    assert any("area_days.csv 2行目" in p for p in response.context["problems"])
    assert GarbageItem.objects.filter(municipality=town).count() == 4


def test_viewer_cannot_upload(as_user, kenko_viewer):
    assert as_user(kenko_viewer).get(reverse("admin:chatbot_garbage_upload")).status_code == 403


def test_unanswered_question_becomes_new_faq_or_variant(as_user, kenko_editor, kenko, town):
    q1 = UnansweredQuestion.objects.create(
        municipality=town, normalized="a", text="検診の費用は？", count=3, last_asked_at=timezone.now()
    )
    q2 = UnansweredQuestion.objects.create(
        municipality=town, normalized="b", text="健診いくら", last_asked_at=timezone.now()
    )
    client = as_user(kenko_editor)
    url = reverse("admin:chatbot_unansweredquestion_resolve", args=[q1.pk])
    response = client.post(url, {"mode": "new", "department": kenko.pk, "answer": "500 円です。"})
    assert response.status_code == 302
    faq = Faq.objects.get(question="検診の費用は？")
    assert faq.answer == "500 円です。"
    response = client.post(
        reverse("admin:chatbot_unansweredquestion_resolve", args=[q2.pk]), {"mode": "variant", "faq": faq.pk}
    )
    assert response.status_code == 302
    faq.refresh_from_db()
    assert faq.variant_list() == ["健診いくら"]
    assert set(UnansweredQuestion.objects.values_list("status", flat=True)) == {"resolved"}


def test_talk_page_shows_the_talk_and_sends_a_reply(
    as_user, kenko_editor, kenko_viewer, resident, django_capture_on_commit_callbacks
):
    talk_log_inbound(resident=resident, kind="text", text="ごみ袋はどこで買えますか", payload={})
    url = reverse("admin:chatbot_talkthread_change", args=[resident.pk])
    response = as_user(kenko_editor).get(url)
    assert "ごみ袋はどこで買えますか" in response.content.decode()
    assert response.context["may_reply"] is True
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(kenko_editor).post(
            reverse("admin:chatbot_talkthread_reply", args=[resident.pk]),
            {"text": "町内のスーパーで買えます。"},
        )
    assert response.status_code == 302
    assert StaffReply.objects.get().sent_at is not None
    # staff hand the talk back to the bot early
    response = as_user(kenko_editor).post(reverse("admin:chatbot_talkthread_resume", args=[resident.pk]))
    assert response.status_code == 302
    assert ChatState.objects.get(resident=resident).silenced_until is None
    assert AuditEntry.objects.filter(action="chatbot.chatstate.handoff_ended").count() == 1
    assert (
        as_user(kenko_viewer).post(reverse("admin:chatbot_talkthread_resume", args=[resident.pk])).status_code
        == 403
    )
    # a viewer sees the talk but cannot reply
    assert as_user(kenko_viewer).get(url).context["may_reply"] is False
    assert (
        as_user(kenko_viewer)
        .post(reverse("admin:chatbot_talkthread_reply", args=[resident.pk]), {"text": "x"})
        .status_code
        == 403
    )


@pytest.mark.parametrize(
    "name",
    [
        "faq",
        "keywordrule",
        "unansweredquestion",
        "garbageitem",
        "garbagecategory",
        "talkthread",
        "areacalendar",
        "centerholiday",
    ],
)
def test_changelists_do_not_query_per_row(
    as_user, superuser, kenko, resident, name, django_assert_max_num_queries
):
    from chatbot.garbage_import import files_from_directory
    from chatbot.services import garbage_import

    garbage_import(municipality=kenko.municipality, files=files_from_directory(KANAZAWA))
    for i in range(5):
        FaqFactory(department=kenko)
        UnansweredQuestion.objects.create(
            municipality=kenko.municipality, normalized=f"n{i}", text=f"q{i}", last_asked_at=timezone.now()
        )
    client = as_user(superuser)
    client.get(reverse(f"admin:chatbot_{name}_changelist"))  # warm caches
    with django_assert_max_num_queries(12):
        assert client.get(reverse(f"admin:chatbot_{name}_changelist")).status_code == 200


FAQ_CSV = "質問,言い換え,回答,ボタンの文言,ボタンのリンク先,公開\n盗まれた質問,,答え,,,1\n"
FOLDER_STORAGE = "municipalities.resources.FolderImportStorage"  # the storage without Redis


def _confirm_post(client: Client, kenko, name: str):
    return client.post(
        reverse("admin:chatbot_faq_process_import"),
        {
            "import_file_name": name,
            "original_file_name": "faq.csv",
            "format": "0",
            "resource": "0",
            "department": kenko.pk,
        },
    )


@pytest.mark.parametrize("where", ["temp folder", "upload folder"])
def test_faq_confirm_refuses_a_file_not_issued_to_this_session(as_user, kenko_editor, kenko, settings, where):
    # given: without Redis, a file sits in the temp folder (someone else's upload, or any file)
    import os
    import tempfile
    import uuid

    from municipalities.resources import FolderImportStorage

    settings.IMPORT_EXPORT_TMP_STORAGE_CLASS = FOLDER_STORAGE
    if where == "temp folder":
        name = f"victim-{uuid.uuid4().hex}.csv"
        path = os.path.join(tempfile.gettempdir(), name)
    else:
        name = uuid.uuid4().hex
        path = os.path.join(FolderImportStorage.folder(), name)
    with open(path, "wb") as fh:
        fh.write(FAQ_CSV.encode("utf-8"))
    try:
        # when: a user with import rights names it in the confirm form
        response = _confirm_post(as_user(kenko_editor), kenko, name)
        # then: nothing is imported and nothing is deleted
        assert response.status_code in (200, 302)
        assert not Faq.objects.exists()
        assert os.path.exists(path)
    finally:
        if os.path.exists(path):
            os.remove(path)


def test_faq_import_preview_then_confirm_works_with_the_folder_storage(
    as_user, kenko_editor, kenko, settings
):
    # given
    settings.IMPORT_EXPORT_TMP_STORAGE_CLASS = FOLDER_STORAGE
    client = as_user(kenko_editor)
    upload = SimpleUploadedFile("faq.csv", FAQ_CSV.encode("utf-8"), content_type="text/csv")
    # when: preview, then the confirm form as the page gives it
    preview = client.post(
        reverse("admin:chatbot_faq_import"),
        {"import_file": upload, "format": "0", "department": kenko.pk, "resource": "0"},
    )
    confirm = preview.context["confirm_form"]
    data = {name: confirm.initial.get(name, "") for name in confirm.fields}
    first = client.post(reverse("admin:chatbot_faq_process_import"), data)
    again = client.post(reverse("admin:chatbot_faq_process_import"), data)
    # then: imported once; the spent name is refused the second time
    assert first.status_code == 302 and again.status_code == 302
    assert Faq.objects.filter(department=kenko).count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        "言い換え,回答\n健診はいつ,6月です\n",  # no 質問 column: an error for the file as a whole
        "質問,言い換え,回答,ボタンの文言,ボタンのリンク先,公開\n,,,,,1\n",  # a row without a question
    ],
)
def test_faq_import_errors_are_shown_in_japanese_without_a_traceback(as_user, kenko_editor, kenko, bad):
    # given: a file that cannot be imported
    client = as_user(kenko_editor)
    upload = SimpleUploadedFile("faq.csv", bad.encode("utf-8"), content_type="text/csv")
    # when
    response = client.post(
        reverse("admin:chatbot_faq_import"),
        {"import_file": upload, "format": "0", "department": kenko.pk, "resource": "0"},
    )
    # then: the staff member reads what is wrong, not Python
    page = response.content.decode()
    result = response.context["result"]
    assert response.status_code == 200 and (result.has_errors() or result.has_validation_errors())
    assert "Traceback" not in page and "most recent call last" not in page
    assert "取り込めません" in page or "空ではいけません" in page, page[-3000:]


@pytest.mark.parametrize("fmt", ["0", "1"])  # the export formats offered: CSV, XLSX
def test_faq_export_writes_no_live_formula(as_user, kenko_editor, kenko, fmt):
    # given: FAQ entries whose question starts a formula
    for payload in FORMULA_PAYLOADS:
        FaqFactory(department=kenko, question=payload, answer=payload)
    # when
    response = as_user(kenko_editor).post(
        reverse("admin:chatbot_faq_export"),
        {"format": fmt, "resource": "0", "faqresource_question": "on", "faqresource_answer": "on"},
    )
    # then
    assert response.status_code == 200
    assert_inert(export_cells(response.content, "csv" if fmt == "0" else "xlsx"))
