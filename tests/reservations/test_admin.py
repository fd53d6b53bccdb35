import io
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from municipalities.models import AuditEntry, Role
from municipalities.services import staff_role_grant
from reservations.models import Reservation, ReservationStatus, Slot, SlotImportJob
from reservations.selectors import callers_for_department
from reservations.services import ReservationError, reservation_book, slot_import_job_run
from reservations.tasks import slot_import_job_apply_task
from tests.conftest import make_staff
from tests.exports import FORMULA_PAYLOADS, assert_inert, export_cells
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory

DATA = Path(__file__).parent / "data"
BACKEND = "municipalities.auth.RoleBackend"


@pytest.fixture
def staff_client(kenko_editor) -> Client:
    client = Client()
    client.force_login(kenko_editor, backend=BACKEND)
    return client


@pytest.fixture
def booked_slot(slot, town):
    slot.menu.questions = "アレルギー"
    slot.menu.save()
    reservation_book(slot=slot, resident=resident_in(town, display_name="山田 花子"), answers={"q0": "卵"})
    return slot


def test_day_view_shows_reserved_of_capacity(staff_client, booked_slot):
    day = booked_slot.starts_at.astimezone().date()
    response = staff_client.get(
        reverse("admin:reservations_slot_day"), {"menu": booked_slot.menu_id, "date": day.isoformat()}
    )
    assert response.status_code == 200
    assert "1 / 5" in response.content.decode()


def test_day_view_hides_other_departments(somu_editor, booked_slot):
    client = Client()
    client.force_login(somu_editor, backend=BACKEND)
    day = booked_slot.starts_at.astimezone().date()
    response = client.get(reverse("admin:reservations_slot_day"), {"date": day.isoformat()})
    assert response.status_code == 200
    assert "1 / 5" not in response.content.decode()
    assert client.get(reverse("admin:reservations_slot_roster", args=[booked_slot.pk])).status_code == 404


def test_roster_attendance_and_cancel_on_behalf(staff_client, booked_slot, kenko_editor):
    url = reverse("admin:reservations_slot_roster", args=[booked_slot.pk])
    r = Reservation.objects.get(slot=booked_slot)
    assert "山田 花子" in staff_client.get(url).content.decode()
    staff_client.post(url, {"reservation": r.pk, "op": "attended"})
    r.refresh_from_db()
    assert r.status == ReservationStatus.ATTENDED
    staff_client.post(url, {"reservation": r.pk, "op": "booked"})
    staff_client.post(url, {"reservation": r.pk, "op": "cancel"})
    r.refresh_from_db()
    assert r.status == ReservationStatus.CANCELLED and r.cancelled_by == kenko_editor


def test_roster_exports_csv_with_bom_and_xlsx(staff_client, booked_slot):
    csv_response = staff_client.get(
        reverse("admin:reservations_slot_roster_export", args=[booked_slot.pk, "csv"])
    )
    assert csv_response.content.startswith(b"\xef\xbb\xbf")
    text = csv_response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith(
        "予約番号,氏名,フリガナ,電話番号,予約した住民との続柄,生年月日,当日の年齢,状態"
    )
    assert "山田 花子" in text and "アレルギー: 卵" in text
    xlsx = staff_client.get(reverse("admin:reservations_slot_roster_export", args=[booked_slot.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.cell(1, 1).value == "予約番号" and sheet.cell(2, 2).value == "山田 花子"


def test_phone_booking_form_books_with_normalised_contact(staff_client, slot):
    url = reverse("admin:reservations_slot_phone_booking")
    response = staff_client.post(
        url,
        {
            "menu": slot.menu_id,
            "slot": slot.pk,
            "name": "鈴木 一郎",
            "kana": "すずき いちろう",
            "phone": "090-1111-2222",
        },
    )
    assert response.status_code == 302
    r = Reservation.objects.get(slot=slot)
    assert (r.kana, r.phone, r.resident_id) == ("スズキ イチロウ", "09011112222", None)


def test_phone_booking_full_slot_shows_the_error(staff_client, menu, town):
    slot = SlotFactory(menu=menu, capacity=1)
    reservation_book(slot=slot, resident=resident_in(town))
    response = staff_client.post(
        reverse("admin:reservations_slot_phone_booking"),
        {"menu": menu.pk, "slot": slot.pk, "name": "鈴木", "phone": "0311112222"},
    )
    assert response.status_code == 200
    assert "満席" in response.content.decode()
    assert Reservation.objects.filter(slot=slot).count() == 1


def test_phone_booking_for_an_existing_resident_found_by_search(staff_client, slot, town):
    someone = resident_in(town, display_name="高橋 ふみ")
    url = reverse("admin:reservations_slot_phone_booking")
    found = staff_client.get(url, {"menu": slot.menu_id, "callers": "高橋"}).json()["results"]
    assert [(r["name"], r["resident"], r["kind"]) for r in found] == [("高橋 ふみ", str(someone.pk), "LINE")]
    staff_client.post(url, {"menu": slot.menu_id, "slot": slot.pk, "resident": someone.pk})
    assert Reservation.objects.get(slot=slot).resident == someone


def test_viewer_cannot_book_on_behalf(kenko_viewer, slot):
    client = Client()
    client.force_login(kenko_viewer, backend=BACKEND)
    response = client.post(
        reverse("admin:reservations_slot_phone_booking"),
        {"menu": slot.menu_id, "slot": slot.pk, "name": "a", "phone": "0311112222"},
    )
    assert response.status_code == 403
    assert not Reservation.objects.exists()


def test_upload_preview_then_confirm(staff_client, kenko):
    MenuFactory(department=kenko, name="乳幼児歯科健診")
    url = reverse("admin:reservations_slot_upload")
    with open(DATA / "slots_forms_cp932.csv", "rb") as fh:
        response = staff_client.post(url, {"file": fh, "department": kenko.pk})
    job = SlotImportJob.objects.get()
    assert response["Location"] == reverse("admin:reservations_slot_upload_job", args=[job.pk])
    page = staff_client.get(response["Location"]).content.decode()
    assert "新しく作る枠" in page and Slot.objects.count() == 0
    staff_client.post(response["Location"])
    job.refresh_from_db()
    assert (job.status, job.created_count, Slot.objects.count()) == ("done", 8, 8)


def test_upload_with_a_bad_row_lists_the_error_and_imports_nothing(staff_client, kenko):
    MenuFactory(department=kenko, name="乳幼児歯科健診")
    with open(DATA / "slots_one_bad_row.csv", "rb") as fh:
        response = staff_client.post(
            reverse("admin:reservations_slot_upload"), {"file": fh, "department": kenko.pk}
        )
    page = staff_client.get(response["Location"]).content.decode()
    assert "5 行目" in page and "存在しない日付" in page
    assert "件を取り込む" not in page
    assert Slot.objects.count() == 0


def test_upload_into_another_department_is_refused(staff_client, somu):
    with open(DATA / "slots_forms_utf8.csv", "rb") as fh:
        response = staff_client.post(
            reverse("admin:reservations_slot_upload"), {"file": fh, "department": somu.pk}
        )
    assert response.status_code == 200  # the form refuses the choice
    assert not SlotImportJob.objects.exists()


def test_generate_from_pattern(staff_client, menu):
    response = staff_client.post(
        reverse("admin:reservations_slot_generate"),
        {
            "menu": menu.pk,
            "venue": "保健センター",
            "date_from": "2026-12-07",
            "date_to": "2026-12-11",
            "weekdays": ["0", "2", "4"],
            "times": "9:00-9:30\n１０：００〜１０：３０",
            "capacity": "6",
            "skip_holidays": "on",
        },
    )
    assert response.status_code == 302
    assert Slot.objects.filter(menu=menu, capacity=6).count() == 6


@pytest.mark.parametrize("model", ["slot", "reservation", "menu"])
def test_changelists_use_a_fixed_number_of_queries(
    staff_client, menu, town, model, django_assert_max_num_queries
):
    for _ in range(3):
        reservation_book(
            slot=SlotFactory(menu=MenuFactory(department=menu.department)), resident=resident_in(town)
        )
    url = reverse(f"admin:reservations_{model}_changelist")
    with django_assert_max_num_queries(20):
        assert staff_client.get(url).status_code == 200


def test_a_large_file_is_checked_and_imported_in_celery_with_progress(
    staff_client, kenko, django_capture_on_commit_callbacks
):
    # given: 2,500 rows (over the 2,000-row threshold)
    MenuFactory(department=kenko, name="乳幼児歯科健診")
    lines = ["サービス,会場,日付,開始,終了,定員"]
    for i in range(2500):
        day, slot = divmod(i, 20)
        lines.append(
            f"乳幼児歯科健診,保健センター,R9.{1 + day // 28}.{1 + day % 28},{9 + slot // 4}:{(slot % 4) * 15:02d},{9 + (slot + 1) // 4}:{((slot + 1) % 4) * 15:02d},5"
        )
    upload = io.BytesIO("\n".join(lines).encode("cp932"))
    upload.name = "big.csv"
    # when: uploaded (the check task runs on commit)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:reservations_slot_upload"), {"file": upload, "department": kenko.pk}
        )
    job = SlotImportJob.objects.get()
    progress = staff_client.get(response["Location"], {"format": "json"}).json()
    # then
    assert progress == {
        "status": "checked",
        "percent": 100,
        "processed": 2500,
        "total": 2500,
        "label": "確認済",
    }
    # the file has rows on 1/1–1/3 and on holidays: staff confirm them
    assert "祝日・年末年始（12/29〜1/3）の枠が" in staff_client.get(response["Location"]).content.decode()
    staff_client.post(response["Location"], {"confirm_closed_days": "1"})
    job.refresh_from_db()
    assert (job.status, job.created_count) == ("done", 2500)
    assert Slot.objects.count() == 2500


def test_phone_booking_finds_a_previous_caller_by_phone(staff_client, menu, kenko_editor):
    # given: 田中さん phoned before
    old = SlotFactory(menu=menu)
    reservation_book(slot=old, actor=kenko_editor, name="田中 トメ", kana="タナカ トメ", phone="0265123456")
    new = SlotFactory(menu=menu)
    url = reverse("admin:reservations_slot_phone_booking")
    # when: staff type part of the number
    found = staff_client.get(url, {"menu": menu.pk, "callers": "0265-12"}).json()["results"]
    # then: the caller is offered with what fills the form, and the booking they already hold
    assert [(r["name"], r["kana"], r["phone"]) for r in found] == [("田中 トメ", "タナカ トメ", "0265123456")]
    assert "予約があります" in found[0]["warning"] and found[0]["phone_display"] == "0265-12-3456"
    prefilled = staff_client.get(
        url,
        {"menu": menu.pk, "slot": new.pk, "name": "田中 トメ", "kana": "タナカ トメ", "phone": "0265123456"},
    )
    assert 'value="0265123456"' in prefilled.content.decode()


def test_reservation_search_by_code_as_read_on_the_phone(staff_client, slot, kenko_editor):
    r = reservation_book(slot=slot, actor=kenko_editor, name="山本", kana="やまもと", phone="0312345678")
    spoken = (
        r.code.replace("-", "")
        .lower()
        .translate(
            str.maketrans(
                "abcdefghijklmnopqrstuvwxyz0123456789",
                "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ０１２３４５６７８９",
            )
        )
    )
    for term in (spoken, "ヤマモト", "03-1234"):
        response = staff_client.get(reverse("admin:reservations_reservation_changelist"), {"q": term})
        assert [x.pk for x in response.context_data["cl"].result_list] == [r.pk], term


def test_close_and_reopen_slots_with_admin_actions(staff_client, menu):
    a, b = SlotFactory(menu=menu), SlotFactory(menu=menu)
    url = reverse("admin:reservations_slot_changelist")
    staff_client.post(url, {"action": "close_slots", "_selected_action": [a.pk, b.pk]})
    assert list(Slot.objects.filter(pk__in=[a.pk, b.pk]).values_list("is_open", flat=True)) == [False, False]
    staff_client.post(url, {"action": "open_slots", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert a.is_open


def _caller_search(user, slot, query):
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client.get(
        reverse("admin:reservations_slot_phone_booking"), {"menu": slot.menu_id, "callers": query}
    )


def test_phone_booking_offers_only_callers_of_the_slots_department(
    menu, somu, kenko_editor, somu_editor, kenko_viewer
):
    # given: 田中さん phoned 健康福祉課 and 鈴木さん phoned 総務課 only (same town, same prefix)
    reservation_book(slot=SlotFactory(menu=menu), actor=kenko_editor, name="田中 トメ", phone="0265111111")
    somu_menu = MenuFactory(department=somu, name="住民相談")
    reservation_book(
        slot=SlotFactory(menu=somu_menu), actor=somu_editor, name="鈴木 ハナ", phone="0265222222"
    )
    kenko_slot, somu_slot = SlotFactory(menu=menu), SlotFactory(menu=somu_menu)
    # when: each department searches by the shared prefix from a slot of its own
    kenko_page = _caller_search(kenko_editor, kenko_slot, "0265").content.decode()
    somu_page = _caller_search(somu_editor, somu_slot, "0265").content.decode()
    # then: each sees its own caller only
    assert "田中 トメ" in kenko_page and "鈴木 ハナ" not in kenko_page
    assert "鈴木 ハナ" in somu_page and "田中 トメ" not in somu_page
    # and: a 総務課 editor naming a 健康福祉課 slot, or a viewer, gets no caller at all
    assert "田中 トメ" not in _caller_search(somu_editor, kenko_slot, "0265").content.decode()
    assert _caller_search(kenko_viewer, kenko_slot, "0265").status_code == 403


def test_previous_callers_selector_needs_the_right_to_book_in_the_department(
    menu, kenko, somu, kenko_editor, town
):
    # given: a caller of 健康福祉課, and a user who is 編集者 in 総務課 but only 閲覧者 in 健康福祉課
    reservation_book(slot=SlotFactory(menu=menu), actor=kenko_editor, name="田中 トメ", phone="0265111111")
    both = make_staff("both", town, Role.EDITOR, somu)
    staff_role_grant(user=both, role=Role.VIEWER, department=kenko, actor=None)
    # when / then: the selector answers the booker of 健康福祉課, and nobody else
    assert [c["name"] for c in callers_for_department(department=kenko, user=kenko_editor, query="0265")] == [
        "田中 トメ"
    ]
    assert callers_for_department(department=kenko, user=both, query="0265") == []
    assert callers_for_department(department=somu, user=both, query="0265") == []


@pytest.fixture
def checked_kenko_job(staff_client, kenko) -> SlotImportJob:
    MenuFactory(department=kenko, name="乳幼児歯科健診")
    with open(DATA / "slots_forms_cp932.csv", "rb") as fh:
        staff_client.post(reverse("admin:reservations_slot_upload"), {"file": fh, "department": kenko.pk})
    job = SlotImportJob.objects.get()
    assert job.status == "checked"
    return job


def test_a_viewer_of_the_jobs_department_cannot_commit_it_with_import_rights_elsewhere(
    checked_kenko_job, kenko, somu, town
):
    # given: 編集者 of 総務課 (may import slots there) and only 閲覧者 of 健康福祉課
    both = make_staff("both", town, Role.EDITOR, somu)
    staff_role_grant(user=both, role=Role.VIEWER, department=kenko, actor=None)
    client = Client()
    client.force_login(both, backend=BACKEND)
    url = reverse("admin:reservations_slot_upload_job", args=[checked_kenko_job.pk])
    # when: he confirms the 健康福祉課 job, or looks at its preview or progress
    commit = client.post(url)
    preview = client.get(url)
    progress = client.get(url, {"format": "json"})
    # then: refused at every step, and nothing is imported
    assert (commit.status_code, preview.status_code, progress.status_code) == (404, 404, 404)
    checked_kenko_job.refresh_from_db()
    assert checked_kenko_job.status == "checked" and Slot.objects.count() == 0
    upload_page = client.get(reverse("admin:reservations_slot_upload")).content.decode()
    assert checked_kenko_job.file_name not in upload_page


def test_the_import_job_service_checks_the_actor_in_the_jobs_department(checked_kenko_job, kenko, somu, town):
    # given
    both = make_staff("both", town, Role.EDITOR, somu)
    staff_role_grant(user=both, role=Role.VIEWER, department=kenko, actor=None)
    # when / then: the service itself refuses, with the app's error in Japanese
    with pytest.raises(ReservationError) as refused:
        slot_import_job_run(job=checked_kenko_job, commit=True, actor=both)
    assert refused.value.message == "この課の枠を取り込む権限がありません。"
    assert Slot.objects.count() == 0


def test_a_large_import_runs_in_celery_as_the_staff_member_who_confirmed_it(
    checked_kenko_job, kenko, somu, town, monkeypatch
):
    # given: the job counts as large, so confirming it hands it to the Celery task
    monkeypatch.setattr("reservations.admin_views.ASYNC_THRESHOLD_ROWS", 0)
    editor = make_staff("kenko_editor2", town, Role.EDITOR, kenko)
    client = Client()
    client.force_login(editor, backend=BACKEND)
    # when
    client.post(reverse("admin:reservations_slot_upload_job", args=[checked_kenko_job.pk]))
    # then: imported, and audited as the editor, not as the uploader
    checked_kenko_job.refresh_from_db()
    assert checked_kenko_job.status == "done" and Slot.objects.count() > 0
    assert AuditEntry.objects.filter(action__startswith="reservations.slot", actor=editor).exists()


def test_the_import_task_refuses_an_actor_without_import_rights_in_the_jobs_department(
    checked_kenko_job, kenko, somu, town
):
    # given: the role was revoked between the confirm and the task: he is now only 閲覧者 here
    both = make_staff("both", town, Role.EDITOR, somu)
    staff_role_grant(user=both, role=Role.VIEWER, department=kenko, actor=None)
    # when
    status = slot_import_job_apply_task(checked_kenko_job.pk, both.pk)
    # then
    assert status == "checked" and Slot.objects.count() == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_roster_export_writes_no_live_formula(staff_client, menu, town, fmt):
    # given: residents whose LINE display names start a formula
    slot = SlotFactory(menu=menu, capacity=len(FORMULA_PAYLOADS))
    for payload in FORMULA_PAYLOADS:
        reservation_book(slot=slot, resident=resident_in(town, display_name=payload))
    # when
    response = staff_client.get(reverse("admin:reservations_slot_roster_export", args=[slot.pk, fmt]))
    # then
    assert response.status_code == 200
    assert_inert(export_cells(response.content, fmt))
